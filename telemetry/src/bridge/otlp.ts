/**
 * OTLP trace data in and out of the bridge. Protobuf goes through the protobufjs code that
 * OpenTelemetry generated from the official opentelemetry-proto definitions (shipped in
 * @opentelemetry/otlp-transformer 0.57, installed under the alias `otlp-transformer-protos`; later
 * versions dropped it). JSON follows the OTLP/HTTP JSON mapping: hex trace and span ids, integer
 * enums, int64 as decimal strings or numbers, lowerCamelCase names; unknown fields are ignored.
 *
 * Both decoders produce the same model, which the protobuf encoder accepts as is: ids as bytes,
 * nanosecond times as decimal strings, numbers or Long.
 */
import { createRequire } from 'node:module';

/** An int64 as protobufjs hands it out: a Long object, a number, or a decimal string we wrote. */
export type Int64 = string | number | { toString(): string };

export interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: Int64;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: Uint8Array;
}
export interface KeyValue {
  key: string;
  value?: AnyValue;
}
export interface SpanEvent {
  timeUnixNano?: Int64;
  name?: string;
  attributes?: KeyValue[];
  droppedAttributesCount?: number;
}
export interface SpanLink {
  traceId: Uint8Array;
  spanId: Uint8Array;
  traceState?: string;
  attributes?: KeyValue[];
  droppedAttributesCount?: number;
  flags?: number;
}
export interface Span {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId?: Uint8Array;
  traceState?: string;
  flags?: number;
  name: string;
  kind?: number;
  startTimeUnixNano?: Int64;
  endTimeUnixNano?: Int64;
  attributes?: KeyValue[];
  droppedAttributesCount?: number;
  events?: SpanEvent[];
  droppedEventsCount?: number;
  links?: SpanLink[];
  droppedLinksCount?: number;
  status?: { code?: number; message?: string };
}
export interface ScopeSpans {
  scope?: { name?: string; version?: string; attributes?: KeyValue[]; droppedAttributesCount?: number };
  spans?: Span[];
  schemaUrl?: string;
}
export interface ResourceSpans {
  resource?: { attributes?: KeyValue[]; droppedAttributesCount?: number };
  scopeSpans?: ScopeSpans[];
  schemaUrl?: string;
}
export interface ExportRequest {
  resourceSpans?: ResourceSpans[];
}
export interface ExportResponse {
  partialSuccess?: { rejectedSpans?: Int64; errorMessage?: string };
}

interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}
interface GeneratedRoot {
  opentelemetry: {
    proto: {
      trace: { v1: { ResourceSpans: Codec<ResourceSpans> } };
      collector: {
        trace: {
          v1: {
            ExportTraceServiceRequest: Codec<ExportRequest>;
            ExportTraceServiceResponse: Codec<ExportResponse>;
          };
        };
      };
    };
  };
}

const root = createRequire(import.meta.url)(
  'otlp-transformer-protos/build/src/generated/root.js',
) as GeneratedRoot;
const v1 = root.opentelemetry.proto.collector.trace.v1;

/** The gRPC method the collector serves. */
export const TRACE_EXPORT_METHOD = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/** Thrown for input that is not valid OTLP; the message names the field (answered as 400). */
export class OtlpInputError extends Error {
  override name = 'OtlpInputError';
}

export const encodeRequest = (r: ExportRequest): Uint8Array =>
  v1.ExportTraceServiceRequest.encode(r).finish();
/** Decodes an encoded request without checks (our own batches, for the file sink and tests). */
export const decodeRequest = (b: Uint8Array): ExportRequest => v1.ExportTraceServiceRequest.decode(b);
export const encodeResponse = (r: ExportResponse): Uint8Array =>
  v1.ExportTraceServiceResponse.encode(r).finish();
export const decodeResponse = (b: Uint8Array): ExportResponse => v1.ExportTraceServiceResponse.decode(b);
export const encodeResourceSpans = (r: ResourceSpans): Uint8Array =>
  root.opentelemetry.proto.trace.v1.ResourceSpans.encode(r).finish();

/** Decodes a protobuf ExportTraceServiceRequest and checks it like JSON input. */
export function decodeProtobufRequest(bytes: Uint8Array): ExportRequest {
  let req: ExportRequest;
  try {
    req = v1.ExportTraceServiceRequest.decode(bytes);
  } catch (err) {
    throw new OtlpInputError(`not a protobuf ExportTraceServiceRequest: ${(err as Error).message}`);
  }
  for (const [i, rs] of (req.resourceSpans ?? []).entries())
    for (const [j, ss] of (rs.scopeSpans ?? []).entries())
      for (const [k, s] of (ss.spans ?? []).entries()) {
        const at = `resourceSpans[${i}].scopeSpans[${j}].spans[${k}]`;
        checkId(s.traceId, 16, `${at}.traceId`);
        checkId(s.spanId, 8, `${at}.spanId`);
        if (s.parentSpanId?.length && s.parentSpanId.length !== 8)
          throw new OtlpInputError(`${at}.parentSpanId: expected 8 bytes`);
      }
  return req;
}

