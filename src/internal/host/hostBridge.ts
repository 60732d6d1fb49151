/**
 * The one place where a guest's call into the host enters an Effect runtime.
 *
 * Each host function is an Effect run synchronously in the context captured at instantiate. A
 * `HostRefusal` becomes the import's `err` value for the guest; anything else (a defect, an interruption,
 * an effect that is not synchronous) throws through the guest, which the calling `Instance` then reports
 * as a `Trap` and poisons. A host function may carry a version of itself made for the context it is
 * bound in (`specialize`: the Linker's check and audit without a fiber of their own).
 *
 * A suspending import (`jco.suspendingImports`: JSPI) and a resource method declared `suspending`
 * (`pollable.block`) run their Effect as a fiber of their own: when it finishes without waiting, the
 * guest gets its value at once; otherwise a promise the guest's stack is parked on.
 *
 * @internal
 */
import { Cause, Context, Duration, Effect, Exit, type Fiber } from "effect"
import type { HostRefusal } from "../componentError.ts"
import { ExitSignal } from "../run/exitSignal.ts"
import { suspendingImports } from "../jco.ts"
import { camelCase, kebabCase, unversioned } from "../witName.ts"

/**
 * One function of a component's imports, as the bridge runs it: guest arguments in (as jco lifts them),
 * an Effect out. Fail with `HostRefusal` to answer the guest with `err(payload)`. (What the Linker makes
 * of a `Linker.HostFunction`: its check, audit and implementation in one Effect.)
 *
 * @since 0.1.0
 * @category models
 */
export type ImportFunction<R = never> = (...args: never) => Effect.Effect<unknown, HostRefusal, R>

/**
 * Host functions by interface (`airssys:component/logging`, version optional) and function name; a
 * resource type the host implements (e.g. `wasi:filesystem/types`' `Descriptor`) under its class name.
 *
 * @since 0.1.0
 * @category models
 */
export type HostImports<R = never> = Readonly<
  Record<string, Readonly<Record<string, ImportFunction<R> | ResourceType>>>
>

/**
 * The component id a set of host imports was linked for (set by the Linker): what an instance made
 * with them is audited as.
 */
export const linkedAs: unique symbol = Symbol.for("airssys-wasm/HostImports/linkedAs")

/** The id `imports` were linked for, if the Linker made them. */
export const linkedIdOf = (imports: object | undefined): string | undefined => {
  const id = imports === undefined ? undefined : (imports as { readonly [linkedAs]?: unknown })[linkedAs]
  return typeof id === "string" ? id : undefined
}

const HostResourceTypeId: unique symbol = Symbol.for("airssys-wasm/HostResource")
const handleState = Symbol("airssys-wasm/HostResource/state")
const handleRun = Symbol("airssys-wasm/HostResource/run")

/**
 * A resource type the host implements. jco hands the guest's method calls to the handle objects the
 * host gave the guest (`handle.stat()`), and checks them with `instanceof` against the class found in
 * the imports object. So a handle carries its state and the runtime of the host call that made it,
 * and its methods, like host functions, are Effects run here: a `HostRefusal` is the method's `err`,
 * anything else traps the guest.
 *
 * One type may be shared by many instances and interfaces (an `output-stream` made by
 * `wasi:cli/stdout` and by `wasi:filesystem/types`): the type is data, the handle holds the state.
 *
 * @since 0.1.0
 * @category models
 */
export interface ResourceType {
  readonly [HostResourceTypeId]: typeof HostResourceTypeId
  readonly name: string
  /** Every handle's prototype: the methods. */
  readonly prototype: object
  /** Whether `value` is a handle of this type. */
  readonly is: (value: unknown) => boolean
  /** What `new Resource(...)` in the guest's glue runs (a WIT `constructor`), when the type has one. */
  readonly construct?: ((...args: never) => Effect.Effect<object, HostRefusal>) | undefined
  /** Static functions (`Fields.fromList`), by jco's name. */
  readonly statics?: Readonly<Record<string, (...args: never) => Effect.Effect<unknown, HostRefusal>>> | undefined
}

