/**
 * IP addresses for outbound checks: parsing, the special-purpose ranges a name grant never reaches,
 * and address grants (an address or a CIDR range).
 *
 * Node's built-in `net.BlockList` does the range arithmetic (IPv4 and IPv6, and it matches an
 * IPv4-mapped IPv6 address against IPv4 rules); this module adds names for the ranges, so a refusal
 * can say which range an address fell in. The table follows the IANA special-purpose address
 * registries (RFC 6890 and successors): everything in it is refused unless a grant names the
 * address or a range containing it.
 *
 * @internal
 */
import * as net from "node:net"

/** An address as the checks see it: canonical text and family. IPv4-mapped IPv6 is its IPv4. */
export interface Address {
  readonly address: string
  readonly family: 4 | 6
}

/** A special-purpose range: its name (why an address in it is refused) and its CIDR. */
export interface SpecialRange {
  readonly label: string
  readonly cidr: string
}

const v4: ReadonlyArray<SpecialRange> = [
  { label: "unspecified (this network)", cidr: "0.0.0.0/8" },
  { label: "private", cidr: "10.0.0.0/8" },
  { label: "carrier-grade NAT", cidr: "100.64.0.0/10" },
  { label: "loopback", cidr: "127.0.0.0/8" },
  { label: "link-local (cloud metadata lives here)", cidr: "169.254.0.0/16" },
  { label: "private", cidr: "172.16.0.0/12" },
  { label: "IETF protocol assignments", cidr: "192.0.0.0/24" },
  { label: "documentation", cidr: "192.0.2.0/24" },
  { label: "6to4 relay anycast", cidr: "192.88.99.0/24" },
  { label: "private", cidr: "192.168.0.0/16" },
  { label: "benchmarking", cidr: "198.18.0.0/15" },
  { label: "documentation", cidr: "198.51.100.0/24" },
  { label: "documentation", cidr: "203.0.113.0/24" },
  { label: "multicast", cidr: "224.0.0.0/4" },
  { label: "broadcast", cidr: "255.255.255.255/32" },
  { label: "reserved", cidr: "240.0.0.0/4" }
]

const v6: ReadonlyArray<SpecialRange> = [
  { label: "unspecified", cidr: "::/128" },
  { label: "loopback", cidr: "::1/128" },
  { label: "IPv4-compatible IPv6", cidr: "::/96" },
  { label: "IPv4-translated IPv6", cidr: "::ffff:0:0:0/96" },
  { label: "NAT64", cidr: "64:ff9b::/96" },
  { label: "NAT64 (local use)", cidr: "64:ff9b:1::/48" },
  { label: "discard-only", cidr: "100::/64" },
  { label: "IETF protocol assignments (Teredo, ORCHID, ...)", cidr: "2001::/23" },
  { label: "documentation", cidr: "2001:db8::/32" },
  { label: "6to4", cidr: "2002::/16" },
  { label: "documentation", cidr: "3fff::/20" },
  { label: "unique local (ULA)", cidr: "fc00::/7" },
  { label: "link-local", cidr: "fe80::/10" },
  { label: "site-local (deprecated)", cidr: "fec0::/10" },
  { label: "multicast", cidr: "ff00::/8" }
]

/** The ranges refused by default, IPv4 then IPv6 (what the reference docs list). */
export const specialRanges: ReadonlyArray<SpecialRange> = [...v4, ...v6]

const splitCidr = (cidr: string): { readonly network: string; readonly prefix: number } => {
  const slash = cidr.indexOf("/")
  return { network: cidr.slice(0, slash), prefix: Number(cidr.slice(slash + 1)) }
}

// One list per range, in table order: the most specific entries of a family do not overlap except
// `::/96` (IPv4-compatible) over `::` and `::1`, which come first.
const compiled = specialRanges.map((range) => {
  const { network, prefix } = splitCidr(range.cidr)
  const family = net.isIPv6(network) ? "ipv6" : "ipv4"
  const list = new net.BlockList()
  list.addSubnet(network, prefix, family)
  return { range, family, list } as const
})

