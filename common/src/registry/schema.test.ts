import { describe, expect, it } from 'vitest';
import { parseRegistry } from './load.ts';
import { DEFAULT_POLICY, lookupHost, RegistryError, validateRegistry } from './schema.ts';

const site = (over: Record<string, unknown> = {}) => ({
  id: 'alpha',
  host: 'alpha.farm.test',
  aliases: ['www.alpha.farm.test'],
  upstream: 'http://wp-alpha_nginx:80',
  webhookSecretRef: 'WEBHOOK_SECRET_ALPHA',
  ...over,
});
const doc = (...sites: unknown[]) => ({ version: 1, sites });

function issuesOf(d: unknown, file = 'sites.yaml') {
  try {
    validateRegistry(d, file);
  } catch (err) {
    expect(err).toBeInstanceOf(RegistryError);
    return (err as RegistryError).issues;
  }
  throw new Error('registry unexpectedly valid');
}

describe('validateRegistry', () => {
  it('accepts a valid registry, fills policy defaults and indexes hosts and aliases', () => {
    const reg = validateRegistry(
      doc(site({ policy: { htmlTtl: 30 } }), site({ id: 'beta', host: 'Beta.Farm.Test.', aliases: [] })),
    );
    expect(reg.sites).toHaveLength(2);
    expect(reg.byId.get('alpha')?.policy).toEqual({ ...DEFAULT_POLICY, htmlTtl: 30 });
    expect(reg.byHost.get('www.alpha.farm.test')).toMatchObject({ alias: true, site: { id: 'alpha' } });
    expect(reg.byHost.get('beta.farm.test')).toMatchObject({ alias: false, site: { id: 'beta' } });
  });

  it('applies document defaults under per-site policy', () => {
    const reg = validateRegistry({
      version: 1,
      defaults: { policy: { htmlTtl: 10, xmlrpc: true } },
      sites: [site({ policy: { htmlTtl: 20 } })],
    });
    expect(reg.sites[0]?.policy).toMatchObject({ htmlTtl: 20, xmlrpc: true });
  });

  const rejected: [string, unknown, Partial<{ site: string; field: string; message: RegExp }>][] = [
    [
      'the same host in two sites',
      doc(site(), site({ id: 'beta', host: 'beta.farm.test', aliases: ['alpha.farm.test'] })),
      { site: 'beta', field: 'aliases[0]', message: /already used by site "alpha" \(host\)/ },
    ],
    [
      'a host repeated as its own alias',
      doc(site({ aliases: ['ALPHA.farm.test'] })),
      { site: 'alpha', field: 'aliases[0]', message: /already used/ },
    ],
    [
      'an unknown policy key',
      doc(site({ policy: { htmlTTL: 5 } })),
      { site: 'alpha', field: 'policy.htmlTTL', message: /unknown policy key/ },
    ],
    [
      'an unknown site key',
      doc(site({ upsteam: 'x' })),
      { site: 'alpha', field: 'upsteam', message: /unknown key/ },
    ],
    [
      'a host with a port',
      doc(site({ host: 'alpha.farm.test:8080' })),
      { site: 'alpha', field: 'host', message: /bare host name/ },
    ],
    [
      'a host with a scheme',
      doc(site({ host: 'https://alpha.farm.test' })),
      { field: 'host', message: /bare host name/ },
    ],
    [
      'a host with a bad label',
      doc(site({ host: 'al_pha.farm.test' })),
      { field: 'host', message: /invalid label "al_pha"/ },
    ],
    ['a single-label host', doc(site({ host: 'alpha' })), { field: 'host', message: /two labels/ }],
    ['an IP address as host', doc(site({ host: '10.0.0.1' })), { field: 'host', message: /IP address/ }],
    [
      'a malformed alias',
      doc(site({ aliases: ['ok.farm.test', 'bad..farm.test'] })),
      { field: 'aliases[1]', message: /invalid label/ },
    ],
    [
      'a missing upstream',
      doc(site({ upstream: undefined })),
      { site: 'alpha', field: 'upstream', message: /is required/ },
    ],
    [
      'an upstream that is not a URL',
      doc(site({ upstream: 'wp-alpha_nginx' })),
      { field: 'upstream', message: /not a URL/ },
    ],
    [
      'an upstream with a path',
      doc(site({ upstream: 'http://wp:80/blog' })),
      { field: 'upstream', message: /origin only/ },
    ],
    ['a missing host', doc(site({ host: undefined })), { field: 'host', message: /is required/ }],
    [
      'a bad site id',
      doc(site({ id: 'Alpha Site' })),
      { site: 'Alpha Site', field: 'id', message: /must match/ },
    ],
    [
      'a duplicate site id',
      doc(site(), site({ host: 'other.farm.test', aliases: [] })),
      { field: 'id', message: /duplicate id/ },
    ],
    [
      'a missing secret reference',
      doc(site({ webhookSecretRef: undefined })),
      { field: 'webhookSecretRef', message: /is required/ },
    ],
    [
      'a negative TTL',
      doc(site({ policy: { htmlTtl: -1 } })),
      { field: 'policy.htmlTtl', message: /whole number of seconds/ },
    ],
    [
      'a bad alias mode',
      doc(site({ policy: { aliasMode: 'proxy' } })),
      { field: 'policy.aliasMode', message: /"redirect" or "serve"/ },
    ],
    [
      'a non-boolean flag',
      doc(site({ policy: { xmlrpc: 'yes' } })),
      { field: 'policy.xmlrpc', message: /true or false/ },
    ],
    [
      'a cookie prefix with a space',
      doc(site({ policy: { extraBypassCookies: ['a b'] } })),
      { field: 'policy.extraBypassCookies', message: /cookie-name prefixes/ },
    ],
    [
      'a wrong version',
      { version: 2, sites: [site()] },
      { site: '', field: 'version', message: /must be 1/ },
    ],
    ['an empty site list', { version: 1, sites: [] }, { field: 'sites', message: /non-empty list/ }],
    [
      'an unknown top-level key',
      { version: 1, sites: [site()], site: [] },
      { field: 'site', message: /unknown top-level key/ },
    ],
    [
      'an unknown default policy key',
      { version: 1, defaults: { policy: { ttl: 1 } }, sites: [site()] },
      { field: 'defaults.ttl', message: /unknown policy key/ },
    ],
  ];
  it.each(rejected)('rejects %s, naming file, site and field', (_name, d, expected) => {
    const issues = issuesOf(d);
    const match = issues.find(
      (i) => i.field === expected.field && (expected.site === undefined || i.site === expected.site),
    );
    expect(match, JSON.stringify(issues)).toBeDefined();
    expect(match?.file).toBe('sites.yaml');
    if (expected.message) expect(match?.message).toMatch(expected.message);
  });

  it('reports every problem at once, and the message names file, site and field', () => {
    try {
      validateRegistry(doc(site({ upstream: undefined, policy: { bogus: 1 } })), '/etc/farm/sites.yaml');
      expect.unreachable();
    } catch (err) {
      const e = err as RegistryError;
      expect(e.code).toBe('REGISTRY_INVALID');
      expect(e.issues).toHaveLength(2);
      expect(e.message).toContain('/etc/farm/sites.yaml: site "alpha" field "upstream": is required');
      expect(e.message).toContain('site "alpha" field "policy.bogus": unknown policy key');
    }
  });
});

