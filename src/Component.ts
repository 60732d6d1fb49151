/**
 * A WebAssembly component, loaded from bytes into an immutable, compiled artifact.
 *
 * `fromBytes` validates the binary, hashes it (sha-256), transpiles it with jco, loads the generated glue
 * from memory and compiles its core modules once. The result is cached by hash: loading the same bytes
 * again costs a map lookup, and a cache directory lets another process skip the transpile too.
 * `instantiate` then makes as many `Instance`s as needed, each with fresh linear memory.
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Metric, Scope } from "effect"
import * as fs from "node:fs/promises"
import * as Audit from "./Audit.ts"
import { ComponentLoadError, LimitExceeded, LinkError, Trap, WasmMemoryExhausted } from "./ComponentError.ts"
import { type HostImports, linkedIdOf, makeBinding } from "./internal/host/hostBridge.ts"
import * as Pool from "./internal/run/instancePool.ts"
import { makeIsolated } from "./internal/run/isolatedInstance.ts"
import { coreRewrite } from "./internal/load/coreRewrite.ts"
import { type FuelHost, makeFuelHost } from "./internal/run/fuelMeter.ts"
import * as Jco from "./internal/jco.ts"
import { WasmRewriteError } from "./internal/load/wasmRewrite.ts"
import * as ResourceLimits from "./ResourceLimits.ts"
import * as InstanceImpl from "./Instance.ts"
import { parseWorld, type WorldItem } from "./internal/load/witWorld.ts"
import { unversioned } from "./internal/witName.ts"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("airssys-wasm/Component")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * What a component imports and exports, read from its embedded WIT.
 *
 * @since 0.1.0
 * @category models
 */
export interface World {
  /** Imported interfaces (e.g. `airssys:component/logging@0.1.0`) and world-level functions. */
  readonly imports: ReadonlyArray<WorldItem>
  /** Exported functions (e.g. `process`, with its signature) and interfaces. */
  readonly exports: ReadonlyArray<WorldItem>
  /** The world as WIT text. */
  readonly wit: string
}

export type { WorldItem }

/**
 * A loaded component: immutable and shareable; instantiate it as often as needed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Component {
  readonly [TypeId]: TypeId
  /** sha-256 of the component's bytes, hex: its identity. */
  readonly hash: string
  /** Size of the component's bytes. */
  readonly size: number
  readonly world: World
  /** The limits its core modules were rewritten for, and that its instances run under. */
  readonly limits: ResourceLimits.Resolved
  /** @internal */
  readonly loaded: Jco.Loaded
}

/**
 * The entry points the host knows how to drive: the `processor` and `actor` worlds, and a WASI command's
 * `wasi:cli/run` (what clang, Rust and `jco new --wasi-command` make; `Instance.call` runs it). A component
 * that exports none of them is of an unexpected world.
 *
 * @since 0.1.0
 * @category models
 */
export const hostedEntryPoints: ReadonlyArray<string> = ["process", "airssys:component/handler", "wasi:cli/run"]

/**
 * @since 0.1.0
 * @category models
 */
export interface LoadOptions {
  /** A folder where transpiled output is kept by hash, so another process can skip the transpile. */
  readonly cacheDirectory?: string | undefined
  /**
   * The component must export at least one of these (functions or interfaces, versions ignored).
   * Defaults to `hostedEntryPoints`; an empty list accepts any world.
   */
  readonly entryPoints?: ReadonlyArray<string> | undefined
  /**
   * Memory cap, fuel and timeout per call (isolation applies to actors). Missing fields take
   * `ResourceLimits.Defaults`: unless a layer (`ResourceLimits.layerConfig`) provides others,
   * `ResourceLimits.defaults` — 64 MiB, 1e9 fuel units and 5 s per call — which protect the host from an
   * untrusted guest; give `ResourceLimits.unlimited` (or `fuel: Infinity`) for a trusted one. Metering
   * rewrites the guest's core modules once per bytes, in one pass (cached, also in `cacheDirectory`):
   * milliseconds for C and QuickJS guests, about a second for a 12 MB componentize-js guest. A load from
   * `cacheDirectory` reads the rewritten modules and compiles them, nothing more.
   */
  readonly limits?: Partial<ResourceLimits.Resolved> | undefined
}

/**
 * Counts transpiles done in this process: a cache hit (memory or disk) does none.
 *
 * @since 0.1.0
 * @category metrics
 */
export const transpiles = Metric.counter("airssys_component_transpiles_total", {
  description: "Components transpiled by jco in this process",
  incremental: true
})

