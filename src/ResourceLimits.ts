/**
 * Resource limits of a component: how much linear memory it may use, how much work one call may do
 * (fuel), how long one call may take, and whether it runs in the host's thread or in a worker.
 *
 * The defaults protect the host from an untrusted component:
 *
 * | limit | default | enforced by |
 * |---|---|---|
 * | `memoryBytes` | 64 MiB | the core module's memory maximum, rewritten before compiling: `memory.grow` past it fails |
 * | `fuel` | 1,000,000,000 units per call | metering compiled into the core module: the guest traps when it runs out |
 * | `timeout` | 5 seconds per call | the host, when the call yields (host imports) or runs in a worker |
 * | `isolation` | `"in-process"` | — |
 *
 * One unit of fuel is one function entry, one function exit or one loop iteration, so a call's fuel
 * does not depend on the machine. On the machine the library was measured on, a tight wasm loop burns
 * 1–2 billion units a second, so the default fuel stops a runaway loop in about a second. Small calls
 * cost little: the WAT echo guest uses 5 units per call, a componentize-js (SpiderMonkey) echo ~2,700.
 *
 * In-process, a guest that never returns blocks the event loop, so nothing but fuel can stop it: the
 * timeout only applies while a call is waiting on the host. With `isolation: "worker"` the actor runs
 * in a `worker_threads` Worker and a call past its timeout terminates it (hard preemption, at the price
 * of a message round trip per call).
 *
 * Configuration may give sizes and durations as text: `{ memoryBytes: "16 MiB", timeout: "500 millis" }`
 * decodes with `decode`. `"unlimited"` lifts a memory or fuel limit; `unlimited` lifts all of them, for
 * trusted components.
 *
 * @since 0.1.0
 */
import { ByteSize, Duration, Effect, Schema, SchemaTransformation } from "effect"

/**
 * Where a component's actor runs.
 *
 * - `in-process`: on the host's thread. Cheapest calls; a runaway guest is only stopped by fuel.
 * - `worker`: in a `worker_threads` Worker, terminated when a call exceeds its timeout.
 *
 * @since 0.1.0
 * @category models
 */
export const Isolation = Schema.Literals(["in-process", "worker"])

/**
 * @since 0.1.0
 * @category models
 */
export type Isolation = typeof Isolation.Type

const NonNegative = Schema.Number.check(Schema.isGreaterThanOrEqualTo(0))

const FiniteBytes = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))

const WholeUnits = Schema.Number.check(Schema.makeFilter((n: number) => Number.isSafeInteger(n) && n >= 0, {
  expected: "a non-negative safe integer"
}))

const Infinite = Schema.Number.check(Schema.makeFilter((n: number) => n === Number.POSITIVE_INFINITY, {
  expected: "Infinity"
}))

// `"unlimited"` in configuration; `Infinity` in code. Listed after the finite member of each union, so
// that encoding writes finite limits as numbers and `Infinity` as `"unlimited"` (JSON has no Infinity).
const Unlimited = Schema.Literal("unlimited").pipe(
  Schema.decodeTo(
    NonNegative,
    SchemaTransformation.transform({ decode: () => Number.POSITIVE_INFINITY, encode: () => "unlimited" as const })
  )
)

/**
 * A byte count: a number, `Infinity` for no limit, or as text: `"64 MiB"`, `"512KiB"`, `"1.5 GB"`,
 * `"unlimited"`. Binary (KiB, MiB, GiB) and decimal (kB, MB, GB) units, case-sensitive, as effect's
 * `ByteSize` parses them.
 *
 * @since 0.1.0
 * @category models
 */
export const Bytes = Schema.Union([
  FiniteBytes,
  Unlimited,
  Infinite,
  Schema.ByteSizeFromString.pipe(
    Schema.decodeTo(
      FiniteBytes,
      SchemaTransformation.transform({ decode: (size) => Number(size), encode: (bytes) => ByteSize.bytes(bytes) })
    )
  )
])

/**
 * Fuel units per call: a whole number, or `Infinity` (`"unlimited"`) to leave the component unmetered.
 *
 * @since 0.1.0
 * @category models
 */
export const Fuel = Schema.Union([WholeUnits, Unlimited, Infinite])

