/**
 * An instance: the public types `Instance.ts` re-exports (here, so that the run-time modules need not
 * import a public module), and the machinery behind them: finding a component's exports in its core
 * instances (`bind`) and calling them with typed errors, fuel, a deadline and poisoning (`make`). The
 * run-time modules (pools, worker isolation, actors) use `InstanceInternal`, which extends `Instance`.
 *
 * Its header has no internal tag, on purpose: the published declarations keep its public types and
 * leave out its exports tagged internal (`scripts/build.ts`).
 */
import { type Clock, Duration, Effect, Exit } from "effect"
import { type CallError, GuestError, GuestExit, InstancePoisoned, LimitExceeded, Trap, WasmMemoryExhausted } from "../componentError.ts"
import { type Deadline, deadlineMessage } from "../host/hostBridge.ts"
import * as Jco from "../jco.ts"
import type { Component } from "../load/component.ts"
import { camelCase, unversioned } from "../witName.ts"
import * as Abi from "./canonicalAbi.ts"
import { type FuelMeter, fuelMeter } from "./fuelMeter.ts"

/**
 * Passes the first trap or limit kill of an instance to `onPoisoned` (the audit), once; hands every
 * error back, so it wraps a failure where it is made. Shared with `isolatedInstance.ts`.
 */
export const reportOnce = (onPoisoned: ((error: Trap | LimitExceeded) => void) | undefined) => {
  let reported = false
  return <E extends Trap | LimitExceeded>(error: E): E => {
    if (!reported && onPoisoned !== undefined) {
      reported = true
      onPoisoned(error)
    }
    return error
  }
}


export const TypeId: unique symbol = Symbol.for("airssys-wasm/Instance")

export type TypeId = typeof TypeId

/**
 * The `airssys:component/types.message` record, as a guest's handler receives it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Message {
  readonly sender: string
  readonly topic?: string | undefined
  readonly correlationId?: bigint | undefined
  readonly payload: Uint8Array
}

/**
 * One instantiation of a component, as users see it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Instance {
  readonly [TypeId]: TypeId
  readonly component: Component
  /** Whether the guest runs in its own worker thread (`isolation: "worker"`). */
  readonly isolated: boolean
  /** `process` of the `processor` world. */
  process(input: Uint8Array): Effect.Effect<Uint8Array, CallError>
  /** `handler.handle-message` of the `actor` world: `some(reply)` answers a request. */
  handleMessage(message: Message): Effect.Effect<Uint8Array | undefined, CallError>
  /**
   * Any export by its WIT name: `process`, or `airssys:component/lifecycle#init` (interface, `#`,
   * function; the version may be left out). Arguments and result are as jco lifts them. A command's
   * `wasi:cli/run#run` that ends with `exit(0)` succeeds; any other exit is a `GuestExit` with its code.
   */
  call(name: string, args: ReadonlyArray<unknown>): Effect.Effect<unknown, CallError>
  /** Exports called by the canonical ABI directly rather than through jco's glue. */
  readonly directCalls: ReadonlyArray<string>
  /** Whether a trap (or the end of its scope) has poisoned the instance. */
  readonly poisoned: boolean
  /** The guest's `lifecycle` export, when it has one. */
  readonly lifecycle: Lifecycle | undefined
}

/**
 * The guest's `lifecycle` export.
 *
 * @since 0.1.0
 * @category models
 */
export interface Lifecycle {
  init(config: Uint8Array): Effect.Effect<void, CallError>
  shutdown(): Effect.Effect<void, CallError>
}

/** @internal What the host itself uses of an instance, beside what users see. */
export interface InstanceInternal extends Instance {
  /** `handleMessage`, run now: for callers that are already inside a fiber's synchronous step. */
  invokeHandler(message: Message): Exit.Exit<Uint8Array | undefined, CallError> | Promise<Exit.Exit<Uint8Array | undefined, CallError>>
  readonly lifecycle: LifecycleInternal | undefined
  /** Poisons the instance and lets go of what it holds (its worker, a suspended call). */
  close(): void
  /**
   * What the guest uses now: its linear memories' bytes, and the fuel its last call used (when
   * metered). Read by the observer, never on the call path.
   */
  readonly usage?: (() => Usage) | undefined
}

