import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ratio } from './load.ts';
import type { Benchmark } from './types.ts';

const BENCHES = join(dirname(fileURLToPath(import.meta.url)), 'benches');

describe('benchmarks', () => {
  it('ratio rounds to 3 decimals and guards division by zero', () => {
    expect(ratio(2, 3)).toBe(0.667);
    expect(ratio(5, 0)).toBe(0);
  });

  it.each(readdirSync(BENCHES).filter((f) => f.endsWith('.ts')))(
    '%s default-exports a named Benchmark',
    async (file) => {
      const mod = (await import(join(BENCHES, file))) as { default: Benchmark };
      expect(mod.default.name).toBe(file.replace(/\.ts$/, ''));
      expect(mod.default.description.length).toBeGreaterThan(10);
      expect(typeof mod.default.run).toBe('function');
    },
  );
});
