import { join } from 'node:path';
import { startVarnish } from '@wpfarm/common/peers/varnish';
import { startStaticPage } from '../fixtures.ts';
import { measure, ratio } from '../load.ts';
import type { Benchmark } from '../types.ts';

/**
 * The floor every other benchmark stands on: a 46 KB page as a Varnish hit (the farm's VCL)
 * against nginx serving the same file from disk, in the same run.
 */
const bench: Benchmark = {
  name: 'varnish-tier',
  description: 'Varnish hit (farm VCL) vs nginx static file, 46 KB page, 50 connections',
  async run(ctx) {
    const { nginx, page } = await startStaticPage(ctx.dir);
    const varnish = await startVarnish({
      dir: join(ctx.dir, 'varnish'),
      backend: { host: '127.0.0.1', port: nginx.port },
    });
    const headers = { host: 'alpha.farm.test' };

    ctx.log(`nginx static on :${nginx.port} ...`);
    const n = await measure({
      url: `http://127.0.0.1:${nginx.port}/`,
      seconds: ctx.seconds,
      headers,
      warmupSeconds: 1,
    });
    ctx.log(`varnish hit on :${varnish.port} ...`);
    const v = await measure({
      url: `http://127.0.0.1:${varnish.port}/`,
      seconds: ctx.seconds,
      headers,
      warmupSeconds: 1,
    });
    await Promise.all([varnish.stop(), nginx.stop()]);
    if (n.errors || n.non2xx)
      throw new Error(
        `nginx answered ${n.errors} errors and ${n.non2xx} non-2xx (${JSON.stringify(n.statusCodes)})`,
      );
    if (v.errors || v.non2xx)
      throw new Error(
        `varnish answered ${v.errors} errors and ${v.non2xx} non-2xx (${JSON.stringify(v.statusCodes)})`,
      );
    return {
      figures: {
        nginx_rps: n.rps,
        nginx_p99_ms: n.p99,
        varnish_hit_rps: v.rps,
        varnish_hit_p99_ms: v.p99,
        page_bytes: page.length,
      },
      ratios: { varnish_hit_vs_nginx_static: ratio(v.rps, n.rps) },
      goals: { varnish_hit_vs_nginx_static: { min: 0.6 }, varnish_hit_p99_ms: { max: 10 } },
      notes: ['ENVIRONMENT.md baseline on this machine class: nginx ~59.6k rps, Varnish hit ~47–57k rps'],
    };
  },
};

export default bench;
