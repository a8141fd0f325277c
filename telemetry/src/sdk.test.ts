import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { registerOptions } from './sdk.ts';

describe('registerOptions', () => {
  it('is off unless an endpoint or file is set, or when disabled', () => {
    expect(registerOptions({}).mode).toBe('off');
    expect(registerOptions({ TELEMETRY_FILE: '/x', OTEL_SDK_DISABLED: 'true' }).mode).toBe('off');
    expect(registerOptions({ TELEMETRY_FILE: '/x' })).toMatchObject({
      mode: 'file',
      file: '/x',
      shutdownMs: 5000,
      ratio: 1,
    });
    expect(registerOptions({ TELEMETRY_FILE: '/x', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317' }).mode).toBe(
      'grpc',
    );
  });
  it('rejects bad values naming the variable', () => {
    expect(() => registerOptions({ OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(/OTEL_TRACES_SAMPLER_ARG/);
    expect(() => registerOptions({ TELEMETRY_SHUTDOWN_MS: 'x' })).toThrow(/TELEMETRY_SHUTDOWN_MS/);
  });
});

function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.VITEST;
  return env;
}

describe('register in a real child process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'telemetry-register-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function runAndTerm(
    fixture: string,
    file: string,
  ): Promise<{ code: number | null; signal: string | null; out: string }> {
    const child = spawn(
      process.execPath,
      [
        '--import',
        fileURLToPath(new URL('./register.ts', import.meta.url)),
        fileURLToPath(new URL(`../test/fixtures/${fixture}`, import.meta.url)),
      ],
      {
        env: { ...childEnv(), TELEMETRY_FILE: file, OTEL_SERVICE_NAME: 'fixture-svc' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stderr.on('data', (c) => {
      err += c;
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c) => {
        out += c;
        if (out.includes('ready')) resolve();
      });
      child.on('exit', () => reject(new Error(`exited early: ${err}`)));
    });
    return new Promise((r) => {
      child.on('exit', (code, signal) => r({ code, signal, out }));
      child.kill('SIGTERM');
    });
  }

  it('as the only SIGTERM listener, flushes then exits with 143', async () => {
    const file = join(dir, 'alone.jsonl');
    const { code } = await runAndTerm('traced-service-no-handler.ts', file);
    expect(code).toBe(143);
    expect(readFileSync(file, 'utf8')).toContain('no-handler-span');
  });

  it('flushes spans ended before SIGTERM to the file and keeps the service SIGTERM handler', async () => {
    const file = join(dir, 'traces.jsonl');
    const { code, out } = await runAndTerm('traced-service.ts', file);
    expect(out).toContain('service-handler-ran');
    expect(code).toBe(0);
    const spans = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(spans.map((s) => s.name)).toContain('before-sigterm');
    expect(spans[0].resource['service.name']).toBe('fixture-svc');
  });
});
