/**
 * `node:http`'s server factory, loaded with `require`. An ESM import of a builtin, even a named
 * one, evaluates every export of it, and `node:http`'s lazy `WebSocket`/`CloseEvent`/`MessageEvent`
 * exports then load Node's bundled undici (fetch, WebSocket, web streams): about 13 MB of resident
 * memory in a service that never uses them (`npm run bench -- origin-router` measures router RSS).
 * Types still come from `import type ... from 'node:http'`, which costs nothing at run time.
 */
import { createRequire } from 'node:module';

const http: typeof import('node:http') = createRequire(import.meta.url)('node:http');

export const createServer: typeof http.createServer = http.createServer;