function checkId(id: Uint8Array | undefined, bytes: number, at: string): void {
  if (!id || id.length !== bytes) throw new OtlpInputError(`${at}: expected ${bytes} bytes`);
  if (id.every((b) => b === 0)) throw new OtlpInputError(`${at}: all zero (invalid)`);
}

/** Number of spans in a request. */
export function countSpans(req: ExportRequest): number {
  let n = 0;
  for (const rs of req.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) n += ss.spans?.length ?? 0;
  return n;
}

// ---- JSON ---------------------------------------------------------------------------------------

type Json = Record<string, unknown>;
const HEX = /^[0-9a-fA-F]*$/;
const DECIMAL = /^\d{1,20}$/;
const INT64 = /^-?\d{1,20}$/;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function list(v: unknown, at: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new OtlpInputError(`${at}: expected an array`);
  return v;
}
function obj(v: unknown, at: string): Json {
  if (!isObject(v)) throw new OtlpInputError(`${at}: expected an object`);
  return v;
}
function optString(v: unknown, at: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new OtlpInputError(`${at}: expected a string`);
  return v;
}
function optUint(v: unknown, at: string, max = 0xffffffff): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)
    throw new OtlpInputError(`${at}: expected an integer 0..${max}`);
  return v;
}
function hexId(v: unknown, bytes: number, at: string, optional = false): Uint8Array | undefined {
  if ((v === undefined || v === null || v === '') && optional) return undefined;
  if (typeof v !== 'string' || v.length !== bytes * 2 || !HEX.test(v))
    throw new OtlpInputError(`${at}: expected ${bytes * 2} hex characters`);
  const id: Uint8Array = Buffer.from(v, 'hex');
  if (id.every((b) => b === 0)) throw new OtlpInputError(`${at}: all zero (invalid)`);
  return id;
}
function nanos(v: unknown, at: string): Int64 | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string' && DECIMAL.test(v)) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  throw new OtlpInputError(`${at}: expected nanoseconds as a decimal string or integer`);
}

function anyValue(v: unknown, at: string, depth = 0): AnyValue {
  if (depth > 8) throw new OtlpInputError(`${at}: nested more than 8 levels`);
  const o = obj(v, at);
  if ('stringValue' in o) return { stringValue: optString(o.stringValue, `${at}.stringValue`) ?? '' };
  if ('boolValue' in o) {
    if (typeof o.boolValue !== 'boolean') throw new OtlpInputError(`${at}.boolValue: expected a boolean`);
    return { boolValue: o.boolValue };
  }
  if ('intValue' in o) {
    const i = o.intValue;
    if (typeof i === 'number' && Number.isSafeInteger(i)) return { intValue: i };
    if (typeof i === 'string' && INT64.test(i)) return { intValue: i };
    throw new OtlpInputError(`${at}.intValue: expected an integer`);
  }
  if ('doubleValue' in o) {
    const d = o.doubleValue;
    if (typeof d === 'number') return { doubleValue: d };
    if (d === 'NaN' || d === 'Infinity' || d === '-Infinity') return { doubleValue: Number(d) };
    throw new OtlpInputError(`${at}.doubleValue: expected a number`);
  }
  if ('arrayValue' in o) {
    const values = list(obj(o.arrayValue, `${at}.arrayValue`).values, `${at}.arrayValue.values`);
    return {
      arrayValue: { values: values.map((x, i) => anyValue(x, `${at}.arrayValue.values[${i}]`, depth + 1)) },
    };
  }
  if ('kvlistValue' in o) {
    const values = list(obj(o.kvlistValue, `${at}.kvlistValue`).values, `${at}.kvlistValue.values`);
    return { kvlistValue: { values: keyValues(values, `${at}.kvlistValue.values`, depth + 1) } };
  }
  if ('bytesValue' in o) {
    const b = optString(o.bytesValue, `${at}.bytesValue`) ?? '';
    return { bytesValue: Buffer.from(b, 'base64') };
  }
  return {};
}

function keyValues(v: unknown, at: string, depth = 0): KeyValue[] {
  return list(v, at).map((kv, i) => {
    const o = obj(kv, `${at}[${i}]`);
    const key = optString(o.key, `${at}[${i}].key`);
    if (key === undefined) throw new OtlpInputError(`${at}[${i}].key: required`);
    return o.value === undefined || o.value === null
      ? { key }
      : { key, value: anyValue(o.value, `${at}[${i}].value`, depth) };
  });
}