/** A resource type with the state its handles carry. */
export interface HostResource<S> extends ResourceType {
  /** The state of a handle of this type, or `undefined` for anything else. */
  readonly state: (handle: unknown) => S | undefined
  /** A new handle on `state`, bound to the runtime of the calling fiber. */
  readonly make: (state: S) => Effect.Effect<object>
}

export const isHostResource = (u: unknown): u is ResourceType =>
  typeof u === "object" && u !== null && HostResourceTypeId in u

type Run = (effect: Effect.Effect<unknown, HostRefusal>) => Exit.Exit<unknown, HostRefusal>
type RunMaybeAsync = (
  effect: Effect.Effect<unknown, HostRefusal>
) => Exit.Exit<unknown, HostRefusal> | Promise<Exit.Exit<unknown, HostRefusal>>
interface Runners {
  readonly sync: Run
  readonly maybeAsync: RunMaybeAsync
}
interface Handle {
  readonly [handleState]: unknown
  readonly [handleRun]: Runners
}

/**
 * The deadline of the guest call an instance is running, as its host calls see it (see `Binding.watch`).
 */
export interface Deadline {
  /** Reads the instance's `Clock` (milliseconds): once per host call, shared with its audit event. */
  readonly now: () => number
  /** When the call in progress must end, on that clock. */
  readonly at: () => number
}

/** What a guest gets from a host call made past its call's deadline: a trap (the instance is given up). */
export const deadlineMessage = "the call's deadline passed during a host call"

// One binding's watch: where its trampolines look for the deadline of the call in progress.
interface Watch {
  deadline: Deadline | undefined
}

/**
 * The host calls one instance's guest is suspended on. Once aborted (the instance timed out or was
 * closed) they are interrupted and the guest is never resumed: its parked stack is left to the GC.
 */
class Suspended extends Context.Service<Suspended, {
  readonly fibers: Set<Fiber.Fiber<unknown, unknown>>
  aborted: boolean
  readonly watch: Watch
}>()("airssys-wasm/hostBridge/Suspended") {}

/**
 * Work a host function leaves for the end of the guest's call (a partial line of output waiting for
 * its newline): run, in the instance's context, when the export call returns or fails, and when the
 * instance is closed. Only in the context of instances whose imports need it (see `endsCalls`).
 */
class CallEnd extends Context.Service<CallEnd, Set<Effect.Effect<void>>>()("airssys-wasm/hostBridge/CallEnd") {}

/**
 * Runs `effect` at the end of the current guest call (once, however often it is asked for in the
 * call); at once when the host function runs outside an instance's call.
 */
export const atCallEnd = (effect: Effect.Effect<void>): Effect.Effect<void> =>
  Effect.flatMap(Effect.serviceOption(CallEnd), (pending) => {
    if (pending._tag === "None") return effect
    pending.value.add(effect)
    return Effect.void
  })

// Interfaces whose host functions leave work for the end of a call.
const endsCalls = (iface: string): boolean => iface === "wasi:cli/stdout" || iface === "wasi:cli/stderr"

const never: Promise<never> = new Promise(() => {})

/**
 * Runs an Effect as a fiber of its own in `context`: its exit at once when it finished without
 * waiting, a promise of it otherwise (what `Effect.runPromiseExitWith` does, minus the promise
 * when none is needed: a ready `pollable.block` must not suspend a guest that cannot suspend).
 */
const runMaybeAsyncWith = <R>(context: Context.Context<R>) => {
  const fork = Effect.runForkWith(context)
  const suspended = Context.getOrUndefined(context, Suspended)
  return <A, E>(effect: Effect.Effect<A, E, R>): Exit.Exit<A, E> | Promise<Exit.Exit<A, E>> => {
    // A suspended guest is still inside its call: it waits no longer than the call's deadline, whatever
    // it asked for (a `timeout-ms` of hours, a far clock deadline).
    const deadline = suspended?.watch.deadline
    const fiber = fork(
      deadline === undefined ? effect : Effect.timeoutOrElse(effect, {
        duration: Duration.millis(Math.max(0, deadline.at() - deadline.now())),
        orElse: () => Effect.die(new WebAssembly.RuntimeError(deadlineMessage))
      })
    )
    const exit = fiber.pollUnsafe()
    if (exit !== undefined) return exit
    if (suspended === undefined) return new Promise((resolve) => fiber.addObserver(resolve))
    if (suspended.aborted) {
      fiber.interruptUnsafe()
      return never
    }
    suspended.fibers.add(fiber)
    return new Promise((resolve) =>
      fiber.addObserver((exit) => {
        suspended.fibers.delete(fiber)
        if (!suspended.aborted) resolve(exit)
      })
    )
  }
}

