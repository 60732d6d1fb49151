/**
 * The WASI 0.2 clocks, `wasi:clocks/wall-clock` and `wasi:clocks/monotonic-clock`, from Effect's
 * `Clock`: a guest reads the clock of the fiber that instantiated it, so `TestClock` drives guests
 * exactly as it drives host code.
 *
 * `now` and `resolution` of both interfaces are implemented. `monotonic-clock.subscribe-instant` and
 * `subscribe-duration` return `wasi:io/poll` pollables, which would need the whole `wasi:io/poll`
 * resource machinery; they are not provided, so a guest that imports them fails to link (or gets a
 * trapping deny stub with `denyUnlinked`).
 *
 * The clocks are ungated (the capability model has no clock grant): a host that does not want a
 * component to read time links `layerDeny`, a clock stopped at zero (a trap would break every
 * componentize-js guest, which reads the monotonic clock on its first call). The monotonic clock
 * never goes backwards, even when a `TestClock` is set back.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer } from "effect"
import * as Linker from "../Linker.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export const wallClockInterface = "wasi:clocks/wall-clock"

/**
 * @since 0.1.0
 * @category models
 */
export const monotonicClockInterface = "wasi:clocks/monotonic-clock"

/**
 * `wasi:clocks/wall-clock.datetime`: seconds and nanoseconds since the Unix epoch.
 *
 * @since 0.1.0
 * @category models
 */
export interface Datetime {
  readonly seconds: bigint
  readonly nanoseconds: number
}

/**
 * What both clocks report as their resolution: one microsecond.
 *
 * @since 0.1.0
 * @category models
 */
export const resolutionNanos = 1_000n

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------

/**
 * The time guests see. Synchronous effects: a guest's clock read cannot wait.
 *
 * @since 0.1.0
 * @category services
 */
export class Clocks extends Context.Service<Clocks, {
  readonly wallNow: Effect.Effect<Datetime>
  /** Nanoseconds from an arbitrary origin; never decreases. */
  readonly monotonicNow: Effect.Effect<bigint>
}>()("airssys-wasm/Clocks") {}

const nanosPerSecond = 1_000_000_000n

const datetime = (nanos: bigint): Datetime => {
  const clamped = nanos < 0n ? 0n : nanos
  return { seconds: clamped / nanosPerSecond, nanoseconds: Number(clamped % nanosPerSecond) }
}

/**
 * Clocks read from the `Clock` of the calling fiber (for a guest: the fiber that instantiated it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (): Clocks["Service"] => {
  let last = 0n
  return Clocks.of({
    wallNow: Effect.clockWith((clock) => Effect.succeed(datetime(clock.currentTimeNanosUnsafe()))),
    monotonicNow: Effect.clockWith((clock) => {
      const now = clock.monotonicTimeNanosUnsafe()
      if (now > last) last = now
      return Effect.succeed(last)
    })
  })
}

// -----------------------------------------------------------------------------
// host interfaces
// -----------------------------------------------------------------------------

const resolution = { run: () => Effect.succeed(resolutionNanos) }

/**
 * How the Linker links `wasi:clocks/wall-clock` (ungated).
 *
 * @since 0.1.0
 * @category models
 */
export const wallClockHostInterface: Linker.HostInterface<Clocks> = Linker.hostInterface({
  name: wallClockInterface,
  make: Effect.map(Clocks, (clocks) => () => ({
    now: { run: () => clocks.wallNow },
    resolution: { run: () => Effect.succeed(datetime(resolutionNanos)) }
  }))
})

/**
 * How the Linker links `wasi:clocks/monotonic-clock` (ungated; no `subscribe-*`).
 *
 * @since 0.1.0
 * @category models
 */
export const monotonicClockHostInterface: Linker.HostInterface<Clocks> = Linker.hostInterface({
  name: monotonicClockInterface,
  make: Effect.map(Clocks, (clocks) => () => ({
    now: { run: () => clocks.monotonicNow },
    resolution
  }))
})

/**
 * Both clocks, for `Linker.layer([...Clocks.hostInterfaces, ...])`.
 *
 * @since 0.1.0
 * @category models
 */
export const hostInterfaces = [wallClockHostInterface, monotonicClockHostInterface] as const

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * Guests read Effect's `Clock` (a `TestClock` in tests).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Clocks> = Layer.sync(Clocks, make)

/**
 * A clock stopped at the epoch: guests learn nothing about time.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDeny: Layer.Layer<Clocks> = Layer.succeed(
  Clocks,
  Clocks.of({ wallNow: Effect.succeed(datetime(0n)), monotonicNow: Effect.succeed(0n) })
)
