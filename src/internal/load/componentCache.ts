/**
 * The caches of the load path, as one value: loaded components (by bytes and limits), compiled artifacts
 * (by bytes and core rewrite: what a transpile and compile made, shared by concurrent loads), and
 * fuel-instrumented core modules (by hash). Each is a `BoundedCache` of the same capacity. The public
 * service (`ComponentCache.ts`) hands one to `Component.fromBytes`, which passes its stores down to the
 * jco seam and the fuel rewrite.
 *
 * Its header has no internal tag, on purpose: the published declarations keep its public types and
 * leave out its exports tagged internal (`scripts/build.ts`).
 */
import { Effect } from "effect"
import type { Loaded } from "../jco.ts"
import { BoundedCache } from "./boundedCache.ts"
import type { Component } from "./component.ts"

export const TypeId: unique symbol = Symbol.for("airssys-wasm/ComponentCache")

export type TypeId = typeof TypeId

/**
 * How many entries each store holds now.
 *
 * @since 0.1.0
 * @category models
 */
export interface Sizes {
  /** Loaded components, one per bytes and limits. */
  readonly components: number
  /** Transpiled and compiled artifacts, one per bytes and core rewrite (memory cap, fuel). */
  readonly artifacts: number
  /** Fuel-instrumented core modules. */
  readonly instrumented: number
}

/**
 * The process's caches of the load path: what makes a second load of the same bytes cost a hash and a
 * map lookup. Each store holds at most `capacity` entries and forgets the least recently used past that.
 *
 * @since 0.1.0
 * @category models
 */
export interface ComponentCache {
  readonly [TypeId]: TypeId
  /** The most entries each store holds. */
  readonly capacity: number
  /** How many entries each store holds now. */
  readonly sizes: Effect.Effect<Sizes>
  /** Forgets everything (a disk cache directory is left alone). */
  readonly clear: Effect.Effect<void>
}

/** @internal */
export class Stores implements ComponentCache {
  readonly [TypeId]: TypeId = TypeId
  readonly capacity: number
  readonly components: BoundedCache<string, Component>
  readonly artifacts: BoundedCache<string, Promise<Loaded>>
  readonly instrumented: BoundedCache<string, Promise<Uint8Array>>
  readonly sizes: Effect.Effect<Sizes>
  readonly clear: Effect.Effect<void>
  constructor(capacity: number) {
    this.components = new BoundedCache(capacity)
    this.artifacts = new BoundedCache(capacity)
    this.instrumented = new BoundedCache(capacity)
    this.capacity = this.components.capacity
    this.sizes = Effect.sync(() => ({
      components: this.components.size,
      artifacts: this.artifacts.size,
      instrumented: this.instrumented.size
    }))
    this.clear = Effect.sync(() => {
      this.components.clear()
      this.artifacts.clear()
      this.instrumented.clear()
    })
  }
}

/** @internal The stores behind a `ComponentCache` (every one is made by `new Stores`). */
export const storesOf = (cache: ComponentCache): Stores => cache as Stores