// One pair of runners per context: every handle made in one instance's host calls shares it.
const runners = new WeakMap<Context.Context<never>, Runners>()
const runnerOf = (context: Context.Context<never>): Runners => {
  let run = runners.get(context)
  if (run === undefined) {
    runners.set(context, run = { sync: Effect.runSyncExitWith(context), maybeAsync: runMaybeAsyncWith(context) })
  }
  return run
}

/**
 * A resource type. `methods` are named as jco calls them (camelCase of the WIT name); `drop` runs when
 * the guest drops its handle (synchronously: close a file, flush a buffer). A method named in
 * `suspending` may wait (its WIT name must be in `jco.suspendingImports` too, so that the guest's
 * glue lets it suspend); every other method runs synchronously.
 */
export const resource = <S>(
  name: string,
  methods: Readonly<Record<string, (state: S, ...args: never) => Effect.Effect<unknown, HostRefusal>>>,
  drop?: (state: S) => void,
  suspending: ReadonlyArray<string> = [],
  /**
   * A WIT `constructor` (the state of the new handle) and static functions. Both run synchronously
   * in the context of the instance that calls them, like host functions.
   */
  extras?: {
    readonly construct?: ((...args: never) => Effect.Effect<S, HostRefusal>) | undefined
    readonly statics?: Readonly<Record<string, (...args: never) => Effect.Effect<unknown, HostRefusal>>> | undefined
  }
): HostResource<S> => {
  const prototype: Record<string | symbol, unknown> = {}
  for (const [method, fn] of Object.entries(methods)) {
    const label = `${name}.${kebabCase(method)}`
    const call = fn as (state: S, ...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, HostRefusal>
    prototype[method] = suspending.includes(method)
      ? function(this: Handle, ...args: Array<unknown>) {
        const run = this?.[handleRun]
        if (run === undefined) throw new HostFailure(`${label} called on something that is not a host handle`)
        return settleMaybeAsync(label, run.maybeAsync(call(this[handleState] as S, ...args)))
      }
      : function(this: Handle, ...args: Array<unknown>) {
        const run = this?.[handleRun]
        if (run === undefined) throw new HostFailure(`${label} called on something that is not a host handle`)
        return settle(label, run.sync(call(this[handleState] as S, ...args)))
      }
  }
  if (drop !== undefined) {
    prototype[Symbol.dispose] = function(this: Handle) {
      if (this?.[handleRun] !== undefined) drop(this[handleState] as S)
    }
  }
  const is = (value: unknown): boolean =>
    typeof value === "object" && value !== null && Object.getPrototypeOf(value) === prototype
  const make = (state: S) =>
    Effect.map(Effect.context<never>(), (context) => {
      const handle = Object.create(prototype) as Record<symbol, unknown>
      handle[handleState] = state
      handle[handleRun] = runnerOf(context)
      return handle
    })
  const construct = extras?.construct as ((...args: ReadonlyArray<unknown>) => Effect.Effect<S, HostRefusal>) | undefined
  return {
    [HostResourceTypeId]: HostResourceTypeId,
    name,
    prototype,
    is,
    state: (handle) => is(handle) ? (handle as Handle)[handleState] as S : undefined,
    make,
    construct: construct === undefined
      ? undefined
      : (...args: ReadonlyArray<unknown>) => Effect.flatMap(construct(...args), make),
    statics: extras?.statics
  }
}

// What jco finds under a resource's class name before anything is bound: a class whose `instanceof`
// and prototype follow the resource type bound later.
interface Shell {
  readonly constructor: object
  bound: ResourceType | undefined
  /** The bound type's constructor, run in the bound context. */
  construct: ((args: ReadonlyArray<unknown>) => unknown) | undefined
}

const makeShell = (iface: string, name: string): Shell => {
  const shell: Shell = { constructor: {}, bound: undefined, construct: undefined }
  function Resource(...args: Array<unknown>): unknown {
    // `new Resource(...)` answers the handle this returns (an object), not a `Resource`.
    if (shell.construct !== undefined) return shell.construct(args)
    throw new HostFailure(`${iface}#${name} cannot be constructed`)
  }
  Object.defineProperty(Resource, Symbol.hasInstance, {
    value: (value: unknown) => shell.bound !== undefined && shell.bound.is(value)
  })
  ;(shell as { constructor: object }).constructor = Resource
  return shell
}

/** Thrown through the guest when a host function fails other than by refusing. */
export class HostFailure extends Error {
  override readonly name = "HostFailure"
}

type Callable<R> = (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, HostRefusal, R>

// What the guest sees of an exit: the value, `err(payload)` for a refusal, a trap for anything else.
const settle = (name: string, exit: Exit.Exit<unknown, HostRefusal>): unknown => {
  if (Exit.isSuccess(exit)) return exit.value
  const refusal = Cause.findErrorOption(exit.cause)
  if (refusal._tag === "Some") throw { payload: refusal.value.payload }
  // `wasi:cli/exit`: unwinds the guest's stack as it is, for the calling Instance to see.
  // (A host failure with a message of its own, e.g. a deny stub's, is thrown as it is, too.)
  const defect = Cause.findDefect(exit.cause)
  if (defect._tag === "Success" && (defect.success instanceof ExitSignal || defect.success instanceof HostFailure)) {
    throw defect.success
  }
  // A host function that waited, called from glue that cannot wait: stop it (it would run on unseen).
  if (defect._tag === "Success" && Cause.isAsyncFiberError(defect.success)) {
    defect.success.fiber.interruptUnsafe()
    throw new HostFailure(
      `host function ${name} waited, but the guest's glue calls it synchronously: ` +
        `load the component with it in Component.SuspendingImports`
    )
  }
  throw new HostFailure(`host function ${name} failed: ${Cause.pretty(exit.cause)}`)
}

const settleMaybeAsync = (
  name: string,
  exit: Exit.Exit<unknown, HostRefusal> | Promise<Exit.Exit<unknown, HostRefusal>>
): unknown => exit instanceof Promise ? exit.then((exit) => settle(name, exit)) : settle(name, exit)

/**
 * Where a host function keeps its specialisation for the context it is bound in (see `Specialized`).
 *
 * @since 0.1.0
 */
export const specialize: unique symbol = Symbol.for("airssys-wasm/ImportFunction/specialize")

/**
 * A host function specialised for the context it runs in, so that its own bookkeeping (the Linker's
 * capability check and audit) needs no fiber: `call` does it synchronously and returns the Effect to
 * run; a failure of that Effect goes to `recover`, with the call's arguments, which turns it into
 * what the guest gets (a `HostRefusal`, or the cause unchanged). The plain function stays the
 * reference behaviour, for a caller outside the bridge. `now` is the context's `Clock` read for this
 * call when the bridge read it already (to check the call's deadline), `NaN` otherwise: an audit
 * stamps its event with it rather than reading the clock again.
 *
 * @since 0.1.0
 */
export interface Specialized {
  /** Takes the guest's arguments as one array (the bridge's own rest parameter: no copy). */
  readonly call: (args: ReadonlyArray<unknown>, now: number) => Effect.Effect<unknown, unknown>
  /** `undefined`: the failure stands as it is. */
  readonly recover: (
    cause: Cause.Cause<unknown>,
    args: ReadonlyArray<unknown>
  ) => Effect.Effect<never, HostRefusal> | undefined
}

/** A host function that can be specialised: `fn[specialize](context)`. */
export interface Specializable {
  readonly [specialize]: (context: Context.Context<never>) => Specialized
}

const bridgeFunction = <R>(name: string, fn: Callable<R>, context: Context.Context<R>, suspends: boolean) => {
  // A suspending import (JSPI) returns a promise the guest's stack waits on, or its value when it did
  // not wait (`poll` on ready pollables, from glue that may be synchronous); every other import runs
  // synchronously, as the guest's stack cannot wait for it.
  if (suspends) {
    const runAsync = runMaybeAsyncWith(context)
    return (args: ReadonlyArray<unknown>): unknown => settleMaybeAsync(name, runAsync(fn(...args)))
  }
  const run = Effect.runSyncExitWith(context)
  const specialized = (fn as Partial<Specializable>)[specialize]?.(context as Context.Context<never>)
  if (specialized !== undefined) {
    const { call, recover } = specialized
    const runAny = run as (effect: Effect.Effect<unknown, unknown>) => Exit.Exit<unknown, unknown>
    return (args: ReadonlyArray<unknown>, now: number): unknown => {
      const exit = runAny(call(args, now))
      if (exit._tag === "Success") return exit.value
      const recovered = recover(exit.cause, args)
      return settle(name, recovered === undefined ? exit as Exit.Exit<never, HostRefusal> : run(recovered))
    }
  }
  return (args: ReadonlyArray<unknown>): unknown => settle(name, run(fn(...args)))
}

/** An import function the component asked for at instantiate that nobody provides. */
export interface Unlinked {
  readonly interface: string
  readonly function: string
}

/**
 * The host side of one instance's imports, bound separately from instantiation. jco reads each import
 * function once, at instantiate, and keeps it: so it gets a trampoline that calls whatever is bound. That
 * is what lets an instance be prepared ahead (a warm pool) and linked when it is taken, and what will let
 * a capability be revoked while an instance lives.
 */
export interface Binding {
  /** jco's imports object: one entry per interface the component imports. */
  readonly imports: object
  /** Links host functions (replacing any bound before). */
  bind<R>(imports: HostImports<R>, context: Context.Context<R>): void
  /** The first function jco asked for that nothing bound provides. */
  unlinked(): Unlinked | undefined
  /**
   * Runs what host functions left for the end of the call (see `atCallEnd`); `undefined` when no
   * imported interface ever does.
   */
  readonly endCall: (() => void) | undefined
  /**
   * Interrupts the host calls the guest is suspended on (JSPI) and never resumes it: after a timeout or
   * close, a guest that wakes would run on in an instance already given up.
   */
  abort(): void
  /**
   * Gives the host calls the deadline of each guest call: past it, a host function traps the guest
   * instead of running (so a guest looping through host calls is stopped at its timeout, plus one
   * host call), and a suspending one waits no longer than it.
   */
  watch(deadline: Deadline): void
}

// One interface's bridged functions: each takes the guest's arguments, and the clock reading of the
// deadline check (or NaN).
type Bridged = Record<string, (args: ReadonlyArray<unknown>, now: number) => unknown>

// A resource class may be bound before jco reads it (at instantiate) or after (a warm instance).
const shellOf = (resources: Map<string, Shell>, iface: string, name: string): Shell => {
  let shell = resources.get(name)
  if (shell === undefined) resources.set(name, shell = makeShell(iface, name))
  return shell
}

// jco names resource classes in PascalCase, functions in camelCase.
const isResourceName = (name: string): boolean => {
  const first = name.charCodeAt(0)
  return first >= 65 && first <= 90
}

export const makeBinding = (
  interfaces: ReadonlyArray<string>,
  /** What the component's glue lowered as suspending besides `suspendingImports` (`Loaded.suspending`). */
  suspending: ReadonlyArray<string> = []
): Binding => {
  const suspends = (name: string): boolean => suspendingImports.includes(name) || suspending.includes(name)
  const wanted: Array<Unlinked> = []
  const watch: Watch = { deadline: undefined }
  const targets = new Map<string, Bridged>()
  const shells = new Map<string, Map<string, Shell>>()
  const imports: Record<string, object> = {}
  for (const iface of interfaces) {
    const target: Bridged = {}
    targets.set(iface, target)
    const resources = new Map<string, Shell>()
    shells.set(iface, resources)
    const trampolines: Record<string, unknown> = {}
    imports[iface] = new Proxy(trampolines, {
      get: (cache, key) => {
        if (typeof key !== "string") return undefined
        let trampoline = cache[key]
        if (trampoline === undefined && isResourceName(key)) {
          // Not counted as unlinked: with no type bound, no handle can pass its `instanceof`.
          return cache[key] = shellOf(resources, iface, key).constructor
        }
        if (trampoline === undefined) {
          const name = key
          const want = { interface: iface, function: kebabCase(name) }
          wanted.push(want)
          trampoline = cache[key] = (...args: ReadonlyArray<unknown>) => {
            const fn = target[name]
            if (fn === undefined) throw new HostFailure(`${want.interface}#${want.function} is not linked`)
            // One clock reading per host call (a guest that never calls out is stopped by its fuel),
            // which the call's audit event reuses.
            const deadline = watch.deadline
            if (deadline === undefined) return fn(args, NaN)
            const now = deadline.now()
            if (now > deadline.at()) throw new WebAssembly.RuntimeError(deadlineMessage)
            return fn(args, now)
          }
        }
        return trampoline
      }
    })
  }
  // Only guests that can suspend pay for the registry of suspended calls (a context of their own).
  const suspended = interfaces.some((iface) => canSuspend(iface) || suspending.some((name) => name.startsWith(`${iface}#`)))
    ? Suspended.of({ fibers: new Set(), aborted: false, watch }) : undefined
  const pending = interfaces.some(endsCalls) ? new Set<Effect.Effect<void>>() : undefined
  let runEnd: ((effect: Effect.Effect<void>) => unknown) | undefined
  return {
    imports,
    bind: <R>(provided: HostImports<R>, given: Context.Context<R>) => {
      const withSuspended = suspended === undefined ? given : Context.add(given, Suspended, suspended)
      const context = pending === undefined ? withSuspended : Context.add(withSuspended, CallEnd, pending)
      if (pending !== undefined) runEnd = Effect.runSyncExitWith(context as Context.Context<never>)
      for (const [name, functions] of Object.entries(provided)) {
        const target = targets.get(unversioned(name))
        if (target === undefined) continue
        for (const [fnName, fn] of Object.entries(functions)) {
          if (isHostResource(fn)) {
            const resources = shells.get(unversioned(name))
            if (resources !== undefined) {
              const shell = shellOf(resources, unversioned(name), fnName)
              shell.bound = fn
              Object.setPrototypeOf((shell.constructor as { prototype: object }).prototype, fn.prototype)
              bindStatics(shell, fn, `${unversioned(name)}#${fnName}`, context)
            }
            continue
          }
          const qualified = `${unversioned(name)}#${kebabCase(fnName)}`
          target[fnName] = bridgeFunction(qualified, fn as unknown as Callable<R>, context, suspends(qualified))
        }
      }
    },
    unlinked: () => wanted.find((want) => targets.get(want.interface)?.[camelCase(want.function)] === undefined),
    endCall: pending === undefined ? undefined : () => {
      if (pending.size === 0 || runEnd === undefined) return
      const effects = Array.from(pending)
      pending.clear()
      for (const effect of effects) runEnd(effect)
    },
    abort: () => {
      if (suspended === undefined || suspended.aborted) return
      suspended.aborted = true
      for (const fiber of suspended.fibers) fiber.interruptUnsafe()
      suspended.fibers.clear()
    },
    watch: (deadline) => {
      watch.deadline = deadline
    }
  }
}

// A resource's constructor and static functions, run in the context of the instance that binds them.
const bindStatics = <R>(shell: Shell, type: ResourceType, label: string, context: Context.Context<R>): void => {
  if (type.construct === undefined && type.statics === undefined) return
  const run = runnerOf(context as Context.Context<never>).sync
  const construct = type.construct as ((...args: ReadonlyArray<unknown>) => Effect.Effect<object, HostRefusal>) | undefined
  shell.construct = construct === undefined ? undefined : (args) => settle(`${label} constructor`, run(construct(...args)))
  for (const [name, fn] of Object.entries(type.statics ?? {})) {
    const call = fn as (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, HostRefusal>
    Object.defineProperty(shell.constructor, name, {
      configurable: true,
      value: (...args: ReadonlyArray<unknown>) => settle(`${label}.${name}`, run(call(...args)))
    })
  }
}

// An interface with a host call that may suspend the guest (a function or a resource method).
const canSuspend = (iface: string): boolean => suspendingImports.some((name) => name.startsWith(`${iface}#`))
