import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Range = [Address, number];

const parse = (address: string): Address | null => {
  try {
    return ipaddr.process(address.trim());
  } catch {
    return null;
  }
};

/** An address or a CIDR range (10.0.0.0/8, fd00::/8), or null when it is neither. */
export function parseRange(value: string): Range | null {
  try {
    if (value.includes('/')) return ipaddr.parseCIDR(value);
    const ip = ipaddr.process(value);
    return [ip, ip.kind() === 'ipv4' ? 32 : 128];
  } catch {
    return null;
  }
}

const inRange = (ip: Address, [base, bits]: Range) => ip.kind() === base.kind() && ip.match(base, bits);

/** Why an address may not be fetched from, or null when it is a public unicast one. */
export function forbiddenAddress(address: string): string | null {
  const ip = parse(address);
  if (!ip) return `${address} is not an IP address`;
  const range = ip.range();
  return range === 'unicast' ? null : `${address} is a ${range} address`;
}

const privateRanges = new Set(['loopback', 'private', 'uniqueLocal', 'linkLocal', 'carrierGradeNat']);

/** Whether an address is on a private network (loopback, RFC 1918, unique local, link-local, CGNAT): not the internet. */
export function isPrivateAddress(address: string): boolean {
  const ip = parse(address);
  return ip !== null && privateRanges.has(ip.range());
}

/**
 * How the client of a request is found behind `trusted` proxies (parsed once): its socket's
 * address, unless that is one of the trusted proxies, then the address the proxies name in
 * X-Forwarded-For, read from the right (the nearest hop) past every trusted proxy. A header
 * from anyone else is not believed.
 */
export function clientAddressResolver(trusted: string[]) {
  const ranges = trusted.map(parseRange).filter((r): r is Range => r !== null);
  const isTrusted = (ip: Address) => ranges.some((r) => inRange(ip, r));
  return (socket: string | null, forwardedFor: string | undefined): string | null => {
    if (!socket || ranges.length === 0 || !forwardedFor) return socket;
    const fromSocket = parse(socket);
    if (!fromSocket || !isTrusted(fromSocket)) return socket;
    const hops = forwardedFor.split(',');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = parse(hops[i]!);
      if (!hop) return socket; // a hop that is not an address: the chain cannot be read past it
      if (!isTrusted(hop)) return hop.toString();
    }
    return socket;
  };
}