/**
 * A per-call time limit: a `Duration`, milliseconds, or text such as `"5 seconds"`, `"500 millis"`,
 * `"Infinity"`.
 *
 * @since 0.1.0
 * @category models
 */
export const Timeout = Schema.Union([Schema.DurationFromMillis, Schema.Duration, Schema.DurationFromString])

/**
 * The limits of one component. Every field is optional: a missing one takes its default (see the
 * module's documentation and `defaults`).
 *
 * @since 0.1.0
 * @category models
 */
export const ResourceLimits = Schema.Struct({
  /** Linear memory cap, bytes, for each memory the component defines. Rounded down to 64 KiB pages. */
  memoryBytes: Schema.optional(Bytes),
  /** Fuel per call. */
  fuel: Schema.optional(Fuel),
  /** Wall-clock time per call. */
  timeout: Schema.optional(Timeout),
  isolation: Schema.optional(Isolation)
})

/**
 * @since 0.1.0
 * @category models
 */
export type ResourceLimits = typeof ResourceLimits.Type

/**
 * Limits with every default filled in: what the host enforces.
 *
 * @since 0.1.0
 * @category models
 */
export interface Resolved {
  /** Bytes, or `Infinity` for no cap. */
  readonly memoryBytes: number
  /** Units per call, or `Infinity` for no metering. */
  readonly fuel: number
  /** `Duration.infinity` for no timeout. */
  readonly timeout: Duration.Duration
  readonly isolation: Isolation
}

/**
 * The defaults: safe for an untrusted component.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaults: Resolved = {
  memoryBytes: 64 * 1024 * 1024,
  fuel: 1_000_000_000,
  timeout: Duration.seconds(5),
  isolation: "in-process"
}

/**
 * No memory cap, no fuel metering, no timeout: for components you trust as much as your own code.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unlimited: Resolved = {
  memoryBytes: Number.POSITIVE_INFINITY,
  fuel: Number.POSITIVE_INFINITY,
  timeout: Duration.infinity,
  isolation: "in-process"
}

/**
 * Fills in the defaults.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolve = (limits?: ResourceLimits | undefined): Resolved => ({
  memoryBytes: limits?.memoryBytes ?? defaults.memoryBytes,
  fuel: limits?.fuel ?? defaults.fuel,
  timeout: limits?.timeout ?? defaults.timeout,
  isolation: limits?.isolation ?? defaults.isolation
})

/**
 * Decodes limits from configuration (JSON, environment, a file), where sizes and durations may be text.
 *
 * @since 0.1.0
 * @category constructors
 */
export const decode: (input: unknown) => Effect.Effect<ResourceLimits, Schema.SchemaError> = Schema.decodeUnknownEffect(
  ResourceLimits
)

/**
 * Which limit was exceeded.
 *
 * @since 0.1.0
 * @category models
 */
export const Limit = Schema.Literals(["memory", "fuel", "timeout"])

/**
 * @since 0.1.0
 * @category models
 */
export type Limit = typeof Limit.Type

const units: Record<Limit, string> = { memory: "bytes", fuel: "units", timeout: "ms" }

/**
 * A component went past one of its limits.
 *
 * - `memory`: its initial memory is already above the cap (at load; `requested` is that size), or a
 *   call failed because the memory could not grow further.
 * - `fuel`: a call used up its fuel; the instance trapped and is poisoned, like any trap.
 * - `timeout`: a call did not return in time.
 *
 * @since 0.1.0
 * @category errors
 */
export class LimitExceeded extends Schema.TaggedError<LimitExceeded>()("LimitExceeded", {
  limit: Limit,
  componentHash: Schema.String,
  /** The export being called; absent when the limit was hit loading or instantiating. */
  function: Schema.optional(Schema.String),
  /** The limit in force: bytes (`memory`), units (`fuel`), milliseconds (`timeout`). */
  allowed: Schema.Number,
  /** What the component needed or used, in the same unit, when known. */
  requested: Schema.optional(Schema.Number)
}) {
  override get message(): string {
    const unit = units[this.limit]
    const where = this.function === undefined ? "" : ` calling ${this.function}`
    const needed = this.requested === undefined ? "" : `: needed ${this.requested} ${unit}`
    return `${this.limit} limit of ${this.allowed} ${unit} exceeded${where}${needed}`
  }
}
