/**
 * Compiled matchers for capability grants. Patterns are validated when capabilities are decoded and
 * compiled once per grant set; matching is allocation-free string work on the hot path.
 *
 * @internal
 */
import { Glob } from "effect"
import * as Ip from "./ipAddress.ts"

// -----------------------------------------------------------------------------
// validation (used by the capability schemas)
// -----------------------------------------------------------------------------

/** A validation failure: the config error reason and a message for people. */
export interface Invalid {
  readonly reason:
    | "EmptyPattern"
    | "RelativePath"
    | "NotCanonical"
    | "HostWithScheme"
    | "HostWithPath"
    | "HostWithPort"
    | "InvalidPattern"
    | "PortOutOfRange"
  readonly message: string
}

const globMagic = /[*?[\]{}\\]/

/** A FileRead / FileWrite glob: absolute, and every literal segment canonical. */
export const validatePathGlob = (glob: string): Invalid | undefined => {
  if (glob.length === 0) return { reason: "EmptyPattern", message: "glob must not be empty" }
  if (glob.charCodeAt(0) !== 47) {
    return { reason: "RelativePath", message: `glob must be an absolute path, got ${JSON.stringify(glob)}` }
  }
  if (glob.includes("\0")) return { reason: "NotCanonical", message: "glob must not contain a NUL byte" }
  if (glob.length > 1) {
    const segments = glob.slice(1).split("/")
    for (const segment of segments) {
      if (segment === "" || segment === "." || segment === "..") {
        return {
          reason: "NotCanonical",
          message: `glob must not have empty, "." or ".." segments or a trailing slash ` +
            `(use /dir/** for a directory's contents), got ${JSON.stringify(glob)}`
        }
      }
    }
  }
  return undefined
}

const hostLabel = "[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
const hostPatternSyntax = new RegExp(`^(?:\\*|(?:\\*\\.)?${hostLabel}(?:\\.${hostLabel})*)$`, "i")
const scheme = /^[a-z][a-z0-9+.-]*:\/\//i

/**
 * A NetworkOutbound host pattern: `api.example.com`, `*.example.com` or `*` (name grants), or an
 * address or CIDR range (`127.0.0.1`, `::1`, `[::1]`, `10.0.0.0/8`, `fc00::/7`: address grants).
 */
export const validateHostPattern = (host: string): Invalid | undefined => {
  if (host.length === 0) return { reason: "EmptyPattern", message: "host must not be empty" }
  if (Ip.isAddressPattern(host)) return undefined
  if (scheme.test(host)) {
    return { reason: "HostWithScheme", message: `host must be a host name without a scheme, got ${JSON.stringify(host)}` }
  }
  if (/[/?#]/.test(host)) {
    return { reason: "HostWithPath", message: `host must be a host name without a path, got ${JSON.stringify(host)}` }
  }
  if (host.includes(":")) {
    return {
      reason: "HostWithPort",
      message: `host must not carry a port (use the port field), got ${JSON.stringify(host)}`
    }
  }
  if (host.length > 253 || !hostPatternSyntax.test(host)) {
    return {
      reason: "InvalidPattern",
      message: `host must be a DNS name optionally prefixed by "*." (or "*" alone), an IP address or a CIDR range, got ${
        JSON.stringify(host)
      }`
    }
  }
  return undefined
}

/** A port: an integer in 1..65535. */
export const validatePort = (port: number): Invalid | undefined =>
  Number.isInteger(port) && port >= 1 && port <= 65535
    ? undefined
    : { reason: "PortOutOfRange", message: `port must be an integer from 1 to 65535, got ${port}` }

const nameCharacters = /^[\x21-\x7e]+$/

/**
 * A name pattern (Messaging targets and topics, Storage namespaces, Custom scopes): `.`-separated
 * segments; `*` stands for one segment or ends one (`orders.*`, `component:*`, `eu-*`), and `**` as
 * the last segment stands for one or more segments (`orders.**`). Nothing else is special. The shape
 * keeps the compiled regular expression free of backtracking.
 */
export const validateNamePattern = (pattern: string): Invalid | undefined => {
  if (pattern.length === 0) return { reason: "EmptyPattern", message: "pattern must not be empty" }
  const invalid = (why: string): Invalid => ({
    reason: "InvalidPattern",
    message: `${why}, got ${JSON.stringify(pattern)}`
  })
  if (!nameCharacters.test(pattern)) return invalid("pattern must be printable ASCII without spaces")
  const segments = pattern.split(".")
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!
    if (segment === "") return invalid("pattern must not have empty segments")
    if (segment === "**") {
      if (i !== segments.length - 1) return invalid(`"**" may only be the last segment`)
      continue
    }
    const star = segment.indexOf("*")
    if (star !== -1 && star !== segment.length - 1) {
      return invalid(`"*" may only stand for a whole segment or end one`)
    }
  }
  return undefined
}

