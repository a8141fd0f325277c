import { describe, expect, it } from 'vitest';
import { clientAddress, clientAllowed, edgeVerified, forwardedFor, parseCidrs } from './edge-auth.ts';

const k1 = 'k'.repeat(32);
const k2 = 'n'.repeat(40);

describe('edge auth', () => {
  it('accepts both live keys and nothing else', () => {
    expect(edgeVerified(k1, [k1, k2])).toBe(true);
    expect(edgeVerified(k2, [k1, k2])).toBe(true);
    expect(edgeVerified(`${k1}x`, [k1, k2])).toBe(false);
    expect(edgeVerified(undefined, [k1])).toBe(false);
    expect(edgeVerified([k1, k1], [k1])).toBe(false);
    expect(edgeVerified('', [k1])).toBe(false);
  });

  it('believes X-Forwarded-For only from a trusted hop', () => {
    const trusted = parseCidrs('10.0.0.0/8, ::1', 'TRUSTED_HOPS');
    expect(clientAddress('203.0.113.9', '1.2.3.4', trusted)).toBe('203.0.113.9');
    expect(clientAddress('10.0.0.5', '1.2.3.4, 10.0.0.7', trusted)).toBe('1.2.3.4');
    expect(clientAddress('::ffff:10.0.0.5', '1.2.3.4', trusted)).toBe('1.2.3.4');
    expect(forwardedFor('10.0.0.5', '1.2.3.4', trusted)).toBe('1.2.3.4, 10.0.0.5');
    expect(forwardedFor('203.0.113.9', '1.2.3.4', trusted)).toBe('203.0.113.9');
  });

  it('applies the client allowlist', () => {
    const cf = parseCidrs('173.245.48.0/20', 'CLIENT_ALLOWLIST');
    expect(clientAllowed('173.245.50.1', cf)).toBe(true);
    expect(clientAllowed('8.8.8.8', cf)).toBe(false);
    expect(clientAllowed('8.8.8.8', undefined)).toBe(true);
  });

  it('names the variable on a bad CIDR', () => {
    expect(() => parseCidrs('10.0.0.0/33', 'TRUSTED_HOPS')).toThrow(/TRUSTED_HOPS: "10.0.0.0\/33"/);
    expect(() => parseCidrs('example.com', 'X')).toThrow(/X: "example.com"/);
  });
});
