/** Helpers for the workerd tests: call the worker like the runtime does, and ask the origin what it saw. */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { validateRegistry } from '@wpfarm/common/registry/schema';
import worker from '../src/index.ts';
import { type HostMapLayout, hostMapBulk } from '../src/publish-host-map.ts';
import { TEST_REGISTRY } from './fixtures.ts';

export interface Sent {
  status: number;
  headers: Headers;
  body: string;
}

export type SendInit = RequestInit & { cf?: Record<string, unknown> };

/** Sends one request through the worker and waits for its background work (cache puts, refreshes). */
export async function send(url: string, init: SendInit = {}, bindings: Env = env): Promise<Sent> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(url, init as RequestInit), bindings, ctx);
  const body = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, body };
}

/** Sends several requests at once (same background wait for all). */
export async function sendConcurrently(reqs: [string, SendInit?][]): Promise<Sent[]> {
  const ctxs = reqs.map(() => createExecutionContext());
  const results = await Promise.all(
    reqs.map(async ([url, init], i) => {
      const res = await worker.fetch(new Request(url, init as RequestInit), env, ctxs[i]!);
      return { status: res.status, headers: res.headers, body: await res.text() };
    }),
  );
  await Promise.all(ctxs.map((c) => waitOnExecutionContext(c)));
  return results;
}

export interface SeenRequest {
  method: string;
  host: string;
  path: string;
  headers: Record<string, string | undefined>;
}

/** Every request the origin received (through the verifying front), oldest first. */
export async function originSeen(): Promise<SeenRequest[]> {
  const res = await fetch(`${env.ORIGIN_URL}/__front/seen`);
  return (await res.json()) as SeenRequest[];
}

/**
 * Origin requests of case `id`: a pass carries the visitor's `x-case: id` header; a cacheable
 * fetch carries no visitor header at all, so those cases put `case=id` in the query (it stays in
 * the key and the fetch).
 */
export async function originCalls(id: string): Promise<SeenRequest[]> {
  return (await originSeen()).filter(
    (r) =>
      r.headers['x-case'] === id || new URL(r.path, 'http://origin.invalid').searchParams.get('case') === id,
  );
}

/** Steers the demo origin (`fail`, `delay`) for one host. */
export async function originControl(route: 'fail' | 'delay', query: string): Promise<void> {
  const res = await fetch(`${env.ORIGIN_URL}/__origin/${route}?${query}`);
  await res.text();
}

/**
 * Publishes a registry's host map into the worker's KV as the publish tool does (its default
 * layout unless named, the index last), over whatever host map keys were there.
 */
export async function seedHostMap(
  registry: unknown = TEST_REGISTRY,
  layout?: HostMapLayout,
  kv: KVNamespace = env.EDGE_KV,
): Promise<void> {
  await clearHostMap(kv);
  for (const e of hostMapBulk(validateRegistry(registry), new Date(), layout)) await kv.put(e.key, e.value);
}

/** Deletes every host map key (`hostmap`, `hostmap/index`, every shard) from KV. */
export async function clearHostMap(kv: KVNamespace = env.EDGE_KV): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await kv.list({ prefix: 'hostmap', cursor });
    await Promise.all(page.keys.map((k) => kv.delete(k.name)));
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor);
}
