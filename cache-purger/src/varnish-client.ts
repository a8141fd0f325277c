import { Pool } from 'undici';
import type { VarnishNode } from './config.ts';
import type { VarnishOp } from './plan.ts';

/**
 * Sends planned purge requests to one Varnish node through the VCL's purge interface:
 * `BAN` with `x-ban-host` (+ `x-ban-url`), `PURGE` with `xkey-purge` / `xkey-softpurge`, each with
 * `x-purge-secret`. Only a 200 counts as done; anything else, or a timeout, is a failure to retry.
 */
export interface OpResult {
  op: VarnishOp;
  ok: boolean;
  status?: number;
  error?: string;
}

export class VarnishClient {
  readonly node: VarnishNode;
  readonly #pool: Pool;
  readonly #secret: string;
  readonly #timeoutMs: number;
  constructor(node: VarnishNode, secret: string, timeoutMs: number, connections = 8) {
    this.node = node;
    this.#secret = secret;
    this.#timeoutMs = timeoutMs;
    this.#pool = new Pool(node.url, {
      connections,
      connectTimeout: timeoutMs,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      keepAliveTimeout: 4_000,
    });
  }

  /** Sends every op, `parallel` at a time; resolves with one result per op. */
  async send(ops: readonly VarnishOp[], parallel = 8): Promise<OpResult[]> {
    const results: OpResult[] = new Array(ops.length);
    let next = 0;
    const lane = async () => {
      while (next < ops.length) {
        const i = next++;
        results[i] = await this.#one(ops[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(parallel, ops.length) }, lane));
    return results;
  }

  async #one(op: VarnishOp): Promise<OpResult> {
    const headers: Record<string, string> = { 'x-purge-secret': this.#secret };
    let method: string;
    if (op.kind === 'ban') {
      method = 'BAN';
      headers['x-ban-host'] = op.host;
      if (op.url !== undefined) headers['x-ban-url'] = op.url;
    } else {
      method = 'PURGE';
      headers[op.soft ? 'xkey-softpurge' : 'xkey-purge'] = op.keys.join(' ');
    }
    try {
      const res = await this.#pool.request({
        method,
        path: '/',
        headers,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      await res.body.dump();
      return res.statusCode === 200
        ? { op, ok: true, status: 200 }
        : { op, ok: false, status: res.statusCode };
    } catch (err) {
      return { op, ok: false, error: (err as Error).message };
    }
  }

  close(): Promise<void> {
    return this.#pool.destroy();
  }
}
