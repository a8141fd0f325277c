/**
 * Who may talk to the front router: the edge secret (constant time, two live keys, from
 * @wpfarm/common/contracts/edge-auth), an optional client allowlist (Cloudflare's ranges), and
 * which hop's `X-Forwarded-For` is believed. Pure.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { edgeSecretMatches } from '@wpfarm/common/contracts/edge-auth';

/** True when the presented `x-edge-auth` value equals one of the live keys. */
export function edgeVerified(presented: string | string[] | undefined, keys: readonly string[]): boolean {
  return typeof presented === 'string' && edgeSecretMatches(presented, keys);
}

/**
 * Parses a comma-separated list of addresses and CIDRs (`10.0.0.0/8, ::1`) into a BlockList.
 * @throws Error naming `field` and the bad entry.
 */
export function parseCidrs(raw: string | undefined, field: string): BlockList | undefined {
  const items = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) return undefined;
  const list = new BlockList();
  for (const item of items) {
    const [addr = '', bits] = item.split('/');
    const type = isIPv4(addr) ? 'ipv4' : isIPv6(addr) ? 'ipv6' : undefined;
    const max = type === 'ipv4' ? 32 : 128;
    const prefix = bits === undefined ? max : Number(bits);
    if (!type || !Number.isInteger(prefix) || prefix < 0 || prefix > max)
      throw new Error(`${field}: "${item}" is not an IP address or CIDR`);
    list.addSubnet(addr, prefix, type);
  }
  return list;
}

function contains(list: BlockList, addr: string): boolean {
  const a = addr.startsWith('::ffff:') && isIPv4(addr.slice(7)) ? addr.slice(7) : addr;
  return isIPv4(a) ? list.check(a, 'ipv4') : isIPv6(a) ? list.check(a, 'ipv6') : false;
}

/**
 * The client's address: the socket peer, unless that peer is a trusted hop, in which case the
 * right-most `X-Forwarded-For` entry that is not itself a trusted hop.
 */
export function clientAddress(
  remote: string,
  xff: string | undefined,
  trusted: BlockList | undefined,
): string {
  if (!trusted || !xff || !contains(trusted, remote)) return remote;
  const hops = xff.split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.trim();
    if (hop && !contains(trusted, hop)) return hop;
  }
  return remote;
}

/** The `X-Forwarded-For` to send on: the trusted chain plus the peer, or just the peer. */
export function forwardedFor(
  remote: string,
  xff: string | undefined,
  trusted: BlockList | undefined,
): string {
  if (xff && trusted && contains(trusted, remote)) return `${xff}, ${remote}`;
  return remote;
}

/** True when `addr` is in `allow` (or no allowlist is configured). */
export function clientAllowed(addr: string, allow: BlockList | undefined): boolean {
  return !allow || contains(allow, addr);
}
