/**
 * What a component may do, as data, and the checks that sit on every host call.
 *
 * A `Capability` is one grant: `FileRead`, `FileWrite`, `NetworkOutbound`, `Messaging`, `Storage`,
 * `Custom` or `Environment`. A component's capabilities are compiled once into `Grants` (globs, host and name
 * patterns); the `allows*` functions and `check` then answer one request each with plain string work,
 * in tens to a few hundred nanoseconds. Deny by default: empty `Grants` deny everything, and anything
 * a grant does not spell out is denied.
 *
 * **Config format.** A JSON array of objects, each discriminated by `type` (the capability's name;
 * `_tag` is the in-memory tag and is not accepted in config). Fields are exact: an unknown field is an
 * error, so a typo (`ports` for `port`) cannot silently widen a grant.
 *
 * ```json
 * [
 *   { "type": "FileRead", "glob": "/data/**\/*.txt" },
 *   { "type": "FileWrite", "glob": "/tmp/plugin/**" },
 *   { "type": "NetworkOutbound", "host": "*.example.com", "port": 443 },
 *   { "type": "Messaging", "pattern": "orders.*" },
 *   { "type": "Storage", "namespace": "plugin-a" },
 *   { "type": "Custom", "interface": "game:api/weapons", "scope": "weapons" },
 *   { "type": "Environment", "variables": { "LANG": "C.UTF-8" }, "arguments": ["plugin", "--verbose"] }
 * ]
 * ```
 *
 * **Matching.**
 * - Paths: globs with effect's `Glob` syntax (`*`, `?`, `[...]`, `{a,b}`, `**` for any number of
 *   segments), absolute, matched against canonical absolute paths with `dot: true` (a name starting
 *   with `.` is not special: `/data/**` grants the whole tree). The caller canonicalizes (see
 *   `canonicalize`); a path that is not canonical is denied.
 * - Hosts: `api.example.com` (exactly that host), `*.example.com` (any name under `example.com`, at
 *   any depth, but not `example.com` itself) or `*` (any host); case-insensitive; no `port` means any
 *   port. These are name grants: the addresses a name resolves to must be public unicast. An address
 *   or CIDR range (`127.0.0.1`, `::1`, `10.0.0.0/8`, `fc00::/7`) is an address grant: it is what
 *   lets a request reach a loopback, private, link-local or other special-purpose address (see
 *   `Http`'s address checks).
 * - Names (Messaging targets and topics, Storage namespaces, Custom scopes): `.`-separated; `*` is
 *   one segment or the end of one (`orders.*`, `component:*`), `**` as the last segment is one or
 *   more segments (`orders.**`); everything else is literal.
 * - Custom interfaces: exact; a grant without `@version` covers every version of the interface.
 *
 * @since 0.1.0
 */
import { Effect, Result, Schema, SchemaIssue } from "effect"
import * as Check from "./internal/host/capabilityCheck.ts"
import * as ConfigIssue from "./internal/host/capabilityConfig.ts"
import * as Matching from "./internal/host/capabilityMatch.ts"
import * as Paths from "./internal/host/capabilityPath.ts"

/**
 * @since 0.1.0
 * @category type ids
 */
export const GrantsTypeId: unique symbol = Symbol.for("airssys-wasm/Capability/Grants")

/**
 * @since 0.1.0
 * @category type ids
 */
export type GrantsTypeId = typeof GrantsTypeId

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

const validated = (validate: (value: string) => Matching.Invalid | undefined, expected: string) =>
  Schema.String.check(Schema.makeFilter((value: string) => {
    const invalid = validate(value)
    return invalid === undefined
      ? undefined
      : new SchemaIssue.InvalidValue({ message: invalid.message, reason: invalid.reason })
  }, { expected }))

const PathGlob = validated(Matching.validatePathGlob, "an absolute path glob")
const HostPattern = validated(Matching.validateHostPattern, "a host pattern")
const NamePattern = validated(Matching.validateNamePattern, "a name pattern")
const InterfaceName = validated(Matching.validateInterfaceName, "an interface name")
const Port = Schema.Number.check(Schema.makeFilter((port: number) => {
  const invalid = Matching.validatePort(port)
  return invalid === undefined
    ? undefined
    : new SchemaIssue.InvalidValue({ message: invalid.message, reason: invalid.reason })
}, { expected: "a port from 1 to 65535" }))

