/**
 * From the queue to the sink: batches of up to `batchSpans` spans sent when a batch is full or
 * the oldest span has waited `delayMs`, at most `concurrency` at a time. A retryable failure is
 * retried with exponential backoff and full jitter until `retryMaxElapsedMs`; the batch keeps its
 * room in the queue meanwhile, so an outage turns into 429s at intake rather than lost spans.
 */
import { decodeRequest } from './otlp.ts';
import { type Chunk, frameRequest, type SpanQueue } from './queue.ts';
import type { Sink } from './sinks.ts';

export interface PipelineOptions {
  batchSpans: number;
  batchBytes: number;
  delayMs: number;
  concurrency: number;
  retryInitialMs: number;
  retryMaxMs: number;
  retryMaxElapsedMs: number;
}

export type DropReason = 'rejected' | 'refused' | 'retry_expired' | 'shutdown';

export interface PipelineEvents {
  exported(spans: number, seconds: number): void;
  dropped(spans: number, reason: DropReason, error?: string): void;
  retried(spans: number, error: string): void;
}

export class Pipeline {
  #inflight = 0;
  #timer: NodeJS.Timeout | undefined;
  #flushing = false;
  #stopped = new AbortController();
  #backoffMs = 0;
  #idle: (() => void)[] = [];

  readonly queue: SpanQueue;
  readonly sink: Sink;
  readonly opts: PipelineOptions;
  readonly events: PipelineEvents;
  constructor(queue: SpanQueue, sink: Sink, opts: PipelineOptions, events: PipelineEvents) {
    this.queue = queue;
    this.sink = sink;
    this.opts = opts;
    this.events = events;
  }

  /** Seconds a refused sender should wait: the current backoff, at least 1. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.#backoffMs / 1000));
  }

  get inflight(): number {
    return this.#inflight;
  }

  /** Called after spans are queued: sends full batches now, schedules a partial one. */
  kick(): void {
    const q = this.queue;
    while (this.#inflight < this.opts.concurrency && q.queuedSpans > 0) {
      if (q.queuedSpans < this.opts.batchSpans && !this.#flushing) {
        this.#timer ??= setTimeout(() => {
          this.#timer = undefined;
          this.#sendOne();
          this.kick();
        }, this.opts.delayMs);
        break;
      }
      this.#sendOne();
    }
    if (q.spans === 0 && this.#inflight === 0) for (const f of this.#idle.splice(0)) f();
  }

  #sendOne(): void {
    if (this.#inflight >= this.opts.concurrency || this.queue.queuedSpans === 0) return;
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const chunks = this.queue.take(this.opts.batchSpans, this.opts.batchBytes);
    this.#inflight++;
    void this.#deliver(chunks).finally(() => {
      this.queue.settle(chunks);
      this.#inflight--;
      this.kick();
    });
  }

  async #deliver(chunks: Chunk[]): Promise<void> {
    const spans = chunks.reduce((n, c) => n + c.spans, 0);
    const body = frameRequest(chunks);
    const first = Date.now();
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      const r = await this.#send(body);
      if (r.ok) {
        this.#backoffMs = 0;
        this.events.exported(spans - r.rejected, (performance.now() - started) / 1000);
        if (r.rejected > 0) this.events.dropped(r.rejected, 'rejected');
        return;
      }
      if (!r.retryable) return this.events.dropped(spans, 'refused', r.error);
      if (this.#stopped.signal.aborted) return this.events.dropped(spans, 'shutdown', r.error);
      if (Date.now() - first >= this.opts.retryMaxElapsedMs)
        return this.events.dropped(spans, 'retry_expired', r.error);
      const cap = Math.min(this.opts.retryMaxMs, this.opts.retryInitialMs * 2 ** Math.min(attempt, 20));
      const delay = r.retryAfterMs ?? cap / 2 + (Math.random() * cap) / 2;
      this.#backoffMs = Math.max(this.#backoffMs, delay);
      this.events.retried(spans, r.error);
      await sleep(delay, this.#stopped.signal);
    }
  }

  #send(body: Buffer) {
    return this.sink.send(body, () => decodeRequest(body));
  }

  /**
   * Sends everything queued without waiting for full batches, until done or `deadlineMs`; then
   * stops retrying and counts what is left as dropped (reason `shutdown`).
   */
  async drain(deadlineMs: number): Promise<void> {
    this.#flushing = true;
    const idle = new Promise<void>((r) => this.#idle.push(r));
    this.kick();
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), deadlineMs).unref());
    if ((await Promise.race([idle, timer])) !== 'timeout') return;
    this.#stopped.abort();
    const left = this.queue.take(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    this.queue.settle(left);
    const n = left.reduce((s, c) => s + c.spans, 0);
    if (n > 0) this.events.dropped(n, 'shutdown', 'not delivered before the shutdown deadline');
    await new Promise<void>((r) => {
      if (this.#inflight === 0) r();
      else this.#idle.push(r);
    });
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
