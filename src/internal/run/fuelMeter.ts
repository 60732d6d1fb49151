/**
 * Fuel at run time: reading and refilling the `airssys_fuel` globals that `instrumentFuel` adds, and the
 * host half of the `airssys:fuel.refill` import it calls when a global runs out. Kept apart from the
 * rewriting (and free of imports) because worker threads load it on every spawn.
 *
 * A call's fuel is handed to the guest in slices when it has a deadline: each time a slice is used up the
 * guest calls `refill`, which reads the clock and either hands out the next slice or makes the guest trap
 * (`stopped()` then says `"timeout"`). Without a deadline the whole allowance is one slice, and `refill`
 * only runs when it is gone.
 *
 * @internal
 */
const fuelExport = "airssys_fuel"

/** The import module an instrumented core module expects (see `fuelInstrument.fuelImport`). */
export const fuelImportModule = "airssys:fuel"

/**
 * Units per slice when a call has a deadline: a tight loop burns 1M units in about a millisecond, so a
 * timeout is noticed within a few ms of passing, for one host call and one clock read per slice.
 */
export const sliceUnits = 1_000_000

/** Why the guest was stopped, when the meter stopped it. */
export type Stop = "fuel" | "timeout"

/** The `airssys:fuel` import object of one instrumented core instance. */
// A type, not an interface: it must fit `WebAssembly.ModuleImports`' index signature.
export type FuelImports = {
  /**
   * Called by the guest when its fuel global drops below zero, with the global's value: returns the
   * global's new value, `>= 0` to go on, or `current` (still negative) to make the guest trap.
   */
  readonly refill: (current: bigint) => bigint
}

/**
 * Fuel for the code that runs while a component is instantiated (core `start` functions, `_initialize`,
 * a language runtime's init): `units` shared by all its core instances, in slices with a clock check
 * between them when `expired` is given.
 */
export interface InstantiateBudget {
  readonly units: number
  readonly expired?: (() => boolean) | undefined
}

/**
 * The host side of `airssys:fuel.refill` for one instantiation. Created before the core modules are
 * instantiated (they capture the import, and their start code may already need fuel), and connected to
 * a meter afterwards. Until then refills come from the instantiate budget, when one was given.
 */
export interface FuelHost {
  /** The import object of the first instrumented core instance (`importsFor(0)`). */
  readonly imports: FuelImports
  /** The import object of the `index`-th instrumented core instance, in instantiation order. */
  readonly importsFor: (index: number) => FuelImports
  /** What `refill` does: the instantiate budget's rule until `fuelMeter` connects its own. */
  onEmpty: (core: number, current: bigint) => bigint
  /** Why the instantiate budget stopped the guest, if it did (the guest then trapped at instantiation). */
  readonly instantiateStopped: () => Stop | undefined
  /** Closes the instantiate budget: until a meter connects, every refill is refused. */
  readonly endInstantiate: () => void
}

const slice = BigInt(sliceUnits)
// "No limit" as a fuel value: far more than any guest can burn, far from the i64 edge.
const unlimitedUnits = 1n << 62n

export const makeFuelHost = (budget?: InstantiateBudget): FuelHost => {
  let stop: Stop | undefined
  // Units of the budget not yet handed to a core instance (shared by all of them).
  let pool = budget === undefined ? 0n : Number.isFinite(budget.units) ? BigInt(budget.units) : unlimitedUnits
  const expired = budget?.expired
  const byIndex: Array<FuelImports> = []
  const host: FuelHost = {
    imports: undefined as unknown as FuelImports,
    importsFor: (index) => (byIndex[index] ??= { refill: (current) => host.onEmpty(index, current) }),
    onEmpty: (_, current) => {
      // `current` is below zero by what the last charge overdrew: that comes out of the pool too.
      pool += current
      if (pool < 0n) {
        stop = "fuel"
        return current
      }
      if (expired?.() === true) {
        stop = "timeout"
        return current
      }
      const next = expired === undefined || pool < slice ? pool : slice
      pool -= next
      return next
    },
    instantiateStopped: () => stop,
    endInstantiate: () => {
      host.onEmpty = (_, current) => current
    }
  }
  ;(host as { imports: FuelImports }).imports = host.importsFor(0)
  return host
}

