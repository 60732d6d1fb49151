/**
 * What `Component.fromBytes` keeps in memory so that loading the same bytes again costs a sha-256 and a
 * map lookup: loaded components, their transpiled and compiled artifacts (jco's glue, the compiled core
 * modules; concurrent loads of the same bytes share one), and fuel-instrumented core modules. Each of the
 * three stores holds at most `capacity` entries and forgets the least recently used one past that.
 *
 * `ComponentCache` is a `Context.Reference`: without one provided, every load in the process shares one
 * default cache of `defaultCapacity` entries per store, so `Component.fromBytes` needs nothing in its
 * environment. Provide another (`layer`, or `Effect.provideService` with `make`) to bound it differently
 * or to keep a test's loads apart. Evicted entries cost a new load, not a wrong answer; only what V8 never
 * frees (the glue module of each load) is not given back.
 *
 * @since 0.1.0
 */
import { Context, Layer } from "effect"
import * as Internal from "./internal/load/componentCache.ts"

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
 * The caches of the load path (see the module's description).
 *
 * @since 0.1.0
 * @category models
 */
export type ComponentCache = Internal.ComponentCache

/**
 * How many entries each store holds now.
 *
 * @since 0.1.0
 * @category models
 */
export type Sizes = Internal.Sizes

/**
 * The capacity of the default cache, per store: 256 components, 256 artifacts and 256 instrumented
 * modules. A process that loads more distinct components than that (or the same bytes under more limits)
 * reloads the least recently used ones.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultCapacity = 256

/**
 * A new, empty cache. `capacity` 0 caches nothing: every load transpiles and compiles anew (a disk cache
 * directory still serves it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: { readonly capacity?: number | undefined }): ComponentCache =>
  new Internal.Stores(options?.capacity ?? defaultCapacity)

/**
 * The cache `Component.fromBytes` uses: one process-wide cache of `defaultCapacity` unless another is
 * provided.
 *
 * @since 0.1.0
 * @category services
 */
export const ComponentCache: Context.Reference<ComponentCache> = Context.Reference<ComponentCache>(
  "airssys-wasm/ComponentCache",
  { defaultValue: () => make() }
)

/**
 * A layer with a new cache of its own.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: { readonly capacity?: number | undefined }): Layer.Layer<never> =>
  Layer.sync(ComponentCache, () => make(options))