/** @internal */
export interface LifecycleInternal extends Lifecycle {
  /**
   * `init`, run now: its `Exit` when the guest answers synchronously (an effect that waits for it
   * otherwise), for callers already inside a fiber's step.
   */
  readonly initNow?: ((config: Uint8Array) => Effect.Effect<void, CallError>) | undefined
}

/** @internal */
export interface Usage {
  readonly memoryBytes: number
  readonly fuelUsed: number | undefined
}


const lastSegment = (iface: string): string => {
  const slash = iface.lastIndexOf("/")
  return slash >= 0 ? iface.slice(slash + 1) : iface
}

type GuestFunction = (...args: ReadonlyArray<unknown>) => unknown

/** Finds an export in jco's export object by its WIT name. */
const findExport = (exports: Readonly<Record<string, unknown>>, name: string): GuestFunction | undefined => {
  const hash = name.indexOf("#")
  let holder: unknown = exports
  let fn = name
  if (hash >= 0) {
    const iface = unversioned(name.slice(0, hash))
    fn = name.slice(hash + 1)
    const key = Object.keys(exports).find((key) => unversioned(key) === iface) ?? camelCase(lastSegment(iface))
    holder = exports[key]
  }
  if (typeof holder !== "object" || holder === null) return undefined
  const found = (holder as Record<string, unknown>)[camelCase(fn)]
  return typeof found === "function" ? found.bind(holder) as GuestFunction : undefined
}

const handlerName = "airssys:component/handler#handle-message"

// `wasi:cli/run#run`, at any version.
const isRun = (name: string): boolean => {
  const hash = name.indexOf("#")
  return hash >= 0 && name.slice(hash + 1) === "run" && unversioned(name.slice(0, hash)) === "wasi:cli/run"
}

const initName = "airssys:component/lifecycle#init"
const shutdownName = "airssys:component/lifecycle#shutdown"

/**
 * @internal What an instance needs from its core instances, found once: the exports it calls (directly by
 * the canonical ABI where it can, else through jco's glue), its memories and its fuel globals. It depends
 * only on the compiled artifact, not on the component's limits or host functions, so a warm pool binds
 * it ahead, off the spawn path.
 */
export interface Bound {
  readonly meter: FuelMeter | undefined
  readonly memories: ReadonlyArray<WebAssembly.Memory>
  readonly process: ((input: Uint8Array) => Uint8Array) | undefined
  readonly handle: ((message: Message) => Uint8Array | undefined | Promise<Uint8Array | undefined>) | undefined
  readonly init: ((config: Uint8Array) => void) | undefined
  readonly shutdown: (() => void) | undefined
  readonly directCalls: ReadonlyArray<string>
}

/** Which of the exports the host drives jco's glue has: the same for every instance of a component. */
interface GlueExports {
  readonly process: boolean
  readonly handle: boolean
  readonly init: boolean
  readonly shutdown: boolean
}

// Found once per component, from the glue of its first instance.
const glueExportsOf = new WeakMap<Jco.Loaded, GlueExports>()
const glueExports = (loaded: Jco.Loaded, instantiated: Jco.Instantiated): GlueExports => {
  let found = glueExportsOf.get(loaded)
  if (found === undefined) {
    const exports = instantiated.exports
    found = {
      process: findExport(exports, "process") !== undefined,
      handle: findExport(exports, handlerName) !== undefined,
      init: findExport(exports, initName) !== undefined,
      shutdown: findExport(exports, shutdownName) !== undefined
    }
    glueExportsOf.set(loaded, found)
  }
  return found
}

