/**
 * Attribute clean-up on the way through the bridge, so spans from the edge read like spans from
 * the Node SDK: `url.scheme` without the colon that `URL.protocol` leaves, sizes as integers not
 * strings, query strings redacted from `url.full` (and `url.query`) when configured, and the
 * farm's `site.id` added from `server.address` through the site registry.
 */
import type { AnyValue, ExportRequest, KeyValue } from './otlp.ts';

export interface CleanOptions {
  redactQuery: boolean;
  /** Host → site id; undefined when no registry is configured. */
  siteOf?: (host: string) => string | undefined;
}

/** Attributes holding a byte size or count that senders sometimes send as strings. */
const SIZE_KEY = /(?:\.size|_content_length|\.body\.size|\.count)$/;
const DIGITS = /^\d{1,15}$/;
export const REDACTED = 'REDACTED';

function stringOf(v: AnyValue | undefined): string | undefined {
  return typeof v?.stringValue === 'string' ? v.stringValue : undefined;
}

function redactUrl(full: string): string {
  const q = full.indexOf('?');
  if (q < 0) return full;
  const hash = full.indexOf('#', q);
  return `${full.slice(0, q)}?${REDACTED}${hash < 0 ? '' : full.slice(hash)}`;
}

/** Cleans one attribute list in place; returns the site id it carries, if any. */
function cleanAttributes(attrs: KeyValue[], o: CleanOptions): { site?: string; host?: string } {
  let site: string | undefined;
  let host: string | undefined;
  for (const kv of attrs) {
    const s = stringOf(kv.value);
    if (s === undefined) continue;
    switch (kv.key) {
      case 'url.scheme':
        if (s.endsWith(':')) kv.value = { stringValue: s.slice(0, -1) };
        break;
      case 'url.full':
      case 'http.url':
        if (o.redactQuery) kv.value = { stringValue: redactUrl(s) };
        break;
      case 'url.query':
        if (o.redactQuery && s !== '') kv.value = { stringValue: REDACTED };
        break;
      case 'site.id':
        site = s;
        break;
      case 'server.address':
      case 'http.host':
        host = s;
        break;
      default:
        if (SIZE_KEY.test(kv.key) && DIGITS.test(s)) kv.value = { intValue: Number(s) };
    }
  }
  return { site, host };
}

/** Applies the clean-up to every resource and span of a request, in place. */
export function cleanRequest(req: ExportRequest, o: CleanOptions): void {
  for (const rs of req.resourceSpans ?? []) {
    const resource = rs.resource?.attributes ? cleanAttributes(rs.resource.attributes, o) : {};
    for (const ss of rs.scopeSpans ?? [])
      for (const span of ss.spans ?? []) {
        span.attributes ??= [];
        const own = cleanAttributes(span.attributes, o);
        if (own.site || resource.site || !o.siteOf) continue;
        const host = own.host ?? resource.host;
        const site = host === undefined ? undefined : o.siteOf(host);
        if (site) span.attributes.push({ key: 'site.id', value: { stringValue: site } });
      }
  }
}
