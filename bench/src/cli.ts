import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { cpus, hostname, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { managedProcesses } from '@wpfarm/common/process/managed';
import { goalMet, runBenchmark } from './runner.ts';
import type { Benchmark, BenchResult, Goal } from './types.ts';

/**
 * `npm run bench -- [--quick] [--strict] [--keep] [name ...]`: runs the benchmarks in
 * bench/src/benches (all, or those named), writes bench/results/<name>.json and prints a table
 * of figures, ratios and goals. A benchmark that throws, or a phase of one that fails, fails the
 * run, and what it measured before is still written (runner.ts); a missed goal fails it only with
 * --strict (figures move from machine to machine; see ENVIRONMENT.md).
 */
const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH_DIR, '../..');
const RESULTS = join(ROOT, 'bench/results');

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith('--')));
const names = args.filter((a) => !a.startsWith('--'));
for (const f of flags)
  if (!['--quick', '--strict', '--keep'].includes(f))
    fail(`unknown flag ${f} (known: --quick, --strict, --keep)`);
const quick = flags.has('--quick');

function fail(message: string): never {
  console.error(`✗ ${message}`);
  process.exit(2);
}

function fmt(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(3);
}

function table(name: string, r: BenchResult): { text: string; missed: string[] } {
  const rows: string[][] = [];
  const missed: string[] = [];
  const goalText = (g?: Goal) =>
    g
      ? [g.min !== undefined ? `≥ ${fmt(g.min)}` : '', g.max !== undefined ? `≤ ${fmt(g.max)}` : '']
          .filter(Boolean)
          .join(' ')
      : '';
  for (const [kind, values] of [
    ['figure', r.figures],
    ['ratio', r.ratios],
  ] as const) {
    for (const [k, v] of Object.entries(values)) {
      const g = r.goals[k];
      const status = g ? (goalMet(v, g) ? 'met' : 'MISSED') : '';
      if (status === 'MISSED') missed.push(k);
      rows.push([kind, k, fmt(v), goalText(g), status]);
    }
  }
  for (const k of Object.keys(r.goals)) {
    if (!(k in r.figures) && !(k in r.ratios)) {
      missed.push(k);
      rows.push(['goal', k, '—', goalText(r.goals[k]), 'NO VALUE']);
    }
  }
  const head = ['', 'key', 'value', 'goal', ''];
  const widths = head.map((_, c) =>
    Math.max(head[c]?.length ?? 0, ...rows.map((row) => row[c]?.length ?? 0)),
  );
  const line = (row: string[]) =>
    row
      .map((cell, c) => (c === 2 ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0)))
      .join('  ')
      .trimEnd();
  const text = [`${name}`, line(head), ...rows.map(line), ...(r.notes ?? []).map((n) => `  · ${n}`)].join(
    '\n',
  );
  return { text, missed };
}

async function main() {
  const files = readdirSync(join(BENCH_DIR, 'benches'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .sort();
  const all: Benchmark[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(BENCH_DIR, 'benches', f)).href)) as { default?: Benchmark };
    if (!mod.default?.name || typeof mod.default.run !== 'function')
      fail(`bench/src/benches/${f} must default-export a Benchmark`);
    all.push(mod.default);
  }
  const unknown = names.filter((n) => !all.some((b) => b.name === n));
  if (unknown.length)
    fail(`unknown benchmark ${unknown.join(', ')} (known: ${all.map((b) => b.name).join(', ')})`);
  const selected = names.length ? all.filter((b) => names.includes(b.name)) : all;
  mkdirSync(RESULTS, { recursive: true });

  const machine = {
    host: hostname(),
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
  const summaries: string[] = [];
  let crashed = 0;
  let missedTotal = 0;
  for (const [i, b] of selected.entries()) {
    const t0 = Date.now();
    console.log(`› [${i + 1}/${selected.length}] ${b.name}: ${b.description}${quick ? ' (quick)' : ''}`);
    const dir = mkdtempSync(join(tmpdir(), `bench-${b.name}-`));
    try {
      const out = await runBenchmark(b, {
        quick,
        dir,
        root: ROOT,
        resultsDir: RESULTS,
        machine,
        log: (m) => console.log(`  ${m}`),
      });
      const { text, missed } = table(b.name, out.result);
      missedTotal += missed.length;
      const failedPhases = Object.entries(out.failed).map(([k, m]) => `  ✗ phase ${k} failed: ${m}`);
      if (out.error) {
        crashed++;
        summaries.push(`${text}\n  ✗ crashed: ${out.error.stack ?? out.error.message}`);
        console.log(
          `  ✗ ${b.name} crashed: ${out.error.message} (what it measured: bench/results/${b.name}.json)`,
        );
      } else {
        if (failedPhases.length) crashed++;
        summaries.push([text, ...failedPhases].join('\n'));
        console.log(
          `  ${failedPhases.length ? '✗' : '✓'} ${b.name} in ${((Date.now() - t0) / 1000).toFixed(0)} s → bench/results/${b.name}.json${failedPhases.length ? ` (phases failed: ${Object.keys(out.failed).join(', ')})` : ''}${missed.length ? ` (goals missed: ${missed.join(', ')})` : ''}`,
        );
      }
    } finally {
      // Whatever the benchmark started and did not stop is stopped here.
      await Promise.all(managedProcesses().map((p) => p.stop(3000)));
      if (!flags.has('--keep')) rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(
    `\n${'═'.repeat(72)}\nbenchmarks (${quick ? 'quick profile' : 'full profile'}, ${machine.cpus} cores, node ${machine.node})\n${'═'.repeat(72)}`,
  );
  console.log(summaries.join(`\n${'─'.repeat(72)}\n`));
  console.log(
    `${'═'.repeat(72)}\n${selected.length - crashed}/${selected.length} ran without a crash or failed phase; ${missedTotal} goal${missedTotal === 1 ? '' : 's'} missed${flags.has('--strict') ? ' (--strict)' : ''}`,
  );
  process.exit(crashed > 0 || (flags.has('--strict') && missedTotal > 0) ? 1 : 0);
}

await main();