const interfaceName = /^[a-z][a-z0-9-]*(?::[a-z][a-z0-9-]*)+(?:\/[a-z][a-z0-9-]*)+(?:@[0-9A-Za-z.+-]+)?$/

/** A component-model interface name: `namespace:package/interface`, optionally `@version`. */
export const validateInterfaceName = (name: string): Invalid | undefined => {
  if (name.length === 0) return { reason: "EmptyPattern", message: "interface must not be empty" }
  return interfaceName.test(name) ? undefined : {
    reason: "InvalidPattern",
    message: `interface must look like "namespace:package/interface" (optionally "@version"), got ${JSON.stringify(name)}`
  }
}

// -----------------------------------------------------------------------------
// paths
// -----------------------------------------------------------------------------

/**
 * One compiled path glob. The common shapes get a string-only matcher; anything else goes to
 * effect's `Glob` (with `dot: true`), behind a literal-prefix check. The shapes agree with `Glob` on
 * canonical paths (the tests check this against `Glob` itself).
 */
type PathRule =
  /** `/a/b`: the path itself. */
  | { readonly _tag: "Exact"; readonly path: string }
  /** `/a/**`: `/a` and everything under it. */
  | { readonly _tag: "Subtree"; readonly dir: string; readonly prefix: string }
  /** `/a/head*tail`: one name directly in `/a`. */
  | { readonly _tag: "Child"; readonly prefix: string; readonly head: string; readonly tail: string }
  /** `/a/**\/head*tail`: a name anywhere under `/a`. */
  | { readonly _tag: "Descendant"; readonly prefix: string; readonly head: string; readonly tail: string }
  | { readonly _tag: "Glob"; readonly prefix: string; readonly glob: Glob.Glob }

const compilePathGlob = (pattern: string): PathRule => {
  if (!globMagic.test(pattern)) return { _tag: "Exact", path: pattern }
  const slash = pattern.lastIndexOf("/")
  const dir = pattern.slice(0, slash)
  const name = pattern.slice(slash + 1)
  if (!globMagic.test(dir)) {
    if (name === "**") return { _tag: "Subtree", dir, prefix: dir + "/" }
    const star = name.indexOf("*")
    if (isSingleStar(name, star)) {
      return { _tag: "Child", prefix: dir + "/", head: name.slice(0, star), tail: name.slice(star + 1) }
    }
  }
  const parent = dir.lastIndexOf("/")
  if (dir.slice(parent + 1) === "**") {
    const above = dir.slice(0, parent)
    const star = name.indexOf("*")
    if (!globMagic.test(above) && isSingleStar(name, star)) {
      return { _tag: "Descendant", prefix: above + "/", head: name.slice(0, star), tail: name.slice(star + 1) }
    }
  }
  const magic = pattern.search(globMagic)
  return {
    _tag: "Glob",
    prefix: pattern.slice(0, pattern.lastIndexOf("/", magic) + 1),
    glob: Glob.make(pattern, { dot: true })
  }
}

// `head*tail` with one `*` and nothing else special: `*` is at `star`, and no other magic character.
const isSingleStar = (name: string, star: number): boolean =>
  star !== -1 && name !== "**" && !globMagic.test(name.slice(0, star)) && !globMagic.test(name.slice(star + 1))

// The name starting at `from` (the rest of the path, one segment) matches `head*tail`. `*` may match
// the empty string, so only the lengths of `head` and `tail` are required.
const nameMatches = (path: string, from: number, head: string, tail: string): boolean =>
  path.length - from >= head.length + tail.length && (head.length === 0 || path.startsWith(head, from)) &&
  (tail.length === 0 || path.endsWith(tail))