/**
 * Read files whose canonical path matches `glob`.
 *
 * Like every capability class, its constructor validates and throws on a bad value (a programming
 * error); config goes through `decode`, which returns a typed `CapabilityConfigError` instead.
 *
 * @since 0.1.0
 * @category models
 */
export class FileRead extends Schema.TaggedClass<FileRead>()("FileRead", { glob: PathGlob }) {}

/**
 * Create, write and delete files whose canonical path matches `glob`. Does not imply `FileRead`.
 *
 * @since 0.1.0
 * @category models
 */
export class FileWrite extends Schema.TaggedClass<FileWrite>()("FileWrite", { glob: PathGlob }) {}

/**
 * Open outbound connections to hosts matching `host`, on `port` (any port when absent).
 *
 * @since 0.1.0
 * @category models
 */
export class NetworkOutbound extends Schema.TaggedClass<NetworkOutbound>()("NetworkOutbound", {
  host: HostPattern,
  port: Schema.optionalKey(Port)
}) {}

/**
 * Send to, request from or publish on targets and topics matching `pattern` (e.g. `orders.*`,
 * `component:billing`).
 *
 * @since 0.1.0
 * @category models
 */
export class Messaging extends Schema.TaggedClass<Messaging>()("Messaging", { pattern: NamePattern }) {}

/**
 * Read and write the key-value storage namespaces matching `namespace`.
 *
 * @since 0.1.0
 * @category models
 */
export class Storage extends Schema.TaggedClass<Storage>()("Storage", { namespace: NamePattern }) {}

/**
 * Call a host-defined interface (e.g. `game:api/weapons`) within the scopes matching `scope`.
 *
 * @since 0.1.0
 * @category models
 */
export class Custom extends Schema.TaggedClass<Custom>()("Custom", {
  interface: InterfaceName,
  scope: NamePattern
}) {}

const Variables = Schema.Record(Schema.String, Schema.String).check(Schema.makeFilter((variables: Readonly<Record<string, string>>) => {
  for (const name of Object.keys(variables)) {
    if (name === "") return new SchemaIssue.InvalidValue({ message: "an empty variable name", reason: "EmptyPattern" })
    if (name.includes("=") || name.includes("\0")) {
      return new SchemaIssue.InvalidValue({ message: `variable name ${JSON.stringify(name)} contains = or NUL`, reason: "InvalidPattern" })
    }
  }
  return undefined
}, { expected: "variable names without = or NUL" }))

/**
 * What a guest sees of `wasi:cli/environment`: these `variables` (name → value) and `arguments`
 * (the program's argv, its name first by convention). Nothing else: a guest never sees the host's
 * own environment, only what a grant spells out (the CLI's `--env NAME` copies one host variable's
 * value into the grant). Several `Environment` grants add up (a later value of a variable wins; their
 * arguments are concatenated).
 *
 * @since 0.1.0
 * @category models
 */
export class Environment extends Schema.TaggedClass<Environment>()("Environment", {
  variables: Schema.optionalKey(Variables),
  arguments: Schema.optionalKey(Schema.Array(Schema.String))
}) {}

/**
 * One grant.
 *
 * @since 0.1.0
 * @category models
 */
export const Capability = Schema.Union([FileRead, FileWrite, NetworkOutbound, Messaging, Storage, Custom, Environment]).pipe(
  Schema.toTaggedUnion("_tag")
)

/**
 * @since 0.1.0
 * @category models
 */
export type Capability = typeof Capability.Type

/**
 * A capability as it is written in config: discriminated by `type`.
 *
 * @since 0.1.0
 * @category models
 */
export const CapabilityJson = Schema.Union([
  FileRead.pipe(Schema.encodeKeys({ _tag: "type" })),
  FileWrite.pipe(Schema.encodeKeys({ _tag: "type" })),
  NetworkOutbound.pipe(Schema.encodeKeys({ _tag: "type" })),
  Messaging.pipe(Schema.encodeKeys({ _tag: "type" })),
  Storage.pipe(Schema.encodeKeys({ _tag: "type" })),
  Custom.pipe(Schema.encodeKeys({ _tag: "type" })),
  Environment.pipe(Schema.encodeKeys({ _tag: "type" }))
])

