import { readFileSync } from 'node:fs';

/**
 * Reading a service's configuration from the environment, once, at start. Every reader
 * collects problems instead of throwing at the first, so an operator sees every bad variable in
 * one message; `done()` throws `ConfigError` listing them.
 */

export type Env = Record<string, string | undefined>;

/** Thrown by `done()` when any variable was missing or malformed. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface EnvReader {
  /** A string; `required` when no default is given. */
  str(name: string, def?: string): string;
  /** An optional string: undefined when unset or empty. */
  opt(name: string): string | undefined;
  int(name: string, def: number, min: number, max: number): number;
  num(name: string, def: number, min: number, max: number): number;
  bool(name: string, def: boolean): boolean;
  /** An http(s) URL without a trailing slash. */
  url(name: string, def?: string): string;
  /** One of `choices`. */
  oneOf<T extends string>(name: string, choices: readonly T[], def: T): T;
  /** A comma-separated list, trimmed, empty items dropped. */
  list(name: string, def?: string[]): string[];
  /**
   * A secret from `NAME`, or from the file named by `NAME_FILE` (Docker secrets), trailing newline
   * dropped. Never echoed into a problem message.
   */
  secret(name: string, opts?: { required?: boolean; minLength?: number }): string | undefined;
  /** Records a problem found by the caller (a cross-field rule). */
  problem(message: string): void;
  /** Throws ConfigError when any problem was recorded. */
  done(): void;
}

/**
 * Makes a reader over `env`; `readFile` is injectable for tests.
 * @example const r = envReader(process.env); const port = r.int('PORT', 8080, 1, 65535); r.done();
 */
export function envReader(
  env: Env,
  readFile: (path: string) => string = (p) => readFileSync(p, 'utf8'),
): EnvReader {
  const problems: string[] = [];
  const raw = (name: string) => {
    const v = env[name]?.trim();
    return v === '' ? undefined : v;
  };
  const r: EnvReader = {
    str(name, def) {
      const v = raw(name);
      if (v !== undefined) return v;
      if (def === undefined) problems.push(`${name} is required`);
      return def ?? '';
    },
    opt: (name) => raw(name),
    int(name, def, min, max) {
      const v = raw(name);
      if (v === undefined) return def;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        problems.push(`${name} must be a whole number between ${min} and ${max} (got "${v}")`);
        return def;
      }
      return n;
    },
    num(name, def, min, max) {
      const v = raw(name);
      if (v === undefined) return def;
      const n = Number(v);
      if (!Number.isFinite(n) || n < min || n > max) {
        problems.push(`${name} must be a number between ${min} and ${max} (got "${v}")`);
        return def;
      }
      return n;
    },
    bool(name, def) {
      const v = raw(name)?.toLowerCase();
      if (v === undefined) return def;
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      problems.push(`${name} must be true or false (got "${v}")`);
      return def;
    },
    url(name, def) {
      const v = raw(name) ?? def;
      if (v === undefined) {
        problems.push(`${name} is required (an http(s) URL)`);
        return '';
      }
      try {
        const u = new URL(v);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
        return u.toString().replace(/\/$/, '');
      } catch {
        problems.push(`${name} must be an http(s) URL (got "${v}")`);
        return v;
      }
    },
    oneOf(name, choices, def) {
      const v = raw(name);
      if (v === undefined) return def;
      if ((choices as readonly string[]).includes(v)) return v as (typeof choices)[number];
      problems.push(`${name} must be one of ${choices.join(', ')} (got "${v}")`);
      return def;
    },
    list(name, def = []) {
      const v = raw(name);
      if (v === undefined) return def;
      return v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    },
    secret(name, opts = {}) {
      const file = raw(`${name}_FILE`);
      let value = env[name];
      if (file) {
        if (value) problems.push(`${name} and ${name}_FILE are both set; use one`);
        try {
          value = readFile(file).replace(/\r?\n$/, '');
        } catch (err) {
          problems.push(
            `${name}_FILE: cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
          );
          return undefined;
        }
      }
      if (!value) {
        if (opts.required) problems.push(`${name} (or ${name}_FILE) is required`);
        return undefined;
      }
      if (opts.minLength && value.length < opts.minLength)
        problems.push(`${name} is shorter than ${opts.minLength} characters`);
      return value;
    },
    problem: (m) => void problems.push(m),
    done() {
      if (problems.length) throw new ConfigError([...problems]);
    },
  };
  return r;
}
