/** The Worker entry: the Hono app with the real clock and `caches.default`. */
import { buildApp } from './app.ts';

export default buildApp();
