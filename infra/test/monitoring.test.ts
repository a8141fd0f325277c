/**
 * Monitoring configs checked with the real tools (promtool, amtool, haproxy), and the metric names
 * that rules and dashboards query exist in the services that export them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { INFRA, ROOT, run } from './helpers.ts';

const MON = join(INFRA, 'monitoring');
const PROM = join(MON, 'prometheus');
const AM = join(MON, 'alertmanager/alertmanager.yml');
const DASHBOARDS = join(MON, 'grafana/dashboards');

describe('Prometheus', () => {
  it('promtool check config', async () => {
    const r = await run('promtool', ['check', 'config', '--syntax-only', join(PROM, 'prometheus.yml')]);
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('promtool check rules', async () => {
    const r = await run('promtool', ['check', 'rules', join(PROM, 'rules/farm.yml')]);
    expect(r.stdout).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.code).toBe(0);
  });

  it('promtool test rules (purge backlog, 5xx ratio, verdict flapping, bridge drops)', async () => {
    const r = await run('promtool', ['test', 'rules', 'farm.test.yml'], { cwd: join(PROM, 'rules') });
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it('promtool rejects a broken rule (the check is not a no-op)', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'rules-')), 'bad.yml');
    writeFileSync(
      file,
      'groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: sum(rate(x[5m]) > \n',
    );
    expect((await run('promtool', ['check', 'rules', file])).code).not.toBe(0);
  });

  it('every alert has a severity the routing knows, and a summary', () => {
    const text = readFileSync(join(PROM, 'rules/farm.yml'), 'utf8');
    const alerts = text.split(/\n\s+- alert: /).slice(1);
    expect(alerts.length).toBeGreaterThanOrEqual(8);
    for (const a of alerts) {
      expect(a, a.split('\n')[0]).toMatch(/severity: (critical|warning|info)/);
      expect(a, a.split('\n')[0]).toMatch(/summary: /);
    }
  });
});

describe('Alertmanager', () => {
  it('amtool check-config', async () => {
    const r = await run('amtool', ['check-config', AM]);
    expect(r.stdout).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  it.each([
    ['critical', 'pager'],
    ['warning', 'slack'],
    ['info', 'email-digest'],
  ])('routes severity=%s to %s', async (severity, receiver) => {
    const r = await run('amtool', [
      'config',
      'routes',
      'test',
      `--config.file=${AM}`,
      `severity=${severity}`,
    ]);
    expect(r.stdout.trim()).toBe(receiver);
  });

  it('pages by SMS webhook and Slack together', () => {
    const text = readFileSync(AM, 'utf8');
    const pager = text.slice(text.indexOf('- name: pager'), text.indexOf('- name: slack'));
    expect(pager).toContain('webhook_configs');
    expect(pager).toContain('slack_configs');
    expect(text).not.toMatch(/api_url:|auth_password:|https:\/\/hooks\.slack\.com/); // credentials only from files
  });
});

describe('Redis master tracker', () => {
  it('haproxy -c accepts redis-master.cfg', async () => {
    const r = await run('haproxy', ['-c', '-f', join(INFRA, 'stacks/redis/redis-master.cfg')]);
    expect(r.stdout + r.stderr).toContain('Configuration file is valid');
    expect(r.code).toBe(0);
  });
});

/** Metric names a service registers: `name: 'x'` in its non-test sources. */
function exportedMetrics(): Set<string> {
  const out = new Set<string>();
  for (const ws of ['origin-router', 'cache-purger', 'proxysql-health', 'telemetry']) {
    const dir = join(ROOT, ws, 'src');
    let files: string[] = [];
    try {
      files = readdirSync(dir, { recursive: true }).map(String);
    } catch {
      continue;
    }
    for (const f of files.filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')))
      for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/name:\s*'([a-z_][a-z0-9_]*)'/g))
        out.add(m[1]!);
  }
  return out;
}

/** Our services' metric names a PromQL text uses (prefixes of the farm's own metrics only). */
function queried(expr: string, prefixes = 'router|purger|health'): string[] {
  return [...expr.matchAll(new RegExp(`\\b((?:${prefixes})_[a-z0-9_]+)`, 'g'))].map((m) =>
    m[1]!.replace(/_(bucket|sum|count)$/, ''),
  );
}

describe('rules and dashboards query metrics the services export', () => {
  const exported = exportedMetrics();
  const recorded = new Set(
    [...readFileSync(join(PROM, 'rules/farm.yml'), 'utf8').matchAll(/- record: (\S+)/g)].map((m) => m[1]!),
  );
  const known = (name: string) => exported.has(name) || recorded.has(name);

  it('dashboards are valid, uniquely identified, and every panel queries an exported metric', () => {
    const uids = new Set<string>();
    for (const f of readdirSync(DASHBOARDS)) {
      const d = JSON.parse(readFileSync(join(DASHBOARDS, f), 'utf8'));
      expect(uids.has(d.uid), f).toBe(false);
      uids.add(d.uid);
      expect(d.panels.length, f).toBeGreaterThan(0);
      for (const p of d.panels)
        for (const t of p.targets)
          for (const m of queried(t.expr)) expect(known(m), `${f}: ${p.title}: ${m}`).toBe(true);
    }
    expect(uids.size).toBe(4);
  });

  it('alert rules query exported metrics', () => {
    const rules = readFileSync(join(PROM, 'rules/farm.yml'), 'utf8');
    const used = [...rules.matchAll(/expr: (.*(?:\n\s{10,}.*)*)/g)].flatMap((m) => queried(m[1]!));
    expect(used.length).toBeGreaterThan(5);
    for (const m of used) expect(known(m) || m.startsWith('router:'), m).toBe(true);
  });

  it('the telemetry bridge exports the metrics its alert and dashboard query', () => {
    const texts = [
      readFileSync(join(PROM, 'rules/farm.yml'), 'utf8'),
      readFileSync(join(DASHBOARDS, 'telemetry-bridge.json'), 'utf8'),
    ];
    const used = [...new Set(texts.flatMap((t) => queried(t, 'bridge')))];
    expect(used.length).toBeGreaterThan(0);
    for (const m of used) expect(exported.has(m), `${m} (telemetry/src)`).toBe(true);
  });
});
