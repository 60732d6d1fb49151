/**
 * Fuel at run time: reading and refilling the `airssys_fuel` globals that `instrumentFuel` adds. Kept
 * apart from the rewriting (and free of imports) because worker threads load it on every spawn.
 *
 * @internal
 */
const fuelExport = "airssys_fuel"

/**
 * The fuel of one instantiated component: the `airssys_fuel` globals of its instrumented core instances
 * (each core module is metered on its own; in a wit-component guest one module runs all the guest code).
 */
export interface FuelMeter {
  /** Gives every instrumented core instance `units` of fuel: call before each guest call. */
  readonly refill: (units: number) => void
  /** Units used since the last `refill`, by the core instance that used the most. */
  readonly consumed: () => number
  /**
   * Whether a core instance ran out since the last `refill`. After a trap this tells out of fuel from
   * any other trap: the charge that trapped left the global negative, and nothing else makes it so.
   */
  readonly exhausted: () => boolean
}

/** The fuel global of an instantiated core module, when it was instrumented. */
export const fuelGlobal = (instance: WebAssembly.Instance): WebAssembly.Global | undefined => {
  const global = instance.exports[fuelExport]
  return global instanceof WebAssembly.Global ? global : undefined
}

/** A meter over the instrumented core instances among `cores`; `undefined` when none is instrumented. */
export const fuelMeter = (cores: ReadonlyArray<WebAssembly.Instance>): FuelMeter | undefined => {
  const globals = cores.flatMap((core) => {
    const global = fuelGlobal(core)
    return global === undefined ? [] : [global]
  })
  if (globals.length === 0) return undefined
  let units = 0
  let unitsBig = 0n
  return {
    refill: (next) => {
      if (next !== units) {
        if (!Number.isSafeInteger(next) || next < 0) throw new RangeError(`fuel must be a non-negative safe integer, got ${next}`)
        units = next
        unitsBig = BigInt(next)
      }
      for (const global of globals) global.value = unitsBig
    },
    consumed: () => {
      let least = unitsBig
      for (const global of globals) if ((global.value as bigint) < least) least = global.value as bigint
      return Number(unitsBig - least)
    },
    exhausted: () => globals.some((global) => (global.value as bigint) < 0n)
  }
}