// Each rule becomes a closure: one monomorphic call per rule on the hot path.
const ruleMatcher = (rule: Exclude<PathRule, { readonly _tag: "Exact" }>): (path: string) => boolean => {
  switch (rule._tag) {
    case "Subtree": {
      const { dir, prefix } = rule
      return (path) => path.startsWith(prefix) || path === dir
    }
    case "Child": {
      const { head, prefix, tail } = rule
      const from = prefix.length
      return (path) =>
        path.length > from && path.startsWith(prefix) && path.indexOf("/", from) === -1 &&
        nameMatches(path, from, head, tail)
    }
    case "Descendant": {
      const { head, prefix, tail } = rule
      return (path) => {
        if (!path.startsWith(prefix)) return false
        const from = path.lastIndexOf("/") + 1
        return from >= prefix.length && path.length > from && nameMatches(path, from, head, tail)
      }
    }
    case "Glob": {
      const { glob, prefix } = rule
      return (path) => path.startsWith(prefix) && Glob.match(glob, path)
    }
  }
}

/** A set of path globs, compiled. */
export interface PathMatcher {
  readonly exact: ReadonlySet<string>
  readonly rules: ReadonlyArray<(path: string) => boolean>
}

export const compilePaths = (globs: Iterable<string>): PathMatcher => {
  const exact = new Set<string>()
  const rules: Array<(path: string) => boolean> = []
  for (const glob of globs) {
    const rule = compilePathGlob(glob)
    if (rule._tag === "Exact") exact.add(rule.path)
    else rules.push(ruleMatcher(rule))
  }
  return { exact, rules }
}

/** `path` must already be canonical. */
export const matchesPath = (matcher: PathMatcher, path: string): boolean => {
  if (matcher.exact.has(path)) return true
  const rules = matcher.rules
  for (let i = 0; i < rules.length; i++) {
    if (rules[i]!(path)) return true
  }
  return false
}

/** Exposed for the tests: which string matcher a glob compiles to. */
export const pathRuleKind = (glob: string): PathRule["_tag"] => compilePathGlob(glob)._tag

/** Exposed for the tests: one glob's compiled matcher. */
export const matchesPathGlob = (glob: string, path: string): boolean => matchesPath(compilePaths([glob]), path)

// -----------------------------------------------------------------------------
// hosts
// -----------------------------------------------------------------------------

/** `true`: any port; otherwise the granted ports. */
type Ports = true | ReadonlySet<number>

const addPorts = (ports: Ports | undefined, port: number | undefined): Ports => {
  if (ports === true || port === undefined) return true
  return new Set(ports === undefined ? [port] : [...ports, port])
}

/** NetworkOutbound grants, compiled: exact hosts, `*.suffix` rules and the `*` rule; address grants. */
export interface HostMatcher {
  readonly exact: ReadonlyMap<string, Ports>
  /** `.example.com` for `*.example.com`. */
  readonly suffixes: ReadonlyArray<readonly [suffix: string, ports: Ports]>
  readonly any: Ports | undefined
  /** Addresses and CIDR ranges. */
  readonly addresses: Ip.AddressMatcher
}

export const compileHosts = (
  grants: Iterable<{ readonly host: string; readonly port?: number | undefined }>
): HostMatcher => {
  const exact = new Map<string, Ports>()
  const suffixes = new Map<string, Ports>()
  let any: Ports | undefined
  const addresses: Array<{ readonly host: string; readonly port?: number | undefined }> = []
  for (const { host, port } of grants) {
    if (Ip.isAddressPattern(host)) addresses.push({ host, port })
    const pattern = host.toLowerCase()
    if (pattern === "*") any = addPorts(any, port)
    else if (pattern.startsWith("*.")) suffixes.set(pattern.slice(1), addPorts(suffixes.get(pattern.slice(1)), port))
    else exact.set(pattern, addPorts(exact.get(pattern), port))
  }
  return { exact, suffixes: [...suffixes], any, addresses: Ip.compileAddresses(addresses) }
}

// The requested host, lowercased and without one trailing dot, or `undefined` when it is not a DNS
// name or IPv4 address (labels of letters, digits, `_` and inner `-`). A loop, not a regular
// expression, and no new string unless there is something to change.
const normalizeHost = (host: string): string | undefined => {
  let length = host.length
  if (length > 0 && host.charCodeAt(length - 1) === 46) length--
  if (length === 0 || length > 253) return undefined
  let upper = false
  let previous = 46
  for (let i = 0; i < length; i++) {
    const code = host.charCodeAt(i)
    if ((code >= 97 && code <= 122) || (code >= 48 && code <= 57) || code === 95) {
      // a-z, 0-9, _
    } else if (code >= 65 && code <= 90) {
      upper = true
    } else if (code === 45) {
      if (previous === 46) return undefined
    } else if (code === 46) {
      if (previous === 46 || previous === 45) return undefined
    } else {
      return undefined
    }
    previous = code
  }
  if (previous === 45) return undefined
  const name = length === host.length ? host : host.slice(0, length)
  return upper ? name.toLowerCase() : name
}