/**
 * A list of capabilities as it is written in config.
 *
 * @since 0.1.0
 * @category models
 */
export const Config = Schema.Array(CapabilityJson)

/**
 * The name of every capability, as used in config (`type`), in audit events and in requests.
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = Capability["_tag"]

/**
 * @since 0.1.0
 * @category models
 */
export const kinds: ReadonlyArray<Kind> = Capability.discriminants

/**
 * The answer to one request.
 *
 * @since 0.1.0
 * @category models
 */
export const Decision = Schema.Literals(["granted", "denied"])

/**
 * @since 0.1.0
 * @category models
 */
export type Decision = typeof Decision.Type

/**
 * One thing a guest asked for, as `check` takes it. Paths must be canonical (see `canonicalize`).
 *
 * @since 0.1.0
 * @category models
 */
export type Request = Check.Request

/**
 * A component's capabilities, compiled for matching. Make it once per component (or per grant
 * set), not per check.
 *
 * @since 0.1.0
 * @category models
 */
export interface Grants {
  readonly [GrantsTypeId]: GrantsTypeId
  readonly capabilities: ReadonlyArray<Capability>
  /** @internal */
  readonly compiled: Check.Compiled
}

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * Why capability config was rejected.
 *
 * - `Malformed`: not a list, or an entry that is not an object.
 * - `UnknownType`: `type` names no capability.
 * - `MissingField`: a required field (or `type`) is absent.
 * - `UnknownField`: a field the capability does not have.
 * - `InvalidField`: a value of the wrong type (e.g. a number for a glob).
 * - `EmptyPattern`: an empty glob, host, pattern, namespace, scope or interface.
 * - `RelativePath`: a file glob that is not absolute.
 * - `NotCanonical`: a file glob with empty, `.` or `..` segments, a trailing slash, or NUL.
 * - `HostWithScheme`, `HostWithPath`, `HostWithPort`: a URL or `host:port` where a host belongs.
 * - `InvalidPattern`: a pattern outside the supported syntax (e.g. `api.*.com`, `orders.**.eu`).
 * - `PortOutOfRange`: a port that is not an integer from 1 to 65535.
 *
 * @since 0.1.0
 * @category models
 */
export const ConfigFailure = Schema.Literals([
  "Malformed",
  "UnknownType",
  "MissingField",
  "UnknownField",
  "InvalidField",
  "EmptyPattern",
  "RelativePath",
  "NotCanonical",
  "HostWithScheme",
  "HostWithPath",
  "HostWithPort",
  "InvalidPattern",
  "PortOutOfRange"
])

/**
 * @since 0.1.0
 * @category models
 */
export type ConfigFailure = typeof ConfigFailure.Type

/**
 * Capability config that does not decode. `index` is the position of the offending entry, `field`
 * the offending field in it.
 *
 * @since 0.1.0
 * @category errors
 */
export class CapabilityConfigError extends Schema.TaggedError<CapabilityConfigError>()("CapabilityConfigError", {
  reason: ConfigFailure,
  index: Schema.optionalKey(Schema.Int),
  field: Schema.optionalKey(Schema.String),
  message: Schema.String
}) {}

/**
 * Why `canonicalize` refused a path.
 *
 * - `InvalidRoot`: the root is not an absolute canonical path.
 * - `Empty`, `TooLong` (over 4096 characters), `NulByte`, `Backslash`.
 * - `Encoded`: a percent-encoded byte (`%2e%2e`, `%2f`, ...) or a Unicode look-alike of `.` or `/`.
 * - `Escape`: `..` climbs above the root.
 * - `Outside`: an absolute path that is not the root or under it.
 *
 * @since 0.1.0
 * @category models
 */
export const PathFailure = Schema.Literals([
  "InvalidRoot",
  "Empty",
  "TooLong",
  "NulByte",
  "Backslash",
  "Encoded",
  "Escape",
  "Outside"
])

/**
 * @since 0.1.0
 * @category models
 */
export type PathFailure = typeof PathFailure.Type

/**
 * A path a guest asked for that cannot be made canonical inside its root.
 *
 * @since 0.1.0
 * @category errors
 */
