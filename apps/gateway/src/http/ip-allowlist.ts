import ipaddr from "ipaddr.js";

/** Svix's published EU egress addresses (Engage sends from the EU region). */
export const SVIX_EU_RANGES: readonly string[] = [
  "52.215.16.239/32",
  "54.216.8.72/32",
  "63.33.109.123/32",
  "2a05:d028:17:8000::/56",
];

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Expands `svix-eu` and plain addresses to CIDRs and returns a matcher for client addresses. */
export function createIpMatcher(entries: readonly string[]): (ip: string | undefined) => boolean {
  const ranges: Range[] = [];
  for (const entry of entries) {
    for (const cidr of entry === "svix-eu" ? SVIX_EU_RANGES : [entry]) {
      if (cidr.includes("/")) ranges.push(ipaddr.parseCIDR(cidr));
      else {
        const addr = ipaddr.process(cidr);
        ranges.push([addr, addr.kind() === "ipv4" ? 32 : 128]);
      }
    }
  }
  return (ip) => {
    if (!ip || !ipaddr.isValid(ip)) return false;
    // ::ffff:1.2.3.4 (how a dual-stack socket reports IPv4) is matched as 1.2.3.4.
    const addr = ipaddr.process(ip);
    return ranges.some(([range, bits]) => addr.kind() === range.kind() && addr.match(range, bits));
  };
}
