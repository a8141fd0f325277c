/**
 * The two undici dispatchers the router uses (and `request` for its health probes), loaded from their own modules instead of the
 * package's index. The index also loads fetch, WebSocket, EventSource, the cache store, the mock
 * agent and their dependencies: about 15 MB of resident memory a router never uses
 * (`npm run bench -- origin-router` measures RSS under load). undici has no `exports` map, so
 * these paths are public files of the package; `undici.test.ts` fails if an upgrade moves them.
 */
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const load = createRequire(import.meta.url);

export const Pool: typeof Undici.Pool = load('undici/lib/dispatcher/pool.js');
export const Agent: typeof Undici.Agent = load('undici/lib/dispatcher/agent.js');

const apiRequest: Undici.Dispatcher['request'] = load('undici/lib/api/api-request.js');

/**
 * `dispatcher.request(options)`: the package index adds `request` to every dispatcher's prototype,
 * so dispatchers loaded without it lack the method; this is the same function, called on them.
 */
export function request(
  dispatcher: Undici.Dispatcher,
  options: Undici.Dispatcher.RequestOptions,
): Promise<Undici.Dispatcher.ResponseData<unknown>> {
  return apiRequest.call(dispatcher, options);
}
export type Pool = Undici.Pool;
export type Agent = Undici.Agent;
