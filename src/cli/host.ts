/**
 * The host `airssys-wasm run` links a component into: which host interfaces exist, which capability
 * gates each, and the services behind them. Deny by default: a gated interface links only when a
 * `--allow-*` flag granted its capability; everything else the component imports is linked to deny
 * stubs, whose every call is audited and answered with `err`.
 *
 * To add a host interface: one line in `hosts`, pairing its `hostInterface` with the layer of its
 * service (the compiler checks the layer provides what the interface needs; the audit log is there for
 * every layer).
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as Audit from "../Audit.ts"
import type * as Capability from "../Capability.ts"
import * as CliExit from "../capability/CliExit.ts"
import * as Clocks from "../capability/Clocks.ts"
import * as Environment from "../capability/Environment.ts"
import * as Filesystem from "../capability/Filesystem.ts"
import * as Http from "../capability/Http.ts"
import * as Logging from "../capability/Logging.ts"
import * as Random from "../capability/Random.ts"
import * as Sockets from "../capability/Sockets.ts"
import * as WasiHttp from "../capability/WasiHttp.ts"
import * as Stdio from "../capability/Stdio.ts"
import * as Storage from "../capability/Storage.ts"
import { HostRefusal } from "../ComponentError.ts"
import * as Linker from "../Linker.ts"
import { unversioned } from "../internal/witName.ts"

/**
 * The sender a guest sees for what the CLI sends it (`handle-message`'s `msg.sender`).
 *
 * @since 0.1.0
 * @category models
 */
export const cliSender = "cli"

/**
 * Where the host writes what is not the guest's result: guest log lines, messages it sent, denials.
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  readonly line: (text: string) => Effect.Effect<void>
}

const preview = (payload: Uint8Array): string => {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(payload.subarray(0, 64))
  return JSON.stringify(text) + (payload.byteLength > 64 ? "…" : "")
}

/**
 * `airssys:component/messaging` for a single-component run: there is nobody to deliver to, so what the
 * guest sends or publishes (within its `Messaging` grants) is reported on stderr, and a request is
 * answered with `err`.
 *
 * @since 0.1.0
 * @category models
 */
export const messaging = (report: Report): Linker.HostInterface => {
  const request = (target: string): Capability.Request => ({ _tag: "Messaging", target })
  const reported = (verb: string) => (target: string, payload: Uint8Array) =>
    report.line(`${verb} ${target}: ${payload.byteLength} bytes ${preview(payload)}`)
  return Linker.hostInterface({
    name: "airssys:component/messaging",
    capability: "Messaging",
    make: Effect.succeed((target) => ({
      send: { request, run: reported(`message from ${target.componentId} →`) },
      publish: { request, run: reported(`published by ${target.componentId} on`) },
      request: {
        request,
        run: (address: string) =>
          Effect.fail(new HostRefusal({ payload: `no component answers at ${address}: airssys-wasm run hosts one component` }))
      },
      subscribe: { request, run: () => Effect.void }
    }))
  })
}

/**
 * Where a guest's stdout and stderr go: the process's own streams, byte for byte (`inherit`), or
 * tagged lines on stderr (`log`).
 *
 * @since 0.1.0
 * @category models
 */
export type StdioMode = "inherit" | "log"

/**
 * How the CLI's host is built.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostOptions {
  readonly report: Report
  /** Default `log`. */
  readonly stdio?: StdioMode | undefined
  /** With `inherit`: what the guest reads as stdin instead of the process's. */
  readonly stdin?: Uint8Array | undefined
  /** A SQLite file for `storage`; in memory when absent. */
  readonly storage?: string | undefined
  /** A JSONL audit log to append to, besides the memory log the CLI reads denials from. */
  readonly audit?: string | undefined
  /**
   * The directory a guest sees as its preopened `.` (default: the working directory); what it may read
   * or write in it is still only what `--allow-read` / `--allow-write` grant. Not used with `preopens`.
   */
  readonly directory?: string | undefined
  /** Named preopens (`--dir`, `--dir-ro`): when given, the guest sees these and not `directory`. */
  readonly preopens?: ReadonlyArray<Filesystem.Preopen> | undefined
}

/**
 * One host interface `run` can link, with the layer of the service behind it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Host<R, E = never> {
  readonly interfaces: ReadonlyArray<Linker.HostInterface<R>>
  readonly layer: Layer.Layer<Exclude<R, Audit.Audit>, E, Audit.Audit>
}

const host = <R, E = never>(
  interfaces: Linker.HostInterface<R> | ReadonlyArray<Linker.HostInterface<R>>,
  layer: Layer.Layer<Exclude<R, Audit.Audit>, E, Audit.Audit>
): Host<R, E> => ({ interfaces: Array.isArray(interfaces) ? interfaces : [interfaces as Linker.HostInterface<R>], layer })

/**
 * The host interfaces `run` links, one line each. Deny by default: each is linked for a component
 * only when its grants hold the interface's capability (logging is ungated); anything the component
 * imports that is not here gets deny stubs.
 *
 * @since 0.1.0
 * @category models
 */
