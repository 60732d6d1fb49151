/**
 * Instances prepared ahead, per component: jco's `instantiate`, V8's instance creation and finding the
 * exports to call (`instance.ts`'s `bind`) happen before a spawn or a restart asks, so taking one costs
 * microseconds. Prepared instances are not linked yet: their imports are trampolines bound when they are
 * taken (see `Binding`). Their start code runs when they are prepared, metered like any instantiation
 * (`Options.fuelHost`); a start code that fails breaks the pool, and `instantiate` reports the failure.
 *
 * Refills run one instance per macrotask, and while the pool still has instances to hand out they wait
 * until the event loop has had idle time: during a burst of spawns or restarts, preparing the next
 * instances (~100 µs each) would only compete with the very starts the pool is there to speed up. An
 * empty pool refills at once.
 *
 * @internal
 */
import { Duration } from "effect"
import type { Resolved } from "../../ResourceLimits.ts"
import { performance } from "node:perf_hooks"
import { makeBinding, type Binding } from "../host/hostBridge.ts"
import type { FuelHost } from "./fuelMeter.ts"
import { bind, type Bound } from "./instance.ts"
import * as Jco from "../jco.ts"

export interface Prepared {
  readonly binding: Binding
  readonly instantiated: Jco.Instantiated
  readonly bound: Bound
}

/** How a component's instances are prepared. */
export interface Options {
  /** The limits the instances are instantiated under: `take` hands them only to a caller with the same. */
  readonly key: string
  /** A fuel host with the component's instantiate budget, for each instance's start code. */
  readonly fuelHost: () => FuelHost
}

/** The key of the limits that instances are instantiated under (start code's fuel and timeout). */
export const limitsKey = (limits: Resolved): string => `${limits.instantiateFuel}/${Duration.toMillis(limits.timeout)}`

interface Pool {
  target: number
  options: Options | undefined
  readonly ready: Array<Prepared>
  refilling: boolean
  /** Set when preparing failed (e.g. a start function that calls an import): pooling stops. */
  broken: boolean
}

const pools = new WeakMap<Jco.Loaded, Pool>()

const poolOf = (loaded: Jco.Loaded): Pool => {
  let pool = pools.get(loaded)
  if (pool === undefined) {
    pool = { target: 0, options: undefined, ready: [], refilling: false, broken: false }
    pools.set(loaded, pool)
  }
  return pool
}

/** Instantiates with unbound imports. Throws what jco throws. */
export const prepare = (loaded: Jco.Loaded, fuel?: FuelHost): Prepared => {
  const binding = makeBinding(loaded.imports, loaded.suspending)
  const instantiated = Jco.instantiate(loaded, binding.imports, fuel)
  return { binding, instantiated, bound: bind(loaded, instantiated) }
}

const fillOne = (loaded: Jco.Loaded, pool: Pool): boolean => {
  if (pool.broken || pool.ready.length >= pool.target) return false
  try {
    pool.ready.push(prepare(loaded, pool.options?.fuelHost()))
    return true
  } catch {
    pool.broken = true
    return false
  }
}

const scheduleRefill = (loaded: Jco.Loaded, pool: Pool): void => {
  if (pool.refilling || pool.broken || pool.ready.length >= pool.target) return
  pool.refilling = true
  let since = performance.eventLoopUtilization()
  // Each step prepares one instance if the event loop was idle since the last step, or the pool is empty.
  const step = (): void => {
    if (pool.broken || pool.ready.length >= pool.target) {
      pool.refilling = false
      return
    }
    const idle = performance.eventLoopUtilization(since).idle > 0
    since = performance.eventLoopUtilization()
    if (idle || pool.ready.length === 0) fillOne(loaded, pool)
    if (pool.ready.length === 0) setImmediate(step)
    else setTimeout(step, 1)
  }
  if (pool.ready.length === 0) setImmediate(step)
  else setTimeout(step, 1)
}

/** Keeps `size` instances of the component prepared: fills up to it now, or lets the extra ones go. */
export const prewarm = (loaded: Jco.Loaded, size: number, options: Options): number => {
  const pool = poolOf(loaded)
  if (pool.options !== undefined && pool.options.key !== options.key) {
    // Prepared under other limits: start over under these.
    pool.ready.length = 0
    pool.broken = false
  }
  pool.options = options
  pool.target = size
  if (pool.ready.length > size) pool.ready.length = Math.max(0, size)
  while (fillOne(loaded, pool)) {
    // filling synchronously: the caller asked to wait for a warm pool
  }
  return pool.ready.length
}

/** A prepared instance if one is ready (and a refill behind it), else undefined. */
export const take = (loaded: Jco.Loaded, key: string): Prepared | undefined => {
  const pool = pools.get(loaded)
  if (pool === undefined || pool.target === 0 || pool.options?.key !== key) return undefined
  const prepared = pool.ready.pop()
  scheduleRefill(loaded, pool)
  return prepared
}
