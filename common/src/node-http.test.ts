import { spawnSync } from 'node:child_process';
import * as http from 'node:http';
import { describe, expect, it } from 'vitest';
import { createServer } from './node-http.ts';

describe('node-http', () => {
  it('is node:http createServer', () => {
    expect(createServer).toBe(http.createServer);
  });

  it("does not load Node's bundled undici", () => {
    const script = `await import(${JSON.stringify(new URL('./node-http.ts', import.meta.url).href)});
      console.log(process.moduleLoadList.some((m) => m.includes('deps/undici')));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('false');
  });
});