describe('parseRegistry', () => {
  it('names the file and line of a YAML syntax error', () => {
    expect(() => parseRegistry('version: 1\nsites:\n  - id: [unclosed\n', 'bad.yaml')).toThrow(
      /bad\.yaml: is not valid YAML at line \d/,
    );
  });
  it('rejects duplicate YAML keys instead of silently keeping the last', () => {
    expect(() => parseRegistry('version: 1\nversion: 1\nsites: []\n', 'dup.yaml')).toThrow(
      /dup\.yaml: is not valid YAML/,
    );
  });
  it('parses JSON by extension', () => {
    expect(parseRegistry(JSON.stringify(doc(site())), 'sites.json').sites[0]?.id).toBe('alpha');
  });
});

describe('lookupHost', () => {
  const reg = validateRegistry(doc(site()));
  it.each([
    ['alpha.farm.test', 'alpha', false],
    ['ALPHA.farm.test:443', 'alpha', false],
    ['www.alpha.farm.test.', 'alpha', true],
  ])('%s → %s', (host, id, alias) => {
    expect(lookupHost(reg, host)).toMatchObject({ site: { id }, alias });
  });
  it.each([['unknown.farm.test'], [''], ['[::1]:80'], [null]])('%s → undefined', (host) => {
    expect(lookupHost(reg, host)).toBeUndefined();
  });
});