const loadedComponents = new Map<string, Component>()

const fail = (reason: ComponentLoadError["reason"], message: string) => new ComponentLoadError({ reason, message })

// Cheap checks first, so that the common mistakes get a precise reason instead of a parser message.
const checkHeader = (bytes: Uint8Array): ComponentLoadError | undefined => {
  if (bytes.byteLength === 0) return fail("Empty", "no bytes to load")
  if (bytes.byteLength < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    return fail("NotWasm", "not WebAssembly: the bytes do not start with \\0asm")
  }
  const layer = bytes[6]! | (bytes[7]! << 8)
  if (layer === 0) {
    return fail(
      "CoreModule",
      "this is a core WebAssembly module, not a component: wrap it with `jco new` or `wasm-tools component new`"
    )
  }
  if (layer !== 1) return fail("Malformed", `unknown WebAssembly binary layer ${layer}`)
  return undefined
}

const exportsEntryPoint = (world: World, entryPoints: ReadonlyArray<string>): boolean =>
  entryPoints.length === 0 ||
  world.exports.some((item) => entryPoints.includes(item.name) || entryPoints.includes(unversioned(item.name)))

const describe = (loaded: Jco.Loaded): World => ({ ...parseWorld(loaded.wit), wit: loaded.wit })

const errorMessage = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

/**
 * Loads a component from its bytes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromBytes = Effect.fnUntraced(function*(bytes: Uint8Array, options?: LoadOptions) {
  const invalid = checkHeader(bytes)
  if (invalid !== undefined) return yield* invalid
  const hash = Jco.sha256(bytes)
  const limits: ResourceLimits.Resolved = { ...(yield* ResourceLimits.Defaults), ...options?.limits }
  const rewrite = coreRewrite({ memoryBytes: limits.memoryBytes, fuel: Number.isFinite(limits.fuel) }, options?.cacheDirectory)
  // The compiled artifact depends on the rewrite only; the component also carries the limits it runs under.
  const variant = `${hash}/${rewrite?.key ?? "as-is"}/fuel=${limits.fuel}/ifuel=${limits.instantiateFuel}/timeout=${Duration.toMillis(limits.timeout)}/${limits.isolation}`
  let component = loadedComponents.get(variant)
  if (component === undefined) {
    const before = Jco.transpileCount
    const loaded = yield* Effect.tryPromise({
      try: () => Jco.loadOnce(bytes, hash, options?.cacheDirectory, rewrite),
      catch: (cause) =>
        cause instanceof WasmRewriteError && cause.reason === "InitialExceedsCap"
          ? fail("ExceedsLimits", `the guest's initial memory exceeds the cap: ${cause.message}`)
          : Jco.isWasmMemoryExhausted(cause)
          ? fail("Exhausted", `no WebAssembly memory left in this process: ${errorMessage(cause)}`)
          : fail("Malformed", `not a valid component: ${errorMessage(cause)}`)
    })
    // Concurrent loads of the same bytes share one `Loaded`: the first to finish publishes it.
    component = loadedComponents.get(variant)
    if (component === undefined) {
      component = { [TypeId]: TypeId, hash, size: bytes.byteLength, world: describe(loaded), limits, loaded }
      loadedComponents.set(variant, component)
      if (Jco.transpileCount > before) yield* Metric.update(transpiles, 1)
    }
  }
  const entryPoints = options?.entryPoints ?? hostedEntryPoints
  if (!exportsEntryPoint(component.world, entryPoints)) {
    const exported = component.world.exports.map((item) => item.name).join(", ") || "nothing"
    return yield* fail(
      "UnexpectedWorld",
      `component exports ${exported}, but the host expects one of: ${entryPoints.join(", ")}`
    )
  }
  return component
})

/**
 * Loads a component from a file.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromFile = (path: string, options?: LoadOptions): Effect.Effect<Component, ComponentLoadError> =>
  Effect.tryPromise({
    try: () => fs.readFile(path),
    catch: (cause) => fail("Unreadable", `cannot read ${path}: ${errorMessage(cause)}`)
  }).pipe(Effect.flatMap((buffer) => fromBytes(new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength), options)))

/**
 * @since 0.1.0
 * @category models
 */
export interface InstantiateOptions<R> {
  /** Host functions by interface name (with or without version) and function name (camelCase, as jco names them). */
  readonly imports?: HostImports<R> | undefined
}