const allowsPort = (ports: Ports | undefined, port: number): boolean =>
  ports !== undefined && (ports === true || ports.has(port))

/**
 * Whether an address grant (not a name grant) covers `address` on `port`: what lets a name resolve
 * to a loopback, private or other special-purpose address.
 */
export const matchesAddressGrant = (matcher: HostMatcher, address: Ip.Address, port: number): boolean =>
  Ip.matchesAddress(matcher.addresses, address, port)

/**
 * `host` is a host name as the guest asked for it: compared case-insensitively, one trailing dot
 * ignored; anything that is not a DNS name or IPv4 address is denied.
 */
export const matchesHost = (matcher: HostMatcher, host: string, port: number): boolean => {
  if (!(port >= 1 && port <= 65535 && Number.isInteger(port))) return false
  const name = normalizeHost(host)
  if (name === undefined) {
    // An IPv6 literal (`[::1]`): an address grant, or `*`.
    const address = Ip.parse(host)
    return address !== undefined && (Ip.matchesAddress(matcher.addresses, address, port) || allowsPort(matcher.any, port))
  }
  if (matcher.addresses.rules.length > 0) {
    const address = Ip.parse(name)
    if (address !== undefined && Ip.matchesAddress(matcher.addresses, address, port)) return true
  }
  if (allowsPort(matcher.exact.get(name), port)) return true
  const suffixes = matcher.suffixes
  for (let i = 0; i < suffixes.length; i++) {
    const [suffix, ports] = suffixes[i]!
    if (name.length > suffix.length && name.endsWith(suffix) && allowsPort(ports, port)) return true
  }
  return allowsPort(matcher.any, port)
}

// -----------------------------------------------------------------------------
// names (messaging targets and topics, storage namespaces, custom scopes)
// -----------------------------------------------------------------------------

/** Name patterns, compiled: literal names in a set, wildcard patterns in one anchored expression. */
export interface NameMatcher {
  readonly exact: ReadonlySet<string>
  readonly wildcard: RegExp | undefined
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&")

const namePatternSource = (pattern: string): string =>
  pattern.split(".").map((segment) =>
    segment === "**" ? ".+" : segment.endsWith("*") ? escapeRegExp(segment.slice(0, -1)) + "[^.]+" : escapeRegExp(segment)
  ).join("\\.")

export const compileNames = (patterns: Iterable<string>): NameMatcher => {
  const exact = new Set<string>()
  const wildcards: Array<string> = []
  for (const pattern of patterns) {
    if (pattern.includes("*")) wildcards.push(namePatternSource(pattern))
    else exact.add(pattern)
  }
  return {
    exact,
    wildcard: wildcards.length === 0 ? undefined : new RegExp(`^(?:${wildcards.join("|")})$`)
  }
}

export const matchesName = (matcher: NameMatcher, name: string): boolean =>
  matcher.exact.has(name) || (matcher.wildcard !== undefined && matcher.wildcard.test(name))

export const emptyNames: NameMatcher = { exact: new Set(), wildcard: undefined }

/** Custom grants: interface name → scope patterns. An unversioned grant covers every version. */
export type InterfaceMatcher = ReadonlyMap<string, NameMatcher>

export const compileInterfaces = (
  grants: Iterable<{ readonly interface: string; readonly scope: string }>
): InterfaceMatcher => {
  const scopes = new Map<string, Array<string>>()
  for (const grant of grants) {
    const list = scopes.get(grant.interface)
    if (list === undefined) scopes.set(grant.interface, [grant.scope])
    else list.push(grant.scope)
  }
  return new Map([...scopes].map(([iface, patterns]) => [iface, compileNames(patterns)]))
}

export const matchesInterface = (matcher: InterfaceMatcher, iface: string, scope: string): boolean => {
  const exact = matcher.get(iface)
  if (exact !== undefined && matchesName(exact, scope)) return true
  const at = iface.indexOf("@")
  if (at === -1) return false
  const anyVersion = matcher.get(iface.slice(0, at))
  return anyVersion !== undefined && matchesName(anyVersion, scope)
}
