/**
 * A WebAssembly component, loaded from bytes into an immutable, compiled artifact.
 *
 * `fromBytes` validates the binary, hashes it (sha-256), transpiles it with jco, loads the generated glue
 * from memory and compiles its core modules once. The result is cached by hash in the `ComponentCache`
 * (bounded; one per process unless another is provided): loading the same bytes again costs a map
 * lookup, and a cache directory lets another process skip the transpile too.
 * `instantiate` then makes as many `Instance`s as needed, each with fresh linear memory.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Metric, Scope } from "effect"
import * as fs from "node:fs/promises"
import * as Audit from "./Audit.ts"
import { ComponentLoadError, type LimitExceeded, type LinkError, type Trap, type WasmMemoryExhausted } from "./ComponentError.ts"
import * as ComponentCache from "./ComponentCache.ts"
import type { HostImports } from "./internal/host/hostBridge.ts"
import * as Jco from "./internal/jco.ts"
import * as Internal from "./internal/load/component.ts"
import { storesOf, type Stores } from "./internal/load/componentCache.ts"
import { WasmRewriteError } from "./internal/load/coreSections.ts"
import { limitRewrite } from "./internal/load/limitRewrite.ts"
import { parseWorld, type WorldItem } from "./internal/load/witWorld.ts"
import { unversioned } from "./internal/witName.ts"
import * as Pool from "./internal/run/instancePool.ts"
import * as Instantiate from "./internal/run/instantiate.ts"
import { sha256 } from "./internal/sha256.ts"
import type { Instance } from "./Instance.ts"
import * as ResourceLimits from "./ResourceLimits.ts"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: typeof Internal.TypeId = Internal.TypeId

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
export type World = Internal.World

export type { WorldItem }

/**
 * A loaded component: immutable and shareable; instantiate it as often as needed.
 *
 * @since 0.1.0
 * @category models
 */
export type Component = Internal.Component

/**
 * Host functions by interface name (with or without version) and function name (camelCase, as jco names
 * them): what `instantiate` links a component's imports to. `Linker` builds them from capabilities.
 *
 * @since 0.1.0
 * @category models
 */
export type { HostImports }

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
  /**
   * Host functions (`interface#function`, unversioned WIT names) the host implements asynchronously, to
   * lower as suspending (see `SuspendingImports`, which this replaces for one load).
   */
  readonly suspending?: ReadonlyArray<string> | undefined
}

/**
 * Host functions (`interface#function`, unversioned WIT names, e.g. `airssys:component/storage#get`)
 * that the host implements asynchronously. A component loaded where this is provided has those of its
 * imports lowered with JSPI (`WebAssembly.Suspending`): a call parks the guest's stack while the host
 * waits — no event loop blocked — bounded by the call's timeout, as `messaging.request`, `http.fetch`
 * and `wasi:io/poll` always are. Empty by default: other imports stay synchronous glue, with no JSPI
 * cost (and Node 22, which has no JSPI, can run them). Part of the cache key: the same bytes under
 * another list are another artifact. `Storage.layerSql` adds the storage functions.
 *
 * @since 0.1.0
 * @category references
 */