export class PathError extends Schema.TaggedError<PathError>()("PathError", {
  reason: PathFailure,
  root: Schema.String,
  path: Schema.String,
  message: Schema.String
}) {}

/**
 * A request the component's grants do not cover: one error wherever a check is made for it. Its fields
 * are those of the `denied` audit event that recorded the decision; `message` is what the component is
 * told.
 *
 * - `Linker.authorize` (host code acting for a component): `capability` is the request's kind,
 *   `resource` its resource (see `resourceOf`), `detail` the one given to `authorize`.
 * - `Router` (and `Messaging`, its host interface): `capability` is `Messaging`, `resource` the address
 *   or topic, and `detail` says which: `target` or `topic` (see `messagingDenied`).
 *
 * @since 0.1.0
 * @category errors
 */
export class CapabilityDenied extends Schema.TaggedError<CapabilityDenied>()("CapabilityDenied", {
  /** The component whose grants were checked: for a message, its sender. */
  component: Schema.String,
  capability: Schema.String,
  resource: Schema.String,
  /** What the request was for, as audited. */
  detail: Schema.optionalKey(Schema.String),
  message: Schema.String
}) {}

/**
 * The `CapabilityDenied` for a message whose sender's `Messaging` grants do not cover its target, or
 * for a topic the component may not publish on or subscribe to.
 *
 * @since 0.2.0
 * @category constructors
 */
export const messagingDenied = (sender: string, kind: "target" | "topic", address: string): CapabilityDenied =>
  new CapabilityDenied({
    component: sender,
    capability: "Messaging",
    resource: address,
    detail: kind,
    message: `${sender} has no Messaging capability for ${kind} ${JSON.stringify(address)}`
  })

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

const decodeConfig = Schema.decodeUnknownEffect(Config, { onExcessProperty: "error" })

/**
 * Decodes capability config (a JSON value: an array of objects discriminated by `type`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const decode = (json: unknown): Effect.Effect<ReadonlyArray<Capability>, CapabilityConfigError> =>
  decodeConfig(json).pipe(Effect.mapError((error) => {
    const problem = ConfigIssue.describe(json, error.issue, { kinds, reasons: ConfigFailure.literals })
    return new CapabilityConfigError({ ...problem, reason: problem.reason as ConfigFailure })
  }))

/**
 * Encodes capabilities as config (the inverse of `decode`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const encode: (capabilities: ReadonlyArray<Capability>) => ReadonlyArray<typeof CapabilityJson.Encoded> = Schema
  .encodeSync(Config)

/**
 * Compiles capabilities into `Grants`: globs, host patterns and name patterns are compiled once here.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeGrants = (capabilities: Iterable<Capability>): Grants => {
  const all = Array.from(capabilities)
  const of = <K extends Kind>(kind: K) =>
    all.filter((capability): capability is Extract<Capability, { _tag: K }> => capability._tag === kind)
  return {
    [GrantsTypeId]: GrantsTypeId,
    capabilities: all,
    compiled: {
      fileRead: Matching.compilePaths(of("FileRead").map((grant) => grant.glob)),
      fileWrite: Matching.compilePaths(of("FileWrite").map((grant) => grant.glob)),
      network: Matching.compileHosts(of("NetworkOutbound")),
      messaging: Matching.compileNames(of("Messaging").map((grant) => grant.pattern)),
      storage: Matching.compileNames(of("Storage").map((grant) => grant.namespace)),
      custom: Matching.compileInterfaces(of("Custom"))
    }
  }
}

/**
 * The environment variables and arguments the grants give a guest (see `Environment`): empty
 * without an `Environment` grant.
 *
 * @since 0.1.0
 * @category combinators
 */
export const environmentOf = (grants: Grants): {
  readonly variables: ReadonlyArray<readonly [string, string]>
  readonly arguments: ReadonlyArray<string>
} => {
  const variables = new Map<string, string>()
  const args: Array<string> = []
  for (const grant of grants.capabilities) {
    if (grant._tag !== "Environment") continue
    for (const [name, value] of Object.entries(grant.variables ?? {})) {
      variables.delete(name)
      variables.set(name, value)
    }
    if (grant.arguments !== undefined) args.push(...grant.arguments)
  }
  return { variables: Array.from(variables), arguments: args }
}