/** @internal */
export const bind = (loaded: Jco.Loaded, instantiated: Jco.Instantiated): Bound => {
  const has = glueExports(loaded, instantiated)
  // A guest that calls host imports must enter through jco's glue: its import trampolines expect the task
  // the glue's export wrapper opens, and without one they leak a task per host call (jco 1.35).
  const direct = loaded.imports.length === 0
  const directProcess = direct ? Abi.bindProcess(instantiated.cores) : undefined
  const directHandle = direct ? Abi.bindHandleMessage(instantiated.cores) : undefined
  const directLifecycle = direct ? Abi.bindLifecycle(instantiated.cores) : undefined
  // The glue's wrappers only where no direct call stands in: reading the glue's exports makes a deferred
  // glue (see `Jco.instantiate`).
  const glue = (wanted: boolean, name: string) => wanted ? findExport(instantiated.exports, name) : undefined
  const glueProcess = glue(has.process && directProcess === undefined, "process")
  const glueHandle = glue(has.handle && directHandle === undefined, handlerName)
  const glueInit = glue(has.init && directLifecycle === undefined, initName)
  const glueShutdown = glue(has.init && has.shutdown && directLifecycle === undefined, shutdownName)
  return {
    meter: fuelMeter(instantiated.cores, instantiated.fuel),
    memories: instantiated.cores.flatMap((core) =>
      Object.values(core.exports).filter((e): e is WebAssembly.Memory => e instanceof WebAssembly.Memory)
    ),
    process: directProcess ?? (glueProcess && ((input: Uint8Array) => glueProcess(input) as Uint8Array)),
    handle: directHandle ?? (glueHandle && ((message: Message) =>
      glueHandle({
        sender: message.sender,
        topic: message.topic,
        correlationId: message.correlationId,
        payload: message.payload
      }) as Uint8Array | undefined | Promise<Uint8Array | undefined>)),
    init: !has.init ? undefined : directLifecycle?.init ?? ((config: Uint8Array) => void glueInit!(config)),
    shutdown: !has.init ? undefined : directLifecycle?.shutdown ?? (glueShutdown && (() => void glueShutdown())),
    directCalls: [
      ...(directProcess ? ["process"] : []),
      ...(directHandle ? [handlerName] : []),
      ...(directLifecycle ? [initName, shutdownName] : [])
    ]
  }
}

/**
 * @internal `clock` times calls against the component's timeout: a metered guest asks for more fuel every
 * `sliceUnits` units, and is stopped once the clock says its time is up. `bound` may come from a warm
 * pool; otherwise it is found now.
 */
