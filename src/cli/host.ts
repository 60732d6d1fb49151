/**
 * The host `airssys-wasm run` links a component into: which host interfaces exist, which capability
 * gates each, and the services behind them. Deny by default: a gated interface links only when a
 * `--allow-*` flag granted its capability; everything else the component imports is linked to deny
 * stubs, whose every call is audited and answered with `err`.
 *
 * To add a host interface (filesystem, http, ...): one line in `hosts`, pairing its `hostInterface`
 * with the layer of its service (the compiler checks the layer provides what the interface needs).
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import * as Audit from "../Audit.ts"
import type * as Capability from "../Capability.ts"
import * as Logging from "../capability/Logging.ts"
import * as Storage from "../capability/Storage.ts"
import { HostRefusal } from "../ComponentError.ts"
import * as Linker from "../Linker.ts"
import { unversioned } from "../internal/witWorld.ts"

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
 * How the CLI's host is built.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostOptions {
  readonly report: Report
  /** A SQLite file for `storage`; in memory when absent. */
  readonly storage?: string | undefined
  /** A JSONL audit log to append to, besides the memory log the CLI reads denials from. */
  readonly audit?: string | undefined
}

/**
 * One host interface `run` can link, with the layer of the service behind it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Host<R, E = never> {
  readonly interface: Linker.HostInterface<R>
  readonly layer: Layer.Layer<R, E>
}

const host = <R, E = never>(iface: Linker.HostInterface<R>, layer: Layer.Layer<R, E>): Host<R, E> => ({ interface: iface, layer })

/**
 * The host interfaces `run` links, one line each. Deny by default: each is linked for a component
 * only when its grants hold the interface's capability (logging is ungated); anything the component
 * imports that is not here gets deny stubs.
 *
 * @since 0.1.0
 * @category models
 */
export const hosts = (options: HostOptions) =>
  [
    host(Logging.hostInterface, stderrLogging(options.report)),
    host(Storage.hostInterface, options.storage === undefined ? Storage.layerMemory() : Storage.layer({ filename: options.storage })),
    host(messaging(options.report), Layer.empty)
  ] as const

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
  return Linker.layer(rows.map((row) => row.interface)).pipe(
    Layer.provideMerge(Layer.mergeAll(audit, ...rows.map((row) => row.layer)))
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
  Custom: "(a host-defined interface: not available from the CLI)"
}

// The interfaces alone (their layers are never built here), for inspect.
const linkable = hosts({ report: { line: () => Effect.void } }).map((row) => row.interface)

// Imports the CLI does not link (yet), by interface prefix: what a host would gate them with.
const knownImports: ReadonlyArray<readonly [prefix: string, kinds: ReadonlyArray<Capability.Kind>]> = [
  ["wasi:filesystem/", ["FileRead", "FileWrite"]],
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
  if (linked !== undefined) return linked.capability === undefined ? [] : [linked.capability]
  const known = knownImports.find(([prefix]) => name.startsWith(prefix))
  return known === undefined ? ["Custom"] : known[1]
}

/**
 * Whether `run` has an implementation for the interface (otherwise it links deny stubs).
 *
 * @since 0.1.0
 * @category constructors
 */
export const implemented = (iface: string): boolean =>
  linkable.some((host) => host.name === unversioned(iface))
