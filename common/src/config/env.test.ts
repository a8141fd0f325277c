import { describe, expect, it } from 'vitest';
import { ConfigError, envReader } from './env.ts';

describe('envReader', () => {
  it('reads values with defaults', () => {
    const r = envReader({
      PORT: ' 8080 ',
      ON: 'yes',
      RATIO: '0.5',
      URL: 'http://a.test/',
      MODE: 'b',
      LIST: 'x, y,,z',
    });
    expect(r.int('PORT', 1, 1, 65535)).toBe(8080);
    expect(r.int('MISSING', 7, 1, 10)).toBe(7);
    expect(r.bool('ON', false)).toBe(true);
    expect(r.num('RATIO', 1, 0, 1)).toBe(0.5);
    expect(r.url('URL')).toBe('http://a.test');
    expect(r.oneOf('MODE', ['a', 'b'] as const, 'a')).toBe('b');
    expect(r.list('LIST')).toEqual(['x', 'y', 'z']);
    expect(r.opt('NONE')).toBeUndefined();
    r.done();
  });

  it('collects every problem and names each variable', () => {
    const r = envReader({ PORT: '99999', ON: 'maybe', URL: 'ftp://x', MODE: 'c' });
    r.int('PORT', 1, 1, 65535);
    r.bool('ON', false);
    r.url('URL');
    r.oneOf('MODE', ['a', 'b'] as const, 'a');
    r.str('REQUIRED');
    r.secret('TOKEN', { required: true });
    try {
      r.done();
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const e = err as ConfigError;
      expect(e.code).toBe('CONFIG_INVALID');
      expect(e.problems).toEqual([
        'PORT must be a whole number between 1 and 65535 (got "99999")',
        'ON must be true or false (got "maybe")',
        'URL must be an http(s) URL (got "ftp://x")',
        'MODE must be one of a, b (got "c")',
        'REQUIRED is required',
        'TOKEN (or TOKEN_FILE) is required',
      ]);
    }
  });

  it('reads secrets from NAME_FILE and never echoes them', () => {
    const files: Record<string, string> = { '/run/secrets/t': 'hunter2-but-longer\n' };
    const read = (p: string) => {
      const v = files[p];
      if (v === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
      return v;
    };
    expect(envReader({ T_FILE: '/run/secrets/t' }, read).secret('T')).toBe('hunter2-but-longer');
    const r = envReader({ T: 'short', U_FILE: '/missing', V: 'x', V_FILE: '/run/secrets/t' }, read);
    r.secret('T', { minLength: 32 });
    r.secret('U');
    r.secret('V');
    expect(() => r.done()).toThrow(
      /T is shorter than 32[\s\S]*U_FILE: cannot read "\/missing" \(ENOENT\)[\s\S]*V and V_FILE are both set/,
    );
    expect(() => r.done()).not.toThrow(/"short"|hunter2/);
  });
});