/**
 * How instantiating can fail: an import nobody provides (`LinkError`), a start function that trapped
 * (`Trap`), start code past its `instantiateFuel` or the timeout (`LimitExceeded` with
 * `phase: "instantiate"`), no WebAssembly memory left in the process for a new instance
 * (`WasmMemoryExhausted`).
 *
 * @since 0.1.0
 * @category models
 */
export type InstantiateError = LinkError | Trap | LimitExceeded | WasmMemoryExhausted

/**
 * Instantiates a component: fresh linear memory, the shared compiled modules, and the given host
 * functions. Code that runs now (core start functions, `_initialize`, a language runtime's init) is
 * metered from the component's `instantiateFuel` and held to its `timeout`. Fails with `LinkError` when
 * the component imports an interface or function nobody provides, `LimitExceeded` (`phase:
 * "instantiate"`) when the start code runs out of fuel or time, `Trap` when it traps, and
 * `WasmMemoryExhausted` when the process has no WebAssembly memory left for a new instance. The instance is
 * closed when the scope closes; calls after that fail with `InstancePoisoned`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const instantiate = <R = never>(
  component: Component,
  options?: InstantiateOptions<R>
): Effect.Effect<InstanceImpl.Instance, InstantiateError, Scope.Scope | R> =>
  Effect.contextWith((context: Context.Context<R>) => {
    const made = instantiateUnsafe(component, options?.imports ?? {}, context)
    if (made === undefined) {
      const imports = options?.imports ?? {}
      return makeIsolated(component, imports, auditPoisoning(component, context, imports))
    }
    if (isInstantiateError(made)) return Effect.fail(made)
    return Effect.acquireRelease(Effect.succeed(made), (instance) => Effect.sync(() => instance.close()))
  })

/**
 * @internal Whether `instantiateUnsafe`'s answer is a failure.
 */
export const isInstantiateError = (made: unknown): made is InstantiateError =>
  made instanceof LinkError || made instanceof Trap || made instanceof LimitExceeded || made instanceof WasmMemoryExhausted

/**
 * The fuel host of one instantiation: `instantiateFuel`, and the timeout read from `clock`
 * (an unmetered component's core modules never ask it for fuel).
 */
const instantiateFuelHost = (limits: ResourceLimits.Resolved, clock: Clock.Clock): FuelHost => {
  const timeoutMillis = Duration.toMillis(limits.timeout)
  if (!Number.isFinite(timeoutMillis)) return makeFuelHost({ units: limits.instantiateFuel })
  // The clock is read from the first refill on, which is where start code begins (the fuel globals start
  // at 0): a component without start code never reads it.
  let deadline: number | undefined
  return makeFuelHost({
    units: limits.instantiateFuel,
    expired: () => {
      const now = clock.currentTimeMillisUnsafe()
      deadline ??= now + timeoutMillis
      return now > deadline
    }
  })
}

/** What the start code's failure was: a limit when the instantiate budget stopped it. */
const instantiateFailure = (
  component: Component,
  fuel: FuelHost,
  failure: Jco.Failure
): LimitExceeded | Trap | WasmMemoryExhausted => {
  if (failure._tag === "Exhausted") {
    return new WasmMemoryExhausted({ componentHash: component.hash, function: "instantiate", cause: failure.message })
  }
  const stopped = fuel.instantiateStopped()
  if (stopped === "fuel") {
    return new LimitExceeded({
      limit: "fuel",
      componentHash: component.hash,
      phase: "instantiate",
      allowed: component.limits.instantiateFuel
    })
  }
  if (stopped === "timeout") {
    return new LimitExceeded({
      limit: "timeout",
      componentHash: component.hash,
      phase: "instantiate",
      allowed: Duration.toMillis(component.limits.timeout)
    })
  }
  return new Trap({ componentHash: component.hash, function: "instantiate", message: failureMessage(failure) })
}


/**
 * @internal `instantiate` now, in the caller's stack and without a scope (the caller closes the
 * instance): what an actor's (re)start does, with no effect machinery between it and a warm pool's
 * prepared instance. `undefined` for a worker-isolated component, which only `instantiate` makes.
 */