/**
 * The fuel of one instantiated component: the `airssys_fuel` globals of its instrumented core instances
 * (each core module is metered on its own; in a wit-component guest one module runs all the guest code).
 */
export interface FuelMeter {
  /**
   * Gives every instrumented core instance `units` of fuel: call before each guest call. With `expired`,
   * the units are handed out in slices and `expired()` is asked between slices; `true` stops the guest.
   */
  readonly refill: (units: number, expired?: () => boolean) => void
  /** Units used since the last `refill`, by the core instance that used the most. */
  readonly consumed: () => number
  /**
   * Whether a core instance ran out since the last `refill`. After a trap this tells out of fuel from
   * any other trap: the charge that trapped left the fuel negative, and nothing else makes it so.
   */
  readonly exhausted: () => boolean
  /** Why the meter stopped the guest since the last `refill`: out of fuel, or past its deadline. */
  readonly stopped: () => Stop | undefined
}

/** The fuel global of an instantiated core module, when it was instrumented. */
export const fuelGlobal = (instance: WebAssembly.Instance): WebAssembly.Global | undefined => {
  const global = instance.exports[fuelExport]
  return global instanceof WebAssembly.Global ? global : undefined
}

const toUnits = (units: number): bigint => {
  if (!Number.isSafeInteger(units) || units < 0) throw new RangeError(`fuel must be a non-negative safe integer, got ${units}`)
  return BigInt(units)
}

/**
 * A meter over the instrumented core instances among `cores`; `undefined` when none is instrumented.
 * `host`, when given, is connected so that the guest's refill requests reach this meter.
 */
export const fuelMeter = (cores: ReadonlyArray<WebAssembly.Instance>, host?: FuelHost): FuelMeter | undefined => {
  const globals = cores.flatMap((core) => {
    const global = fuelGlobal(core)
    return global === undefined ? [] : [global]
  })
  if (globals.length === 0) return undefined
  let units = 0
  let unitsBig = 0n
  // The first slice and the rest of `units`, when sliced: computed once, not per call.
  let slicedFirst = 0n
  let slicedRest = 0n
  // Per global: the units of this call not yet handed to the guest.
  const reserves = globals.map(() => 0n)
  let deadline: (() => boolean) | undefined
  let stop: Stop | undefined
  const left = (i: number): bigint => (globals[i]!.value as bigint) + reserves[i]!
  if (host !== undefined) {
    // Core `i` overdrew its global to `current`: hand it the next slice of its reserve, or refuse.
    host.onEmpty = (i, current) => {
      const reserve = reserves[i]
      if (reserve === undefined) return current
      const available = current + reserve
      if (available < 0n) {
        // Out of fuel: the global keeps the whole deficit, as without slices.
        reserves[i] = 0n
        stop = "fuel"
        return available
      }
      if (deadline?.() === true) {
        stop = "timeout"
        return current
      }
      const next = available < slice ? available : slice
      reserves[i] = available - next
      return next
    }
  }
  return {
    refill: (next, expired) => {
      if (next !== units) {
        units = next
        unitsBig = toUnits(next)
        slicedFirst = unitsBig > slice ? slice : unitsBig
        slicedRest = unitsBig - slicedFirst
      }
      deadline = host === undefined ? undefined : expired
      stop = undefined
      const first = deadline === undefined ? unitsBig : slicedFirst
      const rest = deadline === undefined ? 0n : slicedRest
      for (let i = 0; i < globals.length; i++) {
        globals[i]!.value = first
        reserves[i] = rest
      }
    },
    consumed: () => {
      let least = unitsBig
      for (let i = 0; i < globals.length; i++) {
        const l = left(i)
        if (l < least) least = l
      }
      return Number(unitsBig - least)
    },
    exhausted: () => stop === "fuel" || globals.some((_, i) => left(i) < 0n),
    stopped: () => stop
  }
}