/**
 * No capabilities: denies everything.
 *
 * @since 0.1.0
 * @category constructors
 */
export const emptyGrants: Grants = makeGrants([])

/**
 * Decodes capability config and compiles it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const decodeGrants = (json: unknown): Effect.Effect<Grants, CapabilityConfigError> =>
  Effect.map(decode(json), makeGrants)

/**
 * @since 0.1.0
 * @category guards
 */
export const isGrants = (u: unknown): u is Grants => typeof u === "object" && u !== null && GrantsTypeId in u

// -----------------------------------------------------------------------------
// matching
// -----------------------------------------------------------------------------

/**
 * May the component read the file at `path`? `path` must be canonical (see `canonicalize`); any
 * other path is denied.
 *
 * @since 0.1.0
 * @category guards
 */
export const allowsFileRead: (grants: Grants, path: string) => boolean = Check.allowsFileRead

/**
 * May the component create, write or delete the file at `path`? `path` must be canonical.
 *
 * @since 0.1.0
 * @category guards
 */
export const allowsFileWrite: (grants: Grants, path: string) => boolean = Check.allowsFileWrite

/**
 * May the component connect to `host` on `port`? `host` is a DNS name or IP address (case and one
 * trailing dot ignored; IPv6 bracketed as in a URL); anything else, and a port outside 1..65535, is
 * denied. This is the name check; the addresses a name resolves to are checked with
 * `allowsAddress`.
 *
 * @since 0.1.0
 * @category guards
 */
export const allowsNetwork: (grants: Grants, host: string, port: number) => boolean = Check.allowsNetwork

/**
 * May the component connect to the resolved address `address` (canonical text, IPv4 or IPv6) on
 * `port` through an address grant (an address or CIDR range naming it)? A public unicast address
 * needs none (a name grant suffices); every special-purpose address does.
 *
 * @since 0.2.0
 * @category guards
 */
export const allowsAddress: (grants: Grants, address: string, port: number) => boolean = Check.allowsAddress

/**
 * May the component send to, request from or publish on `target` (a component address or a topic)?
 *
 * @since 0.1.0
 * @category guards
 */
export const allowsMessaging: (grants: Grants, target: string) => boolean = Check.allowsMessaging

/**
 * May the component use the storage namespace `namespace`?
 *
 * @since 0.1.0
 * @category guards
 */
export const allowsStorage: (grants: Grants, namespace: string) => boolean = Check.allowsStorage

/**
 * May the component call the host interface `iface` (e.g. `game:api/weapons@1.0.0`) in `scope`?
 *
 * @since 0.1.0
 * @category guards
 */
export const allowsCustom: (grants: Grants, iface: string, scope: string) => boolean = Check.allowsCustom

/**
 * Answers one request. The same answers as the `allows*` functions, as the value an audit event
 * records.
 *
 * @since 0.1.0
 * @category guards
 */
export const check: (grants: Grants, request: Request) => Decision = Check.check

/**
 * The resource a request is about, as an audit event records it: the path, `host:port`, the target,
 * the namespace, or `interface#scope`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const resourceOf: (request: Request) => string = Check.resourceOf

// -----------------------------------------------------------------------------
// paths
// -----------------------------------------------------------------------------

/**
 * Is `path` canonical: absolute, no empty, `.` or `..` segments, no trailing slash, no NUL or
 * backslash? The file checks deny any other path.
 *
 * @since 0.1.0
 * @category guards
 */
export const isCanonical: (path: string) => boolean = Paths.isCanonical

/**
 * Resolves a path a guest asked for (relative to `root`, or absolute) into the canonical absolute
 * path to check and open. Lexical only: it never touches the filesystem, so resolving symlinks
 * (and refusing those that lead out of `root`) is the filesystem layer's job.
 *
 * Refuses `..` that climbs above `root`, absolute paths outside `root`, percent-encoded bytes
 * (`%2e%2e`), Unicode look-alikes of `.` and `/`, NUL bytes and backslashes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const canonicalize = (root: string, requested: string): Result.Result<string, PathError> => {
  const outcome = Paths.canonicalize(root, requested)
  return outcome._tag === "Path"
    ? Result.succeed(outcome.path)
    : Result.fail(new PathError({ reason: outcome.reason, root, path: requested, message: outcome.message }))
}
