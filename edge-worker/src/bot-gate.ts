/**
 * The bot gate: what the edge answers itself, before any cache lookup or origin fetch. Pure.
 * Missing `cf` data means "unknown", never "bad": only a client that claims to be a search engine
 * while Cloudflare's bot management says it is not verified is refused for its User-Agent claim.
 */

export interface GateFacts {
  method: string;
  /** URL pathname as received (percent-encoded). */
  path: string;
  userAgent: string;
  /** `request.cf.botManagement.verifiedBot` when bot management data is present. */
  verifiedBot: boolean | undefined;
  xmlrpcAllowed: boolean;
  /** Lower-case User-Agent substrings refused farm-wide. */
  uaBlocklist: readonly string[];
}

export type GateVerdict =
  | { action: 'pass' }
  | { action: 'refuse'; status: number; reason: string }
  | { action: 'limit'; bucket: 'login' | 'xmlrpc' };

const CLAIMED_BOTS: readonly [RegExp, string][] = [
  [/googlebot|google-inspectiontool|adsbot-google/i, 'googlebot'],
  [/bingbot|adidxbot|bingpreview/i, 'bingbot'],
];

/**
 * Reasons a path is a probe for secrets or backups: the rule's name, or undefined. Dotfiles are
 * probes everywhere except the `/.well-known/` folder itself (ACME, security.txt).
 * @example probeReason('/.env') // '.env'
 */
export function probeReason(rawPath: string): string | undefined {
  let path: string;
  try {
    path = decodeURIComponent(rawPath).toLowerCase();
  } catch {
    path = rawPath.toLowerCase();
  }
  const segments = path.split('/').filter(Boolean);
  // `/.well-known/` itself is public (ACME, security.txt); a dotfile inside it is still a probe.
  const dot = segments.find((s, i) => s.startsWith('.') && !(i === 0 && s === '.well-known'));
  if (dot) return dot === '.env' || dot.startsWith('.env.') ? '.env' : dot === '.git' ? '.git' : 'dotfile';
  const file = segments[segments.length - 1] ?? '';
  if (/^wp-config\.php./.test(file) || /^wp-config\.(bak|old|orig|save|txt|swp|backup)$/.test(file))
    return 'wp-config-backup';
  if (/\.sql(\.(gz|zip|bz2|xz|tar))?$/.test(file)) return '.sql';
  if (/\.(bak|backup|old|swp)$/.test(file) || file.endsWith('~')) return 'backup-file';
  if (file === 'debug.log') return 'debug.log';
  if (file.includes('phpinfo')) return 'phpinfo';
  return undefined;
}

/** Runs the gate in order: probes, xmlrpc policy, verified bots, fake search bots, UA blocklist, login limits. */
export function botGate(f: GateFacts): GateVerdict {
  const probe = probeReason(f.path);
  if (probe) return { action: 'refuse', status: 404, reason: `probe:${probe}` };
  const file = f.path.slice(f.path.lastIndexOf('/') + 1).toLowerCase();
  if (file === 'xmlrpc.php' && !f.xmlrpcAllowed)
    return { action: 'refuse', status: 403, reason: 'xmlrpc:disabled' };
  if (f.verifiedBot === true) return { action: 'pass' };
  if (f.verifiedBot === false) {
    for (const [pattern, name] of CLAIMED_BOTS) {
      if (pattern.test(f.userAgent)) return { action: 'refuse', status: 403, reason: `bot:fake-${name}` };
    }
  }
  const ua = f.userAgent.toLowerCase();
  for (const entry of f.uaBlocklist) {
    if (entry && ua.includes(entry)) return { action: 'refuse', status: 403, reason: `ua:${entry}` };
  }
  if (f.method === 'POST' && file === 'wp-login.php') return { action: 'limit', bucket: 'login' };
  if (f.method === 'POST' && file === 'xmlrpc.php') return { action: 'limit', bucket: 'xmlrpc' };
  return { action: 'pass' };
}
