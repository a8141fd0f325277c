/**
 * Cookie classification over the farm's shared lists (common/cache-rules): exact families, never
 * loose prefixes, so `wordpress_test_cookie` alone keeps a visitor anonymous.
 */
import { BYPASS_COOKIES, IGNORED_COOKIES, matchesCookie } from '@wpfarm/common/cache-rules';

/** The verdict over a Cookie header. */
export interface CookieVerdict {
  /** The family that forces a bypass (e.g. `wordpress_logged_in`), when one is present. */
  bypass?: string;
  /** Cookies that neither bypass nor fragment the cache (analytics, consent, test cookie). */
  ignored: number;
  /** Cookies on no list: they do not bypass, and are not forwarded on cacheable fetches. */
  unknown: number;
}

/** At most this many cookies are examined; a header stuffed beyond it is judged on its first ones. */
export const MAX_COOKIES = 200;

/**
 * Classifies a Cookie header for one site.
 * @example classifyCookies('wordpress_test_cookie=1; _ga=x', []) // { ignored: 2, unknown: 0 }
 */
export function classifyCookies(
  header: string | null | undefined,
  extraBypass: readonly string[],
): CookieVerdict {
  const verdict: CookieVerdict = { ignored: 0, unknown: 0 };
  if (!header) return verdict;
  const parts = header.split(';');
  for (let i = 0; i < parts.length && i < MAX_COOKIES; i++) {
    const part = parts[i] ?? '';
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim();
    if (!name) continue;
    const family = bypassFamily(name, extraBypass);
    if (family) return { ...verdict, bypass: family };
    if (matchesCookie(name, IGNORED_COOKIES)) verdict.ignored++;
    else verdict.unknown++;
  }
  return verdict;
}

function bypassFamily(name: string, extraBypass: readonly string[]): string | undefined {
  for (const p of BYPASS_COOKIES) {
    if (p.kind === 'exact' ? name === p.name : name.startsWith(p.name)) return trimFamily(p.name);
  }
  for (const prefix of extraBypass) if (name.startsWith(prefix)) return trimFamily(prefix);
  return undefined;
}

/** `wordpress_logged_in_` → `wordpress_logged_in`: the family name as shown in reasons. */
function trimFamily(name: string): string {
  return name.replace(/[_-]+$/, '');
}