export const instantiateUnsafe = <R>(
  component: Component,
  hostImports: HostImports<R>,
  context: Context.Context<R>
): InstanceImpl.Instance | InstantiateError | undefined => {
  if (component.loaded.imports.length > 0) {
    const provided = new Set(Object.keys(hostImports).map(unversioned))
    const missingInterface = component.loaded.imports.find((required) => !provided.has(required))
    if (missingInterface !== undefined) {
      return new LinkError({
        interface: missingInterface,
        message: `component imports ${missingInterface} but no implementation was found`
      })
    }
  }
  if (component.limits.isolation === "worker") return undefined
  const pooled = Pool.take(component.loaded, Pool.limitsKey(component.limits))
  if (pooled !== undefined) {
    // Nothing of the guest runs here: the pool already instantiated it.
    pooled.binding.bind(hostImports, context)
    return linked(component, pooled, context, hostImports)
  }
  const fuel = instantiateFuelHost(component.limits, Context.get(context, Clock.Clock))
  return Jco.attempt(
    (): Pool.Prepared => {
      // Bound before instantiating, so a start function may already call its imports.
      const binding = makeBinding(component.loaded.imports)
      binding.bind(hostImports, context)
      const instantiated = Jco.instantiate(component.loaded, binding.imports, fuel)
      return { binding, instantiated, bound: InstanceImpl.bind(component.loaded, instantiated) }
    },
    (prepared): InstanceImpl.Instance | InstantiateError => linked(component, prepared, context, hostImports),
    (failure) => instantiateFailure(component, fuel, failure)
  )
}

const linked = <R>(
  component: Component,
  prepared: Pool.Prepared,
  context: Context.Context<R>,
  hostImports: HostImports<R>
): InstanceImpl.Instance | LinkError => {
  const missing = prepared.binding.unlinked()
  if (missing === undefined) {
    return InstanceImpl.make(
      component,
      prepared.instantiated,
      Context.get(context, Clock.Clock),
      prepared.bound,
      prepared.binding.abort,
      prepared.binding.endCall,
      prepared.binding.watch,
      auditPoisoning(component, context, hostImports)
    )
  }
  return new LinkError({
    interface: missing.interface,
    function: missing.function,
    message: `component imports ${missing.interface}#${missing.function} but no implementation was found`
  })
}

/**
 * With an `Audit` in the environment, an instance's first trap or limit kill (which poisons it) is a
 * lifecycle event: `trapped` (the trap's message), or `limit-exceeded` with the limit and its value.
 * The component is named by the id the Linker linked it as, else by its hash.
 */
const auditPoisoning = <R>(
  component: Component,
  context: Context.Context<R>,
  hostImports: HostImports<R>
): ((error: Trap | LimitExceeded) => void) | undefined => {
  const audit = Context.getOrUndefined(context, Audit.Audit)
  if (audit === undefined) return undefined
  const id = linkedIdOf(hostImports) ?? `component:${component.hash.slice(0, 12)}`
  const run = Effect.runForkWith(context)
  return (error) => {
    run(audit.record(
      error._tag === "LimitExceeded"
        ? { kind: "lifecycle", component: id, action: "limit-exceeded", limit: error.limit, value: error.allowed, detail: `${error.function}: ${error.message}` }
        : { kind: "lifecycle", component: id, action: "trapped", detail: `${error.function}: ${error.message}` }
    ))
  }
}

/**
 * Keeps `size` instances of the component prepared ahead (instantiated, not yet linked), so that
 * `instantiate` — and with it an actor's spawn or restart — takes one in microseconds instead of paying
 * jco's and V8's instantiation (~120 µs). Taken instances are replaced in the background, one per
 * macrotask, after a few quiet milliseconds (at once when the pool ran empty), so a burst of starts is
 * not slowed by its own refills. Costs the memory of `size` idle instances (their linear memory, and
 * ~7 KB of JS heap each for a component that imports nothing, ~35 KB with jco's glue otherwise); a
 * smaller `size` (0 turns the pool off) lets the extra ones go. Returns how many are ready.
 *
 * @since 0.1.0
 * @category combinators
 */
export const prewarm = (component: Component, size: number): Effect.Effect<number> =>
  Effect.clockWith((clock) =>
    Effect.sync(() =>
      Pool.prewarm(component.loaded, size, {
        key: Pool.limitsKey(component.limits),
        // Each prepared instance's start code gets the component's instantiate budget and timeout.
        fuelHost: () => instantiateFuelHost(component.limits, clock)
      })
    )
  )

const failureMessage = (failure: Jco.Failure): string =>
  failure._tag === "GuestErr"
    ? `start function returned an error: ${String(failure.payload)}`
    : failure._tag === "Exit"
    ? `the guest exited with code ${failure.code} while it was instantiated`
    : failure.message

/**
 * The identity of a component's bytes: sha-256, hex.
 *
 * @since 0.1.0
 * @category constructors
 */
export const hashOf = (bytes: Uint8Array): string => Jco.sha256(bytes)
