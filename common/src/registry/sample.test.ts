import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadRegistry } from './load.ts';

const SAMPLE = fileURLToPath(new URL('../../../infra/registry/sites.yaml', import.meta.url));

describe('the sample registry (infra/registry/sites.yaml)', () => {
  it('validates, with at least 3 sites, aliases and differing policies', async () => {
    const reg = await loadRegistry(SAMPLE);
    expect(reg.sites.length).toBeGreaterThanOrEqual(3);
    expect(reg.sites.every((s) => s.aliases.length > 0)).toBe(true);
    const policies = new Set(reg.sites.map((s) => JSON.stringify(s.policy)));
    expect(policies.size).toBe(reg.sites.length);
  });
  it('names the file when it cannot be read', async () => {
    await expect(loadRegistry('/nonexistent/sites.yaml')).rejects.toThrow(
      /\/nonexistent\/sites\.yaml: cannot be read/,
    );
  });
});