export const hosts = (options: HostOptions) => {
  const directory = options.directory ?? process.cwd()
  return [
    host(Logging.hostInterface, stderrLogging(options.report)),
    host(Storage.hostInterface, options.storage === undefined ? Storage.layerMemory() : Storage.layer({ filename: options.storage })),
    host(messaging(options.report), Layer.empty),
    host(Http.hostInterface, Http.layer()),
    host(WasiHttp.hostInterfaces, WasiHttp.layer()),
    host(Sockets.hostInterfaces, Layer.empty),
    host(
      Filesystem.hostInterfaces,
      Filesystem.layer({ preopens: options.preopens ?? (() => [{ path: fs.realpathSync(directory), as: "." }]) })
    ),
    host(
      Stdio.hostInterfaces,
      options.stdio !== "inherit"
        ? stderrStdio(options.report)
        : options.stdin === undefined
        ? Stdio.layerProcess
        : Stdio.layerStreams({ stdout: process.stdout, stderr: process.stderr, stdin: options.stdin })
    ),
    host(Environment.hostInterfaces, Environment.layer),
    host(CliExit.hostInterface, Layer.empty),
    host(Clocks.hostInterfaces, Clocks.layer),
    host(Random.hostInterfaces, Random.layer)
  ] as const
}

type Row = ReturnType<typeof hosts>[number]
type Services =
  | Logging.Logging
  | Storage.Storage
  | Http.Http
  | WasiHttp.WasiHttp
  | Filesystem.Filesystem
  | Stdio.Stdio
  | Environment.Environment
  | Clocks.Clocks
  | Random.Random
  | Audit.Audit
type Errors = Storage.StorageError | Filesystem.PreopenError

/**
 * The `Linker` over `hosts`, with their services and the audit log (memory, which `run` reads its
 * denials from, plus a JSONL file when asked).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: HostOptions) => {
  const rows = hosts(options)
  const audit = options.audit === undefined
    ? Audit.layerMemory({ capacity: 10_000 })
    : Audit.combine(Audit.layerMemory({ capacity: 10_000 }), Audit.layerJsonl(options.audit))
  // Each row was type-checked on its own (`host`); here they are only put together.
  const interfaces = rows.flatMap((row: Row): ReadonlyArray<Linker.HostInterface<Services>> => row.interfaces)
  const layers = rows.map((row) => row.layer as Layer.Layer<Exclude<Services, Audit.Audit>, Errors, Audit.Audit>)
  const services = layers.slice(1).reduce((merged, next) => Layer.merge(merged, next), layers[0]!)
  return Linker.layer(interfaces).pipe(
    Layer.provideMerge(services),
    Layer.provideMerge(audit)
  )
}

/**
 * Guests' log lines on stderr, with the component id and level.
 *
 * @since 0.1.0
 * @category layers
 */
export const stderrLogging = (report: Report): Layer.Layer<Logging.Logging> =>
  Layer.succeed(
    Logging.Logging,
    Logging.Logging.of({
      log: (component, level, message) => report.line(`[${component} ${level}] ${message}`)
    })
  )

/**
 * Guests' stdout and stderr lines on stderr (stdout is the guest's result), with the component id.
 *
 * @since 0.1.0
 * @category layers
 */
export const stderrStdio = (report: Report): Layer.Layer<Stdio.Stdio> =>
  Layer.succeed(Stdio.Stdio, Stdio.fromLines((component, stream, text) => report.line(`[${component} ${stream}] ${text}`)))

// -----------------------------------------------------------------------------
// capabilities of imports
// -----------------------------------------------------------------------------

/**
 * The flag that grants each capability.
 *
 * @since 0.1.0
 * @category models
 */
export const flagOf: Readonly<Record<Capability.Kind, string>> = {
  FileRead: "--allow-read GLOB",
  FileWrite: "--allow-write GLOB",
  NetworkOutbound: "--allow-net HOST[:PORT]",
  Messaging: "--allow-messaging PATTERN",
  Storage: "--allow-storage NAMESPACE",
  Custom: "(a host-defined interface: not available from the CLI)",
  Environment: "--env NAME=VALUE, --env NAME, or arguments after --"
}

// The interfaces alone (their layers are never built here), for inspect.
const linkable = hosts({ report: { line: () => Effect.void } }).flatMap((row: Row): ReadonlyArray<Linker.HostInterface<Services>> => row.interfaces)

// WASI imports by interface prefix: what a host gates them with.
const knownImports: ReadonlyArray<readonly [prefix: string, kinds: ReadonlyArray<Capability.Kind>]> = [
  ["wasi:filesystem/", ["FileRead", "FileWrite"]],
  ["wasi:cli/environment", ["Environment"]],
  ["wasi:http/", ["NetworkOutbound"]],
  ["wasi:sockets/", ["NetworkOutbound"]],
  ["wasi:cli/", []],
  ["wasi:clocks/", []],
  ["wasi:random/", []],
  ["wasi:io/", []]
]

/**
 * The capabilities a host checks calls to an imported interface against: none for an ungated one
 * (logging, clocks), `Custom` for an interface nobody here knows.
 *
 * @since 0.1.0
 * @category constructors
 */
export const capabilityOf = (iface: string): ReadonlyArray<Capability.Kind> => {
  const name = unversioned(iface)
  const linked = linkable.find((host) => host.name === name)
  if (linked?.capability !== undefined) return [linked.capability]
  // The filesystem gates inside, per path; the table says by what.
  const known = knownImports.find(([prefix]) => name.startsWith(prefix))
  if (known !== undefined) return known[1]
  return linked === undefined ? ["Custom"] : []
}

/**
 * Whether `run` has an implementation for the interface (otherwise it links deny stubs).
 *
 * @since 0.1.0
 * @category constructors
 */
export const implemented = (iface: string): boolean =>
  linkable.some((host) => host.name === unversioned(iface))
