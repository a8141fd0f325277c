/**
 * The generator: the sample registry renders to exactly the committed infra/generated/ (golden
 * files), the same input always gives the same bytes, and a bad registry is refused with the
 * registry's own error (file, site, field).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRegistry } from '@wpfarm/common/registry/load';
import { RegistryError } from '@wpfarm/common/registry/schema';
import { hostMapShardKey, parseHostMapIndex, parseHostMapShard } from '@wpfarm/edge-worker/host-map';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { renderFarm } from '../src/render.ts';
import { DEFAULT_REGISTRY, diffAgainst, renderFromFile, writeRendered } from '../src/render-cli.ts';
import { GENERATED, INFRA, ROOT, run } from './helpers.ts';

const EPOCH = new Date(0);
const CLI = join(INFRA, 'src/render-cli.ts');
const tmp = () => mkdtempSync(join(tmpdir(), 'render-'));

describe('golden files', () => {
  it('the committed infra/generated/ is what the sample registry renders (run npm run infra:render)', async () => {
    const files = await renderFromFile(DEFAULT_REGISTRY, EPOCH);
    expect(await diffAgainst(GENERATED, files)).toEqual([]);
    expect(files.map((f) => f.path)).toEqual([
      'cache.sites.yml',
      'edge/hostmap.kv.json',
      'services.sites.yml',
      'sites/wp-alpha.yml',
      'sites/wp-beta.yml',
      'sites/wp-gamma.yml',
    ]);
  });

  it('the CLI --check passes on the committed output and fails on a stale one', async () => {
    const ok = await run(process.execPath, [CLI, '--check'], { env: process.env });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const out = tmp();
    await writeRendered(out, await renderFromFile(DEFAULT_REGISTRY, EPOCH));
    writeFileSync(join(out, 'sites/wp-alpha.yml'), '# edited by hand\n');
    writeFileSync(join(out, 'sites/wp-removed.yml'), '# a site that left the registry\n');
    const stale = await run(process.execPath, [CLI, '--check', '--out', out], { env: process.env });
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('sites/wp-alpha.yml');
    expect(stale.stderr).toContain('sites/wp-removed.yml');
  });

  it('writing removes the stacks of sites that left the registry', async () => {
    const out = tmp();
    writeFileSync(join(out, 'old.yml'), 'x');
    await writeRendered(out, await renderFromFile(DEFAULT_REGISTRY, EPOCH));
    expect(await diffAgainst(out, await renderFromFile(DEFAULT_REGISTRY, EPOCH))).toEqual([]);
  });
});

describe('determinism', () => {
  const text = readFileSync(DEFAULT_REGISTRY, 'utf8');
  const opts = {
    registryPath: '../registry/sites.yaml',
    registryText: text,
    registryFile: 'sites.yaml',
    generatedAt: EPOCH,
  };

  it('renders the same bytes twice, and regardless of the order of sites in the file', () => {
    const doc = parse(text);
    const reversed = stringify({ ...doc, sites: [...doc.sites].reverse() });
    const a = renderFarm(parseRegistry(text, 'sites.yaml'), opts).filter((f) => f.path.startsWith('sites/'));
    const b = renderFarm(parseRegistry(reversed, 'sites.yaml'), { ...opts, registryText: reversed }).filter(
      (f) => f.path.startsWith('sites/'),
    );
    expect(b).toEqual(a);
    expect(renderFarm(parseRegistry(text, 'sites.yaml'), opts)).toEqual(
      renderFarm(parseRegistry(text, 'sites.yaml'), opts),
    );
  });

  it('versions the registry config by content: any change gives a new name, so the routers roll', () => {
    const name = (t: string) =>
      /name: (site_registry_[0-9a-f]{12})/.exec(
        renderFarm(parseRegistry(t, 'x.yaml'), { ...opts, registryText: t }).find(
          (f) => f.path === 'services.sites.yml',
        )!.content,
      )?.[1];
    const changed = text.replace('htmlTtl: 120', 'htmlTtl: 90');
    expect(name(text)).toMatch(/^site_registry_/);
    expect(name(changed)).not.toBe(name(text));
  });

  it("the KV host map is the edge worker's own sharded layout and parses back", () => {
    const kv = renderFarm(parseRegistry(text, 'sites.yaml'), opts).find(
      (f) => f.path === 'edge/hostmap.kv.json',
    )!;
    const entries = JSON.parse(kv.content) as { key: string; value: string }[];
    // Three sites, seven hosts: one shard of each kind, the index last (after the shards it names).
    expect(entries.map((e) => e.key)).toEqual(['hostmap/1/host/0', 'hostmap/1/site/0', 'hostmap/index']);
    expect(parseHostMapIndex(entries[2]!.value).shards).toBe(1);
    const map = parseHostMapShard(entries[0]!.value);
    expect(map.byHost.get('shop.beta.farm.test')).toMatchObject({ alias: true, site: { id: 'beta' } });
    for (const e of entries) {
      expect(e.value).not.toContain('WEBHOOK_SECRET'); // secret refs and upstreams stay private
      expect(e.value).not.toContain('nginx');
    }
  });
});

describe('edge KV', () => {
  it("wrangler accepts the bulk file against the worker's own binding, and the edge reads the host map back", async () => {
    const wrangler = join(ROOT, 'node_modules/.bin/wrangler');
    const persist = tmp();
    const env = { ...process.env, WRANGLER_SEND_METRICS: 'false', CI: '1' };
    const cwd = join(ROOT, 'edge-worker'); // its wrangler.jsonc declares the EDGE_KV binding
    const put = await run(
      wrangler,
      [
        'kv',
        'bulk',
        'put',
        join(GENERATED, 'edge/hostmap.kv.json'),
        '--binding',
        'EDGE_KV',
        '--local',
        '--persist-to',
        persist,
      ],
      { env, cwd },
    );
    expect(put.stdout + put.stderr).toContain('Success');
    expect(put.code).toBe(0);
    const get = (key: string) =>
      run(wrangler, ['kv', 'key', 'get', key, '--binding', 'EDGE_KV', '--local', '--persist-to', persist], {
        env,
        cwd,
      });
    const index = await get('hostmap/index');
    expect(index.code).toBe(0);
    const count = parseHostMapIndex(index.stdout.trim()).shards;
    const shard = await get(hostMapShardKey('site', count, 0));
    expect(shard.code).toBe(0);
    const map = parseHostMapShard(shard.stdout.trim());
    expect([...map.byId.keys()].sort()).toEqual(['alpha', 'beta', 'gamma']);
  });
});

describe('a bad registry', () => {
  const bad = async (yamlText: string) => {
    const dir = tmp();
    const file = join(dir, 'sites.yaml');
    writeFileSync(file, yamlText);
    return { file, dir };
  };

  it('a schema error is the registry error, naming file, site and field; the CLI exits 2 and writes nothing', async () => {
    const { file, dir } = await bad(
      'version: 1\nsites:\n  - id: alpha\n    host: alpha.farm.test\n    upstream: http://wp-alpha_nginx:80\n    webhookSecretRef: W\n    policy: { htmlTtl: -1 }\n',
    );
    const err = await renderFromFile(file, EPOCH).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect((err as RegistryError).issues[0]).toMatchObject({ site: 'alpha', field: 'policy.htmlTtl' });
    const out = join(dir, 'out');
    const r = await run(process.execPath, [CLI, '--registry', file, '--out', out], { env: process.env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/sites\.yaml: site "alpha" field "policy\.htmlTtl"/);
    expect(await diffAgainst(out, [])).toEqual([]); // nothing written
  });

  it("an upstream that is not the site stack's nginx is refused (the back router would route nowhere)", async () => {
    const { file } = await bad(
      'version: 1\nsites:\n  - id: alpha\n    host: alpha.farm.test\n    upstream: http://somewhere-else:8080\n    webhookSecretRef: W\n',
    );
    const err = (await renderFromFile(file, EPOCH).catch((e: unknown) => e)) as RegistryError;
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.issues).toEqual([
      expect.objectContaining({
        site: 'alpha',
        field: 'upstream',
        message: expect.stringContaining('http://wp-alpha_nginx:80'),
      }),
    ]);
  });

  it('a missing file is a registry error naming the file', async () => {
    const err = (await renderFromFile('/nonexistent/sites.yaml', EPOCH).catch(
      (e: unknown) => e,
    )) as RegistryError;
    expect(err).toBeInstanceOf(RegistryError);
    expect(err.message).toContain('/nonexistent/sites.yaml');
  });
});