export const make = (
  component: Component,
  instantiated: Jco.Instantiated,
  clock?: Clock.Clock,
  bound: Bound = bind(component.loaded, instantiated),
  abortSuspended?: () => void,
  /** What host functions left for the end of each call (a partial line of output). */
  endCall?: () => void,
  watchHostCalls?: (deadline: Deadline) => void,
  onPoisoned?: (error: Trap | LimitExceeded) => void
): InstanceInternal => {
  let poison: string | undefined
  // The first trap or limit kill of this instance is reported (audited), once.
  const report = reportOnce(onPoisoned)

  // Fuel: every call starts with the component's allowance; after a trap, an empty tank names the cause.
  const meter = Number.isFinite(component.limits.fuel) ? bound.meter : undefined
  const fuel = component.limits.fuel
  // Timeout: a call's deadline, checked between slices of fuel (sync guest code) and raced against a
  // suspended (JSPI) call. Without fuel, sync guest code cannot be interrupted in this thread.
  const timeoutMillis = Duration.toMillis(component.limits.timeout)
  const timed = clock !== undefined && Number.isFinite(timeoutMillis)
  let deadline = 0
  const expired = timed ? () => clock.currentTimeMillisUnsafe() > deadline : undefined
  // Host calls see the deadline too (checked on entry, and bounding a suspended call), when there are any.
  const watched = expired !== undefined && watchHostCalls !== undefined && component.loaded.imports.length > 0
  if (watched) watchHostCalls({ now: () => clock!.currentTimeMillisUnsafe(), at: () => deadline })
  // Whether each call sets `deadline` (and so whether a failure past it is the timeout's doing).
  const dated = expired !== undefined && (meter !== undefined || watched)
  const timedOut = (fn: string) => {
    poison = `timed out after ${timeoutMillis} ms`
    // A guest suspended on a host call (JSPI) would otherwise wake later and run on.
    abortSuspended?.()
    return new LimitExceeded({ limit: "timeout", componentHash: component.hash, function: fn, allowed: timeoutMillis })
  }
  const awaitOutcome = <B>(fn: string, outcome: Exit.Exit<B, CallError> | Promise<Exit.Exit<B, CallError>>): Effect.Effect<B, CallError> => {
    if (!(outcome instanceof Promise)) return outcome
    const settled = Effect.flatten(Effect.promise(() => outcome))
    return timed
      ? Effect.timeoutOrElse(settled, { duration: component.limits.timeout, orElse: () => Effect.fail(report(timedOut(fn))) })
      : settled
  }
  const memories = bound.memories
  // A trap with a memory grown to its cap is taken for the cap refusing growth.
  const atMemoryCap = () =>
    Number.isFinite(component.limits.memoryBytes) &&
    memories.some((memory) => memory.buffer.byteLength + 65536 > component.limits.memoryBytes)

  const fail = (fn: string, failure: Jco.Failure): CallError => {
    if (failure._tag === "GuestErr") return new GuestError({ function: fn, payload: failure.payload })
    if (failure._tag === "Exit") {
      // The guest's stack was unwound mid-call: nothing of it may run again.
      poison = `exited with code ${failure.code}`
      return new GuestExit({ componentHash: component.hash, function: fn, code: failure.code })
    }
    poison = failure.message
    if (failure._tag === "Exhausted") return new WasmMemoryExhausted({ componentHash: component.hash, function: fn, cause: failure.message })
    const error = killed(fn, failure)
    return error._tag === "WasmMemoryExhausted" ? error : report(error)
  }
  const killed = (fn: string, failure: Extract<Jco.Failure, { _tag: "Trap" }>): Trap | LimitExceeded | WasmMemoryExhausted => {
    // Stopped between fuel slices, at a host call, or in a suspended host call, past the deadline.
    // (A suspended call cut at the deadline itself traps with the bridge's message.)
    if (meter?.stopped() === "timeout" || (dated && (expired!() || failure.message.includes(deadlineMessage)))) {
      return timedOut(fn)
    }
    if (meter?.exhausted()) {
      poison = `fuel exhausted (${fuel} units)`
      return new LimitExceeded({ limit: "fuel", componentHash: component.hash, function: fn, allowed: fuel })
    }
    if (atMemoryCap()) {
      poison = `memory limit reached (${failure.message})`
      return new LimitExceeded({
        limit: "memory",
        componentHash: component.hash,
        function: fn,
        allowed: component.limits.memoryBytes
      })
    }
    // Below its cap, a guest whose `memory.grow` V8 refused for want of memory traps as if it were a bug.
    if (!Jco.wasmMemoryLeft()) {
      poison = `no WebAssembly memory left (${failure.message})`
      return new WasmMemoryExhausted({ componentHash: component.hash, function: fn, cause: failure.message })
    }
    return new Trap({ componentHash: component.hash, function: fn, message: failure.message })
  }
  const poisoned = (fn: string) => new InstancePoisoned({ componentHash: component.hash, function: fn, cause: poison! })
  const missing = (fn: string) =>
    new Trap({ componentHash: component.hash, function: fn, message: `component does not export ${fn}` })

  // Calls one guest function now, turning throws into typed failures. Built once per export, not per call.
  // A guest whose world can suspend (JSPI, e.g. it calls `messaging.request`) answers with a promise.
  type Outcome<B> = Exit.Exit<B, CallError> | Promise<Exit.Exit<B, CallError>>
  const invoker = <A, B>(fn: string, guest: ((arg: A) => B | Promise<B>) | undefined): (arg: A) => Outcome<B> => {
    const invoke = invokerOf(fn, guest)
    if (endCall === undefined) return invoke
    return (arg) => {
      const outcome = invoke(arg)
      if (!(outcome instanceof Promise)) {
        endCall()
        return outcome
      }
      return outcome.then((exit) => {
        endCall()
        return exit
      })
    }
  }
  const invokerOf = <A, B>(fn: string, guest: ((arg: A) => B | Promise<B>) | undefined): (arg: A) => Outcome<B> => {
    if (guest === undefined) return () => Exit.fail(missing(fn))
    const onFailure = (failure: Jco.Failure): Exit.Exit<B, CallError> => Exit.fail(fail(fn, failure))
    if (meter !== undefined) {
      return (arg) => {
        if (poison !== undefined) return Exit.fail(poisoned(fn))
        if (expired !== undefined) deadline = clock!.currentTimeMillisUnsafe() + timeoutMillis
        meter.refill(fuel, expired)
        return Jco.attemptMaybeAsync(() => guest(arg), Exit.succeed, onFailure)
      }
    }
    if (watched) {
      return (arg) => {
        if (poison !== undefined) return Exit.fail(poisoned(fn))
        deadline = clock!.currentTimeMillisUnsafe() + timeoutMillis
        return Jco.attemptMaybeAsync(() => guest(arg), Exit.succeed, onFailure)
      }
    }
    return (arg) =>
      poison !== undefined ? Exit.fail(poisoned(fn)) : Jco.attemptMaybeAsync(() => guest(arg), Exit.succeed, onFailure)
  }
  const caller = <A, B>(fn: string, guest: ((arg: A) => B | Promise<B>) | undefined) => {
    const invoke = invoker(fn, guest)
    return (arg: A): Effect.Effect<B, CallError> => Effect.suspend(() => awaitOutcome(fn, invoke(arg)))
  }

  // Any export through jco's glue, made now if it was deferred: a glue that cannot be made traps the call.
  const callExport = (name: string, args: ReadonlyArray<unknown>): Effect.Effect<unknown, CallError> =>
    Jco.attempt(
      () => findExport(instantiated.exports, name),
      (guest) => caller(name, guest && ((a: ReadonlyArray<unknown>) => guest(...a)))(args),
      (failure) => Effect.fail(fail(name, failure))
    )
  // A command ends with `exit(0)` as it ends by returning `ok`: both are success.
  const call = (name: string, args: ReadonlyArray<unknown>): Effect.Effect<unknown, CallError> =>
    isRun(name)
      ? Effect.catchTag(callExport(name, args), "GuestExit", (exit) => exit.code === 0 ? Effect.void : Effect.fail(exit))
      : callExport(name, args)
  // Made on first use: an actor's instance never calls `process`, and `shutdown` only on a graceful stop.
  let processCall: ((input: Uint8Array) => Effect.Effect<Uint8Array, CallError>) | undefined
  const process = (input: Uint8Array) => (processCall ??= caller("process", bound.process))(input)
  const invokeHandler = invoker(handlerName, bound.handle)
  let shutdownCall: ((arg: undefined) => Effect.Effect<void, CallError>) | undefined
  let lifecycle: InstanceInternal["lifecycle"]
  if (bound.init !== undefined) {
    const invokeInit = invoker(initName, bound.init)
    const initNow = (config: Uint8Array) => awaitOutcome(initName, invokeInit(config))
    lifecycle = {
      init: (config) => Effect.suspend(() => initNow(config)),
      shutdown: () => (shutdownCall ??= caller(shutdownName, bound.shutdown))(undefined),
      initNow
    }
  }

  return new InProcess(
    component,
    process,
    invokeHandler,
    (message) => Effect.suspend(() => awaitOutcome(handlerName, invokeHandler(message))),
    lifecycle,
    bound.directCalls,
    call,
    () => poison !== undefined,
    () => {
      poison ??= "instance closed"
      abortSuspended?.()
      endCall?.()
    },
    () => {
      let memoryBytes = 0
      for (const memory of memories) memoryBytes += memory.buffer.byteLength
      return { memoryBytes, fuelUsed: meter?.consumed() }
    }
  )
}

