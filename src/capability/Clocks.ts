/**
 * The WASI 0.2 clocks, `wasi:clocks/wall-clock` and `wasi:clocks/monotonic-clock`, from Effect's
 * `Clock`: a guest reads the clock of the fiber that instantiated it, so `TestClock` drives guests
 * exactly as it drives host code.
 *
 * Every function of both interfaces is implemented. `monotonic-clock.subscribe-instant` and
 * `subscribe-duration` return `wasi:io/poll` pollables with a deadline in monotonic nanoseconds:
 * `pollable.ready` is `now >= deadline`; `pollable.block` and `poll` suspend the guest (JSPI) by
 * sleeping on Effect's `Clock`, so `TestClock.adjust` wakes a guest in tests and no host thread
 * waits. The pollable is the one `wasi:io/poll` class streams use too, so a component that imports
 * the monotonic clock also imports `wasi:io/poll`: `hostInterfaces` includes it (linking the clock
 * without it is a `LinkError` naming `wasi:io/poll`). A blocked guest is still bound by its
 * `ResourceLimits` timeout: the call fails with `LimitExceeded("timeout")` at the deadline of the
 * call, however long the guest asked to sleep.
 *
 * The clocks are ungated (the capability model has no clock grant): a host that does not want a
 * component to read time links `layerDeny`, a clock stopped at zero (a trap would break every
 * componentize-js guest, which reads the monotonic clock on its first call), whose pollables are
 * ready at once. The monotonic clock never goes backwards, even when a `TestClock` is set back.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer } from "effect"
import * as WasiIo from "../internal/host/wasiIo.ts"
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

/**
 * The longest single sleep of a blocked guest, in milliseconds (Node's timer limit, ~24.8 days). A
 * deadline further away (a `u64` duration reaches 584 years) is slept towards in steps of this, so
 * no duration overflows Effect's `Duration` or a timer.
 *
 * @since 0.1.0
 * @category models
 */
export const maxSleepMillis = 2 ** 31 - 1

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
  /** Whether a subscription's deadline (monotonic nanoseconds) has passed: `pollable.ready`. */
  readonly reached: (deadline: bigint) => Effect.Effect<boolean>
  /** Completes once `reached(deadline)`: what a blocked guest waits for. */
  readonly sleepUntil: (deadline: bigint) => Effect.Effect<void>
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
  const monotonicNow = Effect.clockWith((clock) => {
    const now = clock.monotonicTimeNanosUnsafe()
    if (now > last) last = now
    return Effect.succeed(last)
  })
  const reached = (deadline: bigint) => Effect.map(monotonicNow, (now) => now >= deadline)
  // Whole milliseconds, rounded up (a timer's unit), at most `maxSleepMillis` at once; then look again.
  const sleepUntil = (deadline: bigint): Effect.Effect<void> =>
    Effect.flatMap(monotonicNow, (now) => {
      if (now >= deadline) return Effect.void
      const millis = (deadline - now + 999_999n) / 1_000_000n
      const step = millis > BigInt(maxSleepMillis) ? maxSleepMillis : Number(millis)
      return Effect.flatMap(Effect.sleep(Duration.millis(step)), () => sleepUntil(deadline))
    })
  return Clocks.of({
    wallNow: Effect.clockWith((clock) => Effect.succeed(datetime(clock.currentTimeNanosUnsafe()))),
    monotonicNow,
    reached,
    sleepUntil
  })
}

// -----------------------------------------------------------------------------
// host interfaces
// -----------------------------------------------------------------------------

const resolution = { run: () => Effect.succeed(resolutionNanos) }

const maxU64 = 2n ** 64n - 1n

// jco lifts a u64 as a bigint; anything else (a hand-written caller) counts as 0.
const u64 = (value: unknown): bigint =>
  typeof value === "bigint" ? (value < 0n ? 0n : value > maxU64 ? maxU64 : value) : 0n

const subscribe = (clocks: Clocks["Service"], deadline: bigint): Effect.Effect<object> =>
  WasiIo.makePollable({ ready: clocks.reached(deadline), wait: clocks.sleepUntil(deadline) })

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
 * How the Linker links `wasi:clocks/monotonic-clock` (ungated). Its pollables need `wasi:io/poll`
 * linked too (`pollHostInterface`).
 *
 * @since 0.1.0
 * @category models
 */
export const monotonicClockHostInterface: Linker.HostInterface<Clocks> = Linker.hostInterface({
  name: monotonicClockInterface,
  make: Effect.map(Clocks, (clocks) => () => ({
    now: { run: () => clocks.monotonicNow },
    resolution,
    // A bigint sum: an instant past 2^64 (now + a huge duration) is a deadline that is never reached.
    subscribeDuration: {
      run: (when: bigint) => Effect.flatMap(clocks.monotonicNow, (now) => subscribe(clocks, now + u64(when)))
    },
    subscribeInstant: { run: (when: bigint) => subscribe(clocks, u64(when)) }
  }))
})

/**
 * `wasi:io/poll`: the `pollable` resource the monotonic clock's subscriptions are, and `poll`. The
 * same interface `Stdio.hostInterfaces` links (one is enough; both is harmless).
 *
 * @since 0.1.0
 * @category models
 */
export const pollHostInterface: Linker.HostInterface = WasiIo.pollInterface

/**
 * Both clocks and `wasi:io/poll`, for `Linker.layer([...Clocks.hostInterfaces, ...])`.
 *
 * @since 0.1.0
 * @category models
 */
export const hostInterfaces = [wallClockHostInterface, monotonicClockHostInterface, pollHostInterface] as const

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
 * A clock stopped at the epoch: guests learn nothing about time. Its subscriptions are ready at
 * once: on a clock that never moves a deadline would never come, and a guest blocked on it would
 * only hold its actor until the call's timeout (a hang, where the point was to hide the time).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDeny: Layer.Layer<Clocks> = Layer.succeed(
  Clocks,
  Clocks.of({
    wallNow: Effect.succeed(datetime(0n)),
    monotonicNow: Effect.succeed(0n),
    reached: () => Effect.succeed(true),
    sleepUntil: () => Effect.void
  })
)
