/**
 * The site registry: one document lists every site of the farm. This module is pure (no I/O) so
 * the edge worker, the routers, the purger and the infra generator all validate it the same way.
 */

/** Per-site cache and routing policy. Every key is optional in the file; defaults fill the rest. */
export interface SitePolicy {
  /** Seconds an HTML page stays fresh at the edge and in Varnish. */
  htmlTtl: number;
  /** Seconds a stale page may be served while one background refresh runs. */
  staleWhileRevalidate: number;
  /** Seconds a stale page may be served when the origin fails (5xx or timeout). */
  staleIfError: number;
  /** Seconds for 404 and 301/302 responses, which are cached only briefly. */
  shortTtl: number;
  /** `redirect`: aliases answer 301 to the canonical host; `serve`: aliases are served as is. */
  aliasMode: 'redirect' | 'serve';
  /** Whether `xmlrpc.php` is reachable at all (blocked at the edge when false). */
  xmlrpc: boolean;
  /** Whether anonymous `/wp-json/` GETs may be cached. */
  restApiCache: boolean;
  /** WooCommerce mode: cart, checkout and account pages and cart cookies bypass the cache. */
  woocommerce: boolean;
  /** Cache separate mobile and desktop variants. */
  deviceVariants: boolean;
  /** Serve the maintenance page (503 + Retry-After) instead of proxying. */
  maintenance: boolean;
  /** Cookie name prefixes that bypass the cache for this site in addition to the farm's families. */
  extraBypassCookies: string[];
}

/** One WordPress site of the farm. */
export interface Site {
  /** Stable identifier: `[a-z][a-z0-9-]*`, used for tag prefixes, stack names and metrics. */
  id: string;
  /** Canonical host name, lower case, no port. */
  host: string;
  /** Other host names of the site. */
  aliases: string[];
  /** Origin of the site's WordPress service, e.g. `http://wp-alpha_nginx:80`. */
  upstream: string;
  /** Name of the environment variable or Docker secret holding the site's webhook secret. */
  webhookSecretRef: string;
  policy: SitePolicy;
}

/** A validated registry, with the host index every consumer needs. */
export interface Registry {
  version: 1;
  sites: Site[];
  /** Every canonical host and alias, normalised, to its site. */
  byHost: Map<string, HostEntry>;
  /** Sites by id. */
  byId: Map<string, Site>;
}

export interface HostEntry {
  site: Site;
  /** True when the host is an alias rather than the canonical host. */
  alias: boolean;
}

/** One problem found in a registry, located precisely enough to fix it. */
export interface RegistryIssue {
  /** The file the registry came from (or `<inline>`). */
  file: string;
  /** The site's id, or its index when the id itself is unusable; empty for document-level issues. */
  site: string;
  /** The field's path inside the site, e.g. `aliases[1]` or `policy.htmlTtl`. */
  field: string;
  message: string;
}

/** Thrown when a registry does not validate; `issues` lists every problem, not just the first. */
export class RegistryError extends Error {
  readonly code = 'REGISTRY_INVALID';
  readonly issues: RegistryIssue[];
  constructor(issues: RegistryIssue[]) {
    super(
      `invalid site registry (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n` +
        issues.map((i) => `  ${formatIssue(i)}`).join('\n'),
    );
    this.name = 'RegistryError';
    this.issues = issues;
  }
}

/** `file: site "x" field "y": message`, the one format every consumer logs. */
export function formatIssue(i: RegistryIssue): string {
  const where = [i.site ? `site "${i.site}"` : '', i.field ? `field "${i.field}"` : '']
    .filter(Boolean)
    .join(' ');
  return `${i.file}: ${where ? `${where}: ` : ''}${i.message}`;
}

export const DEFAULT_POLICY: Readonly<SitePolicy> = Object.freeze({
  htmlTtl: 300,
  staleWhileRevalidate: 60,
  staleIfError: 86_400,
  shortTtl: 60,
  aliasMode: 'redirect',
  xmlrpc: false,
  restApiCache: false,
  woocommerce: false,
  deviceVariants: false,
  maintenance: false,
  extraBypassCookies: [],
} satisfies SitePolicy);

/** Upper bounds on the document, so a runaway generator cannot exhaust a consumer. */
export const REGISTRY_LIMITS = Object.freeze({ sites: 10_000, aliasesPerSite: 100, extraCookies: 50 });