export const SuspendingImports: Context.Reference<ReadonlyArray<string>> = Context.Reference<ReadonlyArray<string>>(
  "airssys-wasm/Component/SuspendingImports",
  { defaultValue: () => [] }
)

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
 * Loads a component from its bytes. Loads are cached by hash in the `ComponentCache` (the process-wide
 * default unless another is provided): loading the same bytes under the same limits again costs a
 * sha-256 and a map lookup.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromBytes = Effect.fnUntraced(function*(bytes: Uint8Array, options?: LoadOptions) {
  const invalid = checkHeader(bytes)
  if (invalid !== undefined) return yield* invalid
  const hash = sha256(bytes)
  const limits: ResourceLimits.Resolved = { ...(yield* ResourceLimits.Defaults), ...options?.limits }
  const suspending = normalizeSuspending(options?.suspending ?? (yield* SuspendingImports))
  // The compiled artifact depends on the core rewrite and the suspending imports; the component also
  // carries the limits it runs under.
  const variant = `${hash}/${Number.isFinite(limits.memoryBytes) ? limits.memoryBytes : "none"}/fuel=${limits.fuel}/ifuel=${limits.instantiateFuel}/timeout=${Duration.toMillis(limits.timeout)}/${limits.isolation}${suspending.length === 0 ? "" : `/suspending=${suspending.join(",")}`}`
  const cache = storesOf(yield* ComponentCache.ComponentCache)
  const component = cache.components.get(variant) ??
    (yield* load(bytes, hash, variant, limits, cache, options?.cacheDirectory, suspending))
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

// Unversioned, sorted, once each: one key per set.
const normalizeSuspending = (names: ReadonlyArray<string>): ReadonlyArray<string> =>
  names.length === 0 ? names : Array.from(new Set(names.map(unversionedFunction))).sort()

const unversionedFunction = (name: string): string => {
  const hash = name.indexOf("#")
  return hash === -1 ? unversioned(name) : `${unversioned(name.slice(0, hash))}${name.slice(hash)}`
}

// A load the cache missed: transpile (or read the disk cache), rewrite the core modules for the limits,
// compile. Traced: it is the slow path.
const load = Effect.fn("Component.load")(function*(
  bytes: Uint8Array,
  hash: string,
  variant: string,
  limits: ResourceLimits.Resolved,
  cache: Stores,
  cacheDirectory: string | undefined,
  suspending: ReadonlyArray<string>
) {
  yield* Effect.annotateCurrentSpan({ "component.hash": hash, "component.size": bytes.byteLength })
  const rewrite = limitRewrite({ memoryBytes: limits.memoryBytes, fuel: Number.isFinite(limits.fuel) }, cacheDirectory, cache.instrumented)
  const before = Jco.transpileCount
  const loaded = yield* Effect.tryPromise({
    try: () => Jco.loadOnce(bytes, hash, cacheDirectory, rewrite, cache.artifacts, suspending),
    catch: (cause) =>
      cause instanceof WasmRewriteError && cause.reason === "InitialExceedsCap"
        ? fail("ExceedsLimits", `the guest's initial memory exceeds the cap: ${cause.message}`)
        : Jco.isWasmMemoryExhausted(cause)
        ? fail("Exhausted", `no WebAssembly memory left in this process: ${errorMessage(cause)}`)
        : fail("Malformed", `not a valid component: ${errorMessage(cause)}`)
  })
  // Concurrent loads of the same bytes share one `Loaded`: the first to finish publishes it.
  let component = cache.components.get(variant)
  if (component === undefined) {
    component = { [TypeId]: TypeId, hash, size: bytes.byteLength, world: describe(loaded), limits, loaded }
    cache.components.set(variant, component)
    if (Jco.transpileCount > before) yield* Metric.update(transpiles, 1)
  }
  return component
})

/**
 * The world of a component (its imports and exports) read from its bytes without transpiling or
 * compiling them: the header checked, the structure decoded, the core modules validated, and the
 * entry points checked as `fromBytes` does. Failures are the `ComponentLoadError`s `fromBytes` gives
 * for the same bytes (`Malformed` for what it finds only when it transpiles). What a process that
 * only vets a component pays, e.g. a cluster client at deploy.
 *
 * @since 0.1.0
 * @category constructors
 */
export const worldOf = (
  bytes: Uint8Array,
  options?: { readonly entryPoints?: ReadonlyArray<string> | undefined }
): Effect.Effect<World, ComponentLoadError> =>
  Effect.gen(function*() {
    const invalid = checkHeader(bytes)
    if (invalid !== undefined) return yield* invalid
    const wit = yield* Effect.tryPromise({
      try: () => Jco.worldWit(bytes),
      catch: (cause) => fail("Malformed", `not a valid component: ${errorMessage(cause)}`)
    })
    const world: World = { ...parseWorld(wit), wit }
    const entryPoints = options?.entryPoints ?? hostedEntryPoints
    if (!exportsEntryPoint(world, entryPoints)) {
      const exported = world.exports.map((item) => item.name).join(", ") || "nothing"
      return yield* fail("UnexpectedWorld", `component exports ${exported}, but the host expects one of: ${entryPoints.join(", ")}`)
    }
    return world
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
): Effect.Effect<Instance, InstantiateError, Scope.Scope | R> =>
  Effect.contextWith((context: Context.Context<R>) =>
    Instantiate.instantiate(component, options?.imports ?? {}, Context.getOrUndefined(context, Audit.Audit))
  )

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
        fuelHost: () => Instantiate.instantiateFuelHost(component.limits, clock)
      })
    )
  )

/**
 * The identity of a component's bytes: sha-256, hex.
 *
 * @since 0.1.0
 * @category constructors
 */
export const hashOf = (bytes: Uint8Array): string => sha256(bytes)
