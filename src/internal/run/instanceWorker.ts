/**
 * Worker entry of isolated instances (`isolation: "worker"`): one component instance per worker thread,
 * so that a guest that loops — fuel or no fuel — is stopped by terminating the thread.
 *
 * Protocol (see `isolatedInstance.ts`): `workerData` carries the glue, the compiled core modules and the
 * fuel per call; the worker answers `ready` (or `failed`), then one `result` per `call`. Host imports
 * cannot answer synchronously across threads: `logging.log` is forwarded to the host as a message, any
 * other import traps the guest.
 *
 * @internal
 */
import { parentPort, workerData } from "node:worker_threads"
import * as Abi from "./canonicalAbi.ts"
import * as Jco from "../jco.ts"
import { fuelMeter, makeFuelHost, type Stop } from "./fuelMeter.ts"

export interface Init {
  readonly glue: string
  readonly key: string
  readonly modules: ReadonlyArray<readonly [string, WebAssembly.Module]>
  readonly imports: ReadonlyArray<string>
  readonly fuel: number
  /** Fuel for the start code (start functions, `_initialize`); its timeout is the host's to enforce. */
  readonly instantiateFuel: number
}

export type Call =
  | { readonly id: number; readonly fn: "process"; readonly arg: Uint8Array }
  | { readonly id: number; readonly fn: "handle"; readonly arg: Abi.MessageFields }
  | { readonly id: number; readonly fn: "init"; readonly arg: Uint8Array }
  | { readonly id: number; readonly fn: "shutdown"; readonly arg: undefined }

export type Reply =
  | { readonly type: "instantiating" }
  | { readonly type: "ready"; readonly directCalls: ReadonlyArray<string> }
  | {
    readonly type: "failed"
    readonly message: string
    /** Set when the instantiate budget stopped the start code. */
    readonly stopped?: Stop | undefined
    /** Set when V8 had no wasm memory left for the instance. */
    readonly exhausted?: boolean | undefined
  }
  | { readonly type: "log"; readonly level: string; readonly message: string }
  | { readonly type: "result"; readonly id: number; readonly ok: true; readonly value: unknown }
  | {
    readonly type: "result"
    readonly id: number
    readonly ok: false
    readonly failure: Jco.Failure
    readonly fuelExhausted: boolean
  }

const port = parentPort!
const init = workerData as Init
const post = (reply: Reply): void => port.postMessage(reply)

const hostImports = (): object => {
  const imports: Record<string, object> = {}
  for (const iface of init.imports) {
    imports[iface] = new Proxy({}, {
      get: (_, name) => {
        if (iface === "airssys:component/logging" && name === "log") {
          return (level: string, message: string) => post({ type: "log", level, message })
        }
        return () => {
          throw new Error(`${iface}#${String(name)} is not available to a worker-isolated guest`)
        }
      }
    })
  }
  return imports
}

type Guest = (arg: never) => unknown

interface Started {
  readonly guests: Record<Call["fn"], Guest | undefined>
  readonly meter: ReturnType<typeof fuelMeter>
}

const fuel = makeFuelHost({ units: init.instantiateFuel })

const start = async (): Promise<Started> => {
  const loaded = { instantiate: await Jco.importGlue(init.glue, init.key), modules: new Map(init.modules), imports: init.imports }
  // The host terminates this worker when instantiating outlasts the timeout (counted from here): no
  // deadline in the worker.
  post({ type: "instantiating" })
  const instantiated = Jco.instantiate(loaded as unknown as Jco.Loaded, hostImports(), fuel)
  const direct = init.imports.length === 0
  const exports = instantiated.exports as Record<string, Record<string, (...args: Array<unknown>) => unknown> | undefined>
  const glue = (iface: string, fn: string) => {
    const holder = exports[iface]
    const f = holder?.[fn]
    return typeof f === "function" ? f.bind(holder) : undefined
  }
  const lifecycle = direct ? Abi.bindLifecycle(instantiated.cores) : undefined
  const glueProcess = exports.process as unknown as ((input: Uint8Array) => unknown) | undefined
  return {
    guests: {
      process: (direct ? Abi.bindProcess(instantiated.cores) : undefined) ?? glueProcess,
      handle: (direct ? Abi.bindHandleMessage(instantiated.cores) : undefined) ?? glue("handler", "handleMessage"),
      init: lifecycle?.init ?? glue("lifecycle", "init"),
      shutdown: lifecycle?.shutdown ?? glue("lifecycle", "shutdown")
    },
    meter: Number.isFinite(init.fuel) ? fuelMeter(instantiated.cores, fuel) : undefined
  }
}

start().then(
  ({ guests, meter }) => {
    post({ type: "ready", directCalls: Object.entries(guests).filter(([, f]) => f !== undefined).map(([n]) => n) })
    port.on("message", (call: Call) => {
      const guest = guests[call.fn]
      if (guest === undefined) {
        post({ type: "result", id: call.id, ok: false, failure: { _tag: "Trap", message: `component does not export ${call.fn}` }, fuelExhausted: false })
        return
      }
      meter?.refill(init.fuel)
      Jco.attempt(
        () => guest(call.arg as never),
        (value) => post({ type: "result", id: call.id, ok: true, value }),
        (failure) => post({ type: "result", id: call.id, ok: false, failure, fuelExhausted: meter?.exhausted() ?? false })
      )
    })
  },
  (error: unknown) =>
    post({
      type: "failed",
      message: error instanceof Error ? error.message : String(error),
      stopped: fuel.instantiateStopped(),
      exhausted: Jco.isWasmMemoryExhausted(error)
    })
)