const SITE_ID = /^[a-z][a-z0-9-]{0,62}$/;
const SECRET_REF = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;
const COOKIE_PREFIX = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Lower-cases a host and strips a trailing dot. Does not strip ports: a port is malformed here. */
export function normaliseHost(host: string): string {
  const h = host.trim().toLowerCase();
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

/** Returns why `host` is not a valid DNS host name, or undefined when it is. */
export function hostProblem(host: string): string | undefined {
  if (host.length === 0) return 'is empty';
  if (host.length > 253) return 'is longer than 253 characters';
  if (/[:/\s@?#]/.test(host)) return 'must be a bare host name (no scheme, port, path or spaces)';
  const labels = host.split('.');
  if (labels.length < 2 && host !== 'localhost') return 'must have at least two labels (e.g. example.com)';
  for (const label of labels) {
    if (!LABEL.test(label)) return `has an invalid label "${label}" (letters, digits and inner hyphens only)`;
  }
  if (/^\d+$/.test(labels[labels.length - 1] ?? '')) return 'must not be an IP address';
  return undefined;
}

/** Returns why `upstream` is not a usable origin URL, or undefined when it is. */
export function upstreamProblem(upstream: string): string | undefined {
  let url: URL;
  try {
    url = new URL(upstream);
  } catch {
    return `"${upstream}" is not a URL (expected e.g. http://wp-alpha_nginx:80)`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `scheme must be http or https`;
  if (url.username || url.password) return 'must not carry credentials';
  if (url.pathname !== '/' || url.search || url.hash) return 'must be an origin only (no path or query)';
  return undefined;
}

type Json = unknown;
const isObject = (v: Json): v is Record<string, Json> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const SITE_KEYS = new Set(['id', 'host', 'aliases', 'upstream', 'webhookSecretRef', 'policy']);
const POLICY_KEYS = Object.keys(DEFAULT_POLICY) as (keyof SitePolicy)[];

/**
 * Validates a parsed registry document and builds its host index.
 * @throws RegistryError listing every problem with file, site and field.
 * @example validateRegistry(YAML.parse(text), 'sites.yaml').byHost.get('alpha.farm.test')
 */
export function validateRegistry(doc: Json, file = '<inline>'): Registry {
  const issues: RegistryIssue[] = [];
  const problem = (site: string, field: string, message: string) =>
    issues.push({ file, site, field, message });

  if (!isObject(doc))
    throw new RegistryError([
      { file, site: '', field: '', message: 'must be a mapping with "version" and "sites"' },
    ]);
  for (const key of Object.keys(doc)) {
    if (!['version', 'defaults', 'sites'].includes(key))
      problem('', key, 'unknown top-level key (expected version, defaults, sites)');
  }
  if (doc.version !== 1) problem('', 'version', `must be 1 (got ${JSON.stringify(doc.version)})`);

  let defaults: SitePolicy = { ...DEFAULT_POLICY };
  if (doc.defaults !== undefined) {
    if (!isObject(doc.defaults) || Object.keys(doc.defaults).some((k) => k !== 'policy')) {
      problem('', 'defaults', 'must be a mapping with only "policy"');
    } else if (doc.defaults.policy !== undefined) {
      defaults = readPolicy(doc.defaults.policy, DEFAULT_POLICY, (f, m) => problem('', `defaults.${f}`, m));
    }
  }

  const rawSites = doc.sites;
  if (!Array.isArray(rawSites) || rawSites.length === 0) {
    problem('', 'sites', 'must be a non-empty list');
    throw new RegistryError(issues);
  }
  if (rawSites.length > REGISTRY_LIMITS.sites)
    problem('', 'sites', `has ${rawSites.length} entries (limit ${REGISTRY_LIMITS.sites})`);

  const sites: Site[] = [];
  const byHost = new Map<string, HostEntry>();
  const byId = new Map<string, Site>();
  const hostOwner = new Map<string, string>();

  rawSites.forEach((raw: Json, index: number) => {
    if (!isObject(raw)) {
      problem(`#${index}`, '', 'must be a mapping');
      return;
    }
    const label = typeof raw.id === 'string' && raw.id ? raw.id : `#${index}`;
    const at = (field: string, message: string) => problem(label, field, message);
    for (const key of Object.keys(raw))
      if (!SITE_KEYS.has(key)) at(key, `unknown key (expected one of ${[...SITE_KEYS].join(', ')})`);

    const id = raw.id;
    if (typeof id !== 'string' || !SITE_ID.test(id))
      at('id', 'must match [a-z][a-z0-9-]* (at most 63 characters)');
    else if (byId.has(id)) at('id', `duplicate id (also site #${sites.findIndex((s) => s.id === id)})`);

    const readHost = (value: Json, field: string): string | undefined => {
      if (typeof value !== 'string') {
        at(field, 'must be a host name string');
        return undefined;
      }
      const host = normaliseHost(value);
      const why = hostProblem(host);
      if (why) {
        at(field, `host "${value}" ${why}`);
        return undefined;
      }
      const owner = hostOwner.get(host);
      if (owner !== undefined) {
        at(field, `host "${host}" is already used by ${owner}`);
        return undefined;
      }
      hostOwner.set(host, `site "${label}" (${field})`);
      return host;
    };

    let host: string | undefined;
    if (raw.host === undefined) at('host', 'is required');
    else host = readHost(raw.host, 'host');
    const aliases: string[] = [];
    if (raw.aliases !== undefined) {
      if (!Array.isArray(raw.aliases)) at('aliases', 'must be a list of host names');
      else if (raw.aliases.length > REGISTRY_LIMITS.aliasesPerSite)
        at('aliases', `has more than ${REGISTRY_LIMITS.aliasesPerSite} entries`);
      else
        raw.aliases.forEach((a: Json, i: number) => {
          const h = readHost(a, `aliases[${i}]`);
          if (h) aliases.push(h);
        });
    }

    let upstream = '';
    if (raw.upstream === undefined || raw.upstream === '' || raw.upstream === null)
      at('upstream', 'is required (the WordPress service origin, e.g. http://wp-alpha_nginx:80)');
    else if (typeof raw.upstream !== 'string') at('upstream', 'must be a URL string');
    else {
      const why = upstreamProblem(raw.upstream);
      if (why) at('upstream', why);
      else upstream = new URL(raw.upstream).origin;
    }

    const ref = raw.webhookSecretRef;
    if (typeof ref !== 'string' || !SECRET_REF.test(ref))
      at(
        'webhookSecretRef',
        'is required: the name of the env var or Docker secret holding the webhook secret (never the secret itself)',
      );

    const policy =
      raw.policy === undefined
        ? { ...defaults }
        : readPolicy(raw.policy, defaults, (f, m) => at(`policy.${f}`, m));

    if (typeof id === 'string' && host) {
      const site: Site = {
        id,
        host,
        aliases,
        upstream,
        webhookSecretRef: typeof ref === 'string' ? ref : '',
        policy,
      };
      sites.push(site);
      byId.set(id, site);
      byHost.set(host, { site, alias: false });
      for (const a of aliases) byHost.set(a, { site, alias: true });
    }
  });

  if (issues.length > 0) throw new RegistryError(issues);
  return { version: 1, sites, byHost, byId };
}

function readPolicy(raw: Json, base: SitePolicy, at: (field: string, message: string) => void): SitePolicy {
  const policy: SitePolicy = { ...base, extraBypassCookies: [...base.extraBypassCookies] };
  if (!isObject(raw)) {
    at('', 'must be a mapping');
    return policy;
  }
  for (const [key, value] of Object.entries(raw)) {
    switch (key) {
      case 'htmlTtl':
      case 'staleWhileRevalidate':
      case 'staleIfError':
      case 'shortTtl':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 31_536_000)
          at(key, 'must be a whole number of seconds between 0 and 31536000');
        else policy[key] = value;
        break;
      case 'aliasMode':
        if (value !== 'redirect' && value !== 'serve') at(key, 'must be "redirect" or "serve"');
        else policy.aliasMode = value;
        break;
      case 'xmlrpc':
      case 'restApiCache':
      case 'woocommerce':
      case 'deviceVariants':
      case 'maintenance':
        if (typeof value !== 'boolean') at(key, 'must be true or false');
        else policy[key] = value;
        break;
      case 'extraBypassCookies':
        if (
          !Array.isArray(value) ||
          value.length > REGISTRY_LIMITS.extraCookies ||
          !value.every((c) => typeof c === 'string' && COOKIE_PREFIX.test(c))
        )
          at(key, `must be a list of at most ${REGISTRY_LIMITS.extraCookies} cookie-name prefixes`);
        else policy.extraBypassCookies = [...value];
        break;
      default:
        at(key, `unknown policy key (expected one of ${POLICY_KEYS.join(', ')})`);
    }
  }
  return policy;
}

/**
 * A request's Host (or `x-edge-host`) as the registry keys it: lower case, port and trailing dot
 * stripped; undefined for IP literals and anything that cannot be a host name.
 * @example normaliseRequestHost('WWW.Alpha.farm.test.:443') // 'www.alpha.farm.test'
 */
export function normaliseRequestHost(raw: string | null | undefined): string | undefined {
  if (!raw) return undefined;
  let host = raw.trim().toLowerCase();
  if (host.startsWith('[')) return undefined; // IPv6 literal: never a site
  const colon = host.indexOf(':');
  if (colon !== -1) host = host.slice(0, colon);
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.length === 0 || host.length > 253 || !/^[a-z0-9.-]+$/.test(host)) return undefined;
  if (/^[0-9.]+$/.test(host)) return undefined;
  return host;
}

/** Looks a request host up: normalised, port stripped. */
export function lookupHost(registry: Registry, rawHost: string | undefined | null): HostEntry | undefined {
  const host = normaliseRequestHost(rawHost);
  return host === undefined ? undefined : registry.byHost.get(host);
}
