import { DEFAULT_POLICY, type SitePolicy } from '@wpfarm/common/registry/schema';
import { describe, expect, it } from 'vitest';
import { requestPolicy } from './request-policy.ts';

const plain: SitePolicy = { ...DEFAULT_POLICY };
const shop: SitePolicy = { ...DEFAULT_POLICY, woocommerce: true };
const api: SitePolicy = { ...DEFAULT_POLICY, restApiCache: true, extraBypassCookies: ['pmpro_'] };

const req = (path: string, o: { method?: string; cookie?: string; auth?: boolean } = {}) => ({
  method: o.method ?? 'GET',
  url: new URL(`https://a.test${path}`),
  cookie: o.cookie ?? null,
  authorization: o.auth ?? false,
});

describe('requestPolicy', () => {
  it.each([
    ['/', {}, plain, undefined],
    ['/', { method: 'HEAD' }, plain, undefined],
    ['/', { method: 'POST' }, plain, 'method'],
    ['/', { method: 'OPTIONS' }, plain, 'method'],
    ['/', { auth: true }, plain, 'authorization'],
    ['/wp-admin/', {}, plain, 'path:/wp-admin/'],
    ['/wp-admin', {}, plain, 'path:/wp-admin/'],
    ['/wp-admin/admin-ajax.php', {}, plain, 'path:/wp-admin/'],
    ['/wp-json/wp/v2/posts', {}, plain, 'path:/wp-json/'],
    ['/wp-json/wp/v2/posts', {}, api, undefined],
    ['/wp-login.php', {}, plain, 'path:wp-login.php'],
    ['/blog/xmlrpc.php', {}, plain, 'path:xmlrpc.php'],
    ['/wp-comments-post.php', {}, plain, 'path:wp-comments-post.php'],
    ['/?p=1&preview=true', {}, plain, 'query:preview'],
    // Regression (issue 15): only preview=true bypassed; WordPress renders a draft for any value.
    ['/?p=1&preview=1', {}, plain, 'query:preview'],
    ['/?p=1&preview', {}, plain, 'query:preview'],
    // Regression (issue 15): ?rest_route= was cached where /wp-json/ bypassed.
    ['/?rest_route=/wp/v2/posts', {}, plain, 'query:rest_route'],
    ['/index.php?rest_route=%2Fwp%2Fv2%2Fposts', {}, plain, 'query:rest_route'],
    ['/?rest.route=/wp/v2/posts', {}, plain, 'query:rest_route'],
    ['/?rest_route=/wp/v2/posts', {}, api, undefined],
    ['//wp-json/wp/v2/posts', {}, plain, 'path:/wp-json/'],
    ['/wp%2Djson/wp/v2/posts', {}, plain, 'path:/wp-json/'],
    ['//wp-admin/', {}, plain, 'path:/wp-admin/'],
    ['/%77p-admin/', {}, plain, 'path:/wp-admin/'],
    ['/cart/', {}, plain, undefined],
    ['/cart/', {}, shop, 'path:/cart'],
    ['/cartography/', {}, shop, undefined],
    ['/my-account/orders/', {}, shop, 'path:/my-account'],
    ['/shop/?add-to-cart=1', {}, shop, 'query:add-to-cart'],
    ['/', { cookie: 'wordpress_test_cookie=1' }, plain, undefined],
    ['/', { cookie: 'comment_author_x=1' }, plain, 'cookie:comment_author'],
    ['/', { cookie: 'pmpro_visit=1' }, api, 'cookie:pmpro'],
    ['/', { cookie: 'pmpro_visit=1' }, plain, undefined],
  ] as const)('%s %j', (path, o, policy, reason) => {
    const v = requestPolicy(req(path, o), policy);
    expect(v.cache ? undefined : v.reason).toBe(reason);
  });
});
