import { describe, expect, it } from 'vitest';
import { classifyCookies } from './cookies.ts';

describe('classifyCookies', () => {
  const table: [string, string[], string | undefined, number, number][] = [
    ['', [], undefined, 0, 0],
    ['wordpress_test_cookie=WP%20Cookie%20check', [], undefined, 1, 0],
    ['wordpress_test_cookie=1; _ga=GA1; _ga_ABC=1; _gid=1', [], undefined, 4, 0],
    ['wordpress_logged_in_5f2b=admin', [], 'wordpress_logged_in', 0, 0],
    ['_ga=1; wordpress_sec_5f2b=x', [], 'wordpress_sec', 1, 0],
    ['wp-postpass_abc=x', [], 'wp-postpass', 0, 0],
    ['woocommerce_items_in_cart=1', [], 'woocommerce_items_in_cart', 0, 0],
    // exact family: a longer name is not the family
    ['woocommerce_items_in_cart_x=1', [], undefined, 0, 1],
    ['wordpressuser_abc=1; wp-foo=1', [], undefined, 0, 2],
    ['jetpack_sso=1', [], 'jetpack', 0, 0],
    ['pmpro_visit=1', ['pmpro_visit'], 'pmpro_visit', 0, 0],
    ['pmpro_visit=1', [], undefined, 0, 1],
    ['  spaced = 1 ;;  _fbp=x ', [], undefined, 1, 1],
    ['novalue; OptanonConsent=x', [], undefined, 1, 1],
  ];
  it.each(table)('%s (extras %j)', (header, extras, bypass, ignored, unknown) => {
    const v = classifyCookies(header, extras);
    expect(v.bypass).toBe(bypass);
    if (!bypass) expect([v.ignored, v.unknown]).toEqual([ignored, unknown]);
  });

  it('judges only the first 200 cookies of a stuffed header', () => {
    const header = `${Array.from({ length: 250 }, (_, i) => `c${i}=1`).join('; ')}; wordpress_logged_in_x=1`;
    expect(classifyCookies(header, []).bypass).toBeUndefined();
    expect(classifyCookies(`wordpress_logged_in_x=1; ${header}`, []).bypass).toBe('wordpress_logged_in');
  });
});
