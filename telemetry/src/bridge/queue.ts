/**
 * The bridge's bounded in-memory queue. A request's spans are cut into chunks of at most one
 * batch and each chunk is encoded once, at intake, as a protobuf `ResourceSpans`; an export
 * request is those chunks framed as field 1 of `ExportTraceServiceRequest`, so re-batching and
 * retries never re-encode. Limits count spans and bytes still owed to the collector, in flight
 * included, so a collector outage fills the queue and intake answers 429 instead of growing.
 */
import { encodeResourceSpans, type ResourceSpans } from './otlp.ts';

export interface Chunk {
  /** Encoded `ResourceSpans`. */
  bytes: Uint8Array;
  spans: number;
}

/** Splits resource spans so no chunk holds more than `max` spans; empty scopes are dropped. */
export function chunkResourceSpans(list: ResourceSpans[], max: number): Chunk[] {
  const out: Chunk[] = [];
  for (const rs of list) {
    let scopes: NonNullable<ResourceSpans['scopeSpans']> = [];
    let n = 0;
    const flush = () => {
      if (n === 0) return;
      out.push({ bytes: encodeResourceSpans({ ...rs, scopeSpans: scopes }), spans: n });
      scopes = [];
      n = 0;
    };
    for (const ss of rs.scopeSpans ?? []) {
      const spans = ss.spans ?? [];
      for (let i = 0; i < spans.length; ) {
        const take = Math.min(max - n, spans.length - i);
        scopes.push({ ...ss, spans: spans.slice(i, i + take) });
        n += take;
        i += take;
        if (n >= max) flush();
      }
    }
    flush();
  }
  return out;
}

/** Frames chunks as an encoded `ExportTraceServiceRequest` (field 1, length-delimited). */
export function frameRequest(chunks: readonly Chunk[]): Buffer {
  let size = 0;
  for (const c of chunks) size += 1 + varintLength(c.bytes.length) + c.bytes.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const c of chunks) {
    out[at++] = 0x0a;
    let len = c.bytes.length;
    while (len > 0x7f) {
      out[at++] = (len & 0x7f) | 0x80;
      len >>>= 7;
    }
    out[at++] = len;
    out.set(c.bytes, at);
    at += c.bytes.length;
  }
  return out;
}

function varintLength(n: number): number {
  let l = 1;
  while (n > 0x7f) {
    n >>>= 7;
    l++;
  }
  return l;
}

export interface QueueLimits {
  maxSpans: number;
  maxBytes: number;
}

/** FIFO of chunks with span and byte accounting that includes chunks taken but not yet settled. */
export class SpanQueue {
  #items: Chunk[] = [];
  #head = 0;
  /** Owed to the collector: queued + in flight. */
  spans = 0;
  bytes = 0;
  /** Waiting in the queue only. */
  queuedSpans = 0;
  readonly limits: QueueLimits;
  constructor(limits: QueueLimits) {
    this.limits = limits;
  }

  /** Whether `spans`/`bytes` more would fit. */
  fits(spans: number, bytes: number): boolean {
    return this.spans + spans <= this.limits.maxSpans && this.bytes + bytes <= this.limits.maxBytes;
  }

  /** Adds all chunks or none; false when they do not fit. */
  offer(chunks: readonly Chunk[]): boolean {
    let spans = 0;
    let bytes = 0;
    for (const c of chunks) {
      spans += c.spans;
      bytes += c.bytes.length;
    }
    if (!this.fits(spans, bytes)) return false;
    for (const c of chunks) this.#items.push(c);
    this.spans += spans;
    this.bytes += bytes;
    this.queuedSpans += spans;
    return true;
  }

  /** Takes chunks in order up to `maxSpans` spans and `maxBytes` bytes (at least one chunk). */
  take(maxSpans: number, maxBytes: number): Chunk[] {
    const out: Chunk[] = [];
    let spans = 0;
    let bytes = 0;
    while (this.#head < this.#items.length) {
      const c = this.#items[this.#head] as Chunk;
      if (out.length > 0 && (spans + c.spans > maxSpans || bytes + c.bytes.length > maxBytes)) break;
      out.push(c);
      spans += c.spans;
      bytes += c.bytes.length;
      this.#head++;
    }
    this.queuedSpans -= spans;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return out;
  }

  /** Marks taken chunks as settled (exported or dropped): frees their room. */
  settle(chunks: readonly Chunk[]): void {
    for (const c of chunks) {
      this.spans -= c.spans;
      this.bytes -= c.bytes.length;
    }
  }
}
