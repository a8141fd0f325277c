import { parseRegistry } from '@wpfarm/common/registry/load';
import { expect, it } from 'vitest';
import { checkScope } from './scope.ts';

const site = parseRegistry(`
version: 1
sites:
  - { id: alpha, host: alpha.test, aliases: [www.alpha.test], upstream: "http://a:80", webhookSecretRef: A }
  - { id: alphabet, host: alphabet.test, upstream: "http://b:80", webhookSecretRef: B }
`).byId.get('alpha')!;

it.each([
  [{ site: 'alpha', urls: ['http://alpha.test/', 'https://www.alpha.test/x'] }, { ok: true }],
  [
    { site: 'alpha', urls: ['http://alphabet.test/'] },
    { ok: false, code: 'FORBIDDEN_HOST', field: 'urls[0]' },
  ],
  [
    { site: 'alpha', urls: ['http://evil.alpha.test/'] },
    { ok: false, code: 'FORBIDDEN_HOST', field: 'urls[0]' },
  ],
  [{ site: 'alpha', tags: ['alpha-p-1', 'alpha-home'] }, { ok: true }],
  [
    { site: 'alpha', tags: ['alpha-p-1', 'p-1'] },
    { ok: false, code: 'FORBIDDEN_TAG', field: 'tags[1]' },
  ],
  [
    { site: 'alpha', tags: ['alphabet-p-1'] },
    { ok: false, code: 'FORBIDDEN_TAG', field: 'tags[0]' },
  ],
  [
    { site: 'alpha', tags: ['alpha-'] },
    { ok: false, code: 'FORBIDDEN_TAG', field: 'tags[0]' },
  ],
])('%j → %j', (req, want) => {
  expect(checkScope(site, req)).toMatchObject(want);
});