function span(v: unknown, at: string): Span {
  const o = obj(v, at);
  const kind = optUint(o.kind, `${at}.kind`, 5);
  const status = o.status === undefined || o.status === null ? undefined : obj(o.status, `${at}.status`);
  return {
    traceId: hexId(o.traceId, 16, `${at}.traceId`) as Uint8Array,
    spanId: hexId(o.spanId, 8, `${at}.spanId`) as Uint8Array,
    parentSpanId: hexId(o.parentSpanId, 8, `${at}.parentSpanId`, true),
    traceState: optString(o.traceState, `${at}.traceState`),
    flags: optUint(o.flags, `${at}.flags`),
    name: optString(o.name, `${at}.name`) ?? '',
    kind,
    startTimeUnixNano: nanos(o.startTimeUnixNano, `${at}.startTimeUnixNano`),
    endTimeUnixNano: nanos(o.endTimeUnixNano, `${at}.endTimeUnixNano`),
    attributes: keyValues(o.attributes, `${at}.attributes`),
    droppedAttributesCount: optUint(o.droppedAttributesCount, `${at}.droppedAttributesCount`),
    events: list(o.events, `${at}.events`).map((e, i) => {
      const ev = obj(e, `${at}.events[${i}]`);
      return {
        timeUnixNano: nanos(ev.timeUnixNano, `${at}.events[${i}].timeUnixNano`),
        name: optString(ev.name, `${at}.events[${i}].name`),
        attributes: keyValues(ev.attributes, `${at}.events[${i}].attributes`),
        droppedAttributesCount: optUint(
          ev.droppedAttributesCount,
          `${at}.events[${i}].droppedAttributesCount`,
        ),
      };
    }),
    droppedEventsCount: optUint(o.droppedEventsCount, `${at}.droppedEventsCount`),
    links: list(o.links, `${at}.links`).map((l, i) => {
      const ln = obj(l, `${at}.links[${i}]`);
      return {
        traceId: hexId(ln.traceId, 16, `${at}.links[${i}].traceId`) as Uint8Array,
        spanId: hexId(ln.spanId, 8, `${at}.links[${i}].spanId`) as Uint8Array,
        traceState: optString(ln.traceState, `${at}.links[${i}].traceState`),
        attributes: keyValues(ln.attributes, `${at}.links[${i}].attributes`),
        droppedAttributesCount: optUint(
          ln.droppedAttributesCount,
          `${at}.links[${i}].droppedAttributesCount`,
        ),
        flags: optUint(ln.flags, `${at}.links[${i}].flags`),
      };
    }),
    droppedLinksCount: optUint(o.droppedLinksCount, `${at}.droppedLinksCount`),
    status: status && {
      code: optUint(status.code, `${at}.status.code`, 2),
      message: optString(status.message, `${at}.status.message`),
    },
  };
}

/** Converts parsed OTLP/HTTP JSON into the model; throws OtlpInputError naming the bad field. */
export function fromJson(body: unknown): ExportRequest {
  const o = obj(body, 'body');
  return {
    resourceSpans: list(o.resourceSpans, 'resourceSpans').map((r, i) => {
      const at = `resourceSpans[${i}]`;
      const rs = obj(r, at);
      const res =
        rs.resource === undefined || rs.resource === null ? undefined : obj(rs.resource, `${at}.resource`);
      return {
        resource: res && {
          attributes: keyValues(res.attributes, `${at}.resource.attributes`),
          droppedAttributesCount: optUint(
            res.droppedAttributesCount,
            `${at}.resource.droppedAttributesCount`,
          ),
        },
        schemaUrl: optString(rs.schemaUrl, `${at}.schemaUrl`),
        scopeSpans: list(rs.scopeSpans, `${at}.scopeSpans`).map((s, j) => {
          const sat = `${at}.scopeSpans[${j}]`;
          const ss = obj(s, sat);
          const scope =
            ss.scope === undefined || ss.scope === null ? undefined : obj(ss.scope, `${sat}.scope`);
          return {
            scope: scope && {
              name: optString(scope.name, `${sat}.scope.name`),
              version: optString(scope.version, `${sat}.scope.version`),
              attributes: keyValues(scope.attributes, `${sat}.scope.attributes`),
            },
            schemaUrl: optString(ss.schemaUrl, `${sat}.schemaUrl`),
            spans: list(ss.spans, `${sat}.spans`).map((sp, k) => span(sp, `${sat}.spans[${k}]`)),
          };
        }),
      };
    }),
  };
}

// ---- plain views (file sink, tests) -------------------------------------------------------------

/** An attribute value as plain JSON: strings, numbers, booleans, arrays, objects. */
export function plainValue(v: AnyValue | undefined): unknown {
  if (!v) return null;
  if (v.stringValue !== undefined && v.stringValue !== null) return v.stringValue;
  if (v.boolValue !== undefined && v.boolValue !== null) return v.boolValue;
  if (v.intValue !== undefined && v.intValue !== null) {
    const n = Number(v.intValue.toString());
    return Number.isSafeInteger(n) ? n : v.intValue.toString();
  }
  if (v.doubleValue !== undefined && v.doubleValue !== null) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(plainValue);
  if (v.kvlistValue) return plainAttributes(v.kvlistValue.values);
  if (v.bytesValue) return Buffer.from(v.bytesValue).toString('base64');
  return null;
}

/** Attributes as one plain object. */
export function plainAttributes(kvs: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of kvs ?? []) out[kv.key] = plainValue(kv.value);
  return out;
}

export const hex = (b: Uint8Array | undefined): string | undefined =>
  b?.length ? Buffer.from(b).toString('hex') : undefined;