/** An IPv6 address as eight 16-bit groups, or `undefined`. */
const groups = (address: string): Array<number> | undefined => {
  if (!net.isIPv6(address)) return undefined
  let text = address
  const tail: Array<number> = []
  const lastColon = text.lastIndexOf(":")
  const last = text.slice(lastColon + 1)
  if (last.includes(".")) {
    const parts = last.split(".").map(Number)
    tail.push(((parts[0]! << 8) | parts[1]!) >>> 0, ((parts[2]! << 8) | parts[3]!) >>> 0)
    text = text.slice(0, lastColon + 1) + "0"
  }
  const [head, rest] = text.includes("::") ? text.split("::") as [string, string] : [text, undefined]
  const left = head === "" ? [] : head.split(":").map((g) => parseInt(g, 16))
  const right = rest === undefined || rest === "" ? [] : rest.split(":").map((g) => parseInt(g, 16))
  if (tail.length > 0) right.length > 0 ? right.pop() : left.pop()
  const fill = rest === undefined ? [] : new Array<number>(8 - left.length - right.length - tail.length).fill(0)
  const all = [...left, ...fill, ...right, ...tail]
  return all.length === 8 ? all : undefined
}

/**
 * `text` as an address, when it is one: a dotted IPv4 address or an IPv6 address, bracketed (as a
 * URL's hostname) or not. An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is its IPv4 address: it
 * reaches the same host, so it is checked and connected to as that.
 */
export const parse = (text: string): Address | undefined => {
  const bracketed = text.startsWith("[") && text.endsWith("]")
  const bare = bracketed ? text.slice(1, -1) : text
  if (net.isIPv4(bare)) return bracketed ? undefined : { address: bare, family: 4 }
  const g = groups(bare)
  if (g === undefined) return undefined
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return { address: `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`, family: 4 }
  }
  // inet_ntop's canonical text (RFC 5952): one spelling per address, for audit events.
  return { address: new net.SocketAddress({ address: bare, family: "ipv6" }).address, family: 6 }
}

/** The special-purpose range `address` is in, or `undefined` for a public unicast address. */
export const special = (address: Address): SpecialRange | undefined => {
  const family = address.family === 4 ? "ipv4" : "ipv6"
  for (const entry of compiled) {
    if (entry.family === family && entry.list.check(address.address, family)) return entry.range
  }
  return undefined
}

/** Whether `text` is an IPv4 or IPv6 CIDR range (`10.0.0.0/8`, `fc00::/7`). */
export const isCidr = (text: string): boolean => {
  const slash = text.indexOf("/")
  if (slash < 0) return false
  const network = text.slice(0, slash)
  const prefix = text.slice(slash + 1)
  if (!/^\d{1,3}$/.test(prefix)) return false
  const bits = Number(prefix)
  return (net.isIPv4(network) && bits <= 32) || (net.isIPv6(network) && bits <= 128)
}

/** Address grants compiled: one list per port set (`true`: any port). */
export interface AddressMatcher {
  readonly rules: ReadonlyArray<{ readonly list: net.BlockList; readonly ports: true | ReadonlySet<number> }>
}

/** Compiles addresses and CIDR ranges (as `parse` and `isCidr` accept them) with their ports. */
export const compileAddresses = (
  grants: ReadonlyArray<{ readonly host: string; readonly port?: number | undefined }>
): AddressMatcher => {
  const byPort = new Map<number | "any", net.BlockList>()
  for (const { host, port } of grants) {
    const key = port ?? "any"
    let list = byPort.get(key)
    if (list === undefined) byPort.set(key, list = new net.BlockList())
    if (isCidr(host)) {
      const { network, prefix } = splitCidr(host)
      list.addSubnet(network, prefix, net.isIPv6(network) ? "ipv6" : "ipv4")
    } else {
      const address = parse(host)
      if (address !== undefined) list.addAddress(address.address, address.family === 4 ? "ipv4" : "ipv6")
    }
  }
  return {
    rules: Array.from(byPort, ([port, list]) => ({ list, ports: port === "any" ? true as const : new Set([port]) }))
  }
}

/** Whether an address grant covers `address` on `port`. */
export const matchesAddress = (matcher: AddressMatcher, address: Address, port: number): boolean => {
  const family = address.family === 4 ? "ipv4" : "ipv6"
  for (const rule of matcher.rules) {
    if ((rule.ports === true || rule.ports.has(port)) && rule.list.check(address.address, family)) return true
  }
  return false
}

/** An address or range grant (as opposed to a name grant). */
export const isAddressPattern = (host: string): boolean => isCidr(host) || parse(host) !== undefined
