import { startCloudflareStandin } from './cloudflare-api-standin.ts';

/**
 * Runs the Cloudflare API stand-in as a process (local farm, benchmarks): CF_STANDIN_PORT,
 * CLOUDFLARE_API_TOKEN, CLOUDFLARE_PLAN, CF_STANDIN_URLS_PER_CALL to play an account on a
 * lower URLs-per-call limit, and CF_STANDIN_BUCKET=<capacity>/<per second> to scale the call
 * bucket down (tests: an empty bucket within seconds).
 */
const token = process.env.CLOUDFLARE_API_TOKEN;
if (!token) {
  console.error(JSON.stringify({ level: 'fatal', msg: 'CLOUDFLARE_API_TOKEN is required' }));
  process.exit(2);
}
const plan = (process.env.CLOUDFLARE_PLAN ?? 'free') as 'free';
const urlsPerCall = Number(process.env.CF_STANDIN_URLS_PER_CALL) || undefined;
const [capacity, perSecond] = (process.env.CF_STANDIN_BUCKET ?? '').split('/').map(Number);
const bucket = capacity && perSecond ? { capacity, perSecond } : undefined;
const s = await startCloudflareStandin({
  token,
  plan,
  port: Number(process.env.CF_STANDIN_PORT ?? 0),
  ...(urlsPerCall ? { urlsPerCall } : {}),
  ...(bucket ? { bucket } : {}),
});
console.log(JSON.stringify({ level: 'info', msg: 'cloudflare-api-standin listening', port: s.port, plan }));
process.on('SIGTERM', () => void s.close().then(() => process.exit(0)));