// A class rather than an object literal with a getter, which V8 builds on a slow path, on every start.
class InProcess implements InstanceInternal {
  readonly [TypeId]: TypeId = TypeId
  readonly isolated = false
  readonly component: Component
  readonly process: Instance["process"]
  readonly invokeHandler: InstanceInternal["invokeHandler"]
  readonly handleMessage: Instance["handleMessage"]
  readonly lifecycle: InstanceInternal["lifecycle"]
  readonly directCalls: ReadonlyArray<string>
  readonly call: Instance["call"]
  private readonly isPoisoned: () => boolean
  readonly close: () => void
  readonly usage: () => Usage
  constructor(
    component: Component,
    process: Instance["process"],
    invokeHandler: InstanceInternal["invokeHandler"],
    handleMessage: Instance["handleMessage"],
    lifecycle: InstanceInternal["lifecycle"],
    directCalls: ReadonlyArray<string>,
    call: Instance["call"],
    isPoisoned: () => boolean,
    close: () => void,
    usage: () => Usage
  ) {
    this.component = component
    this.process = process
    this.invokeHandler = invokeHandler
    this.handleMessage = handleMessage
    this.lifecycle = lifecycle
    this.directCalls = directCalls
    this.call = call
    this.isPoisoned = isPoisoned
    this.close = close
    this.usage = usage
  }
  get poisoned(): boolean {
    return this.isPoisoned()
  }
}
