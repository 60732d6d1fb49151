/**
 * Resource limits of a component: how much linear memory it may use, how much work one call may do
 * (fuel), how long one call may take, and whether it runs in the host's thread or in a worker.
 *
 * The defaults protect the host from an untrusted component; each is chosen so that an ordinary plugin
 * never notices it and a runaway one is stopped within seconds:
 *
 * | limit | default | enforced by | why this default |
 * |---|---|---|---|
 * | `memoryBytes` | 64 MiB | the core module's memory maximum, rewritten before compiling: `memory.grow` past it fails | enough for a 12 MB componentize-js (SpiderMonkey) guest and its heap; a leaking guest is refused long before it hurts the host |
 * | `fuel` | 1,000,000,000 units per call | metering compiled into the core module: the guest traps when it runs out | about a second of a tight loop in optimized code on the measured machine (a few seconds before V8 tiers the code up), thousands of times what a message handler needs (a WAT echo uses 3 units per call, a componentize-js echo ~2,000) |
 * | `instantiateFuel` | 1,000,000,000 units per instantiation | the same metering, for the code that runs while a component is instantiated | a call's worth: hundreds of times what a language runtime's initialisation needs (measured: a clang + wasi-libc guest with the preview1 adapter 1–10 M units, a componentize-qjs guest under 100,000), and a start function that loops forever is stopped within about a second |
 * | `timeout` | 5 seconds per call | fuel slices and a race on suspended calls (in-process), terminating the worker (`worker`) | the actors' default request timeout: a caller gives up then anyway |
 * | `isolation` | `"in-process"` | — | calls cost microseconds instead of a ~90 µs thread round trip; fuel already stops runaway loops |
 *
 * **Fuel.** One unit is one function entry or one loop iteration (in the rare module the one-pass rewrite
 * declines — GC instructions — binaryen meters it instead, and functions it cannot analyse also pay one
 * unit per exit). The count
 * does not depend on the machine or on timing: a call that fits its fuel once fits it every time. Out of
 * fuel, the guest traps; the call fails with `LimitExceeded` (`fuel`) and the instance is poisoned. The
 * counter lives in a local of each guest function (a register), so metering costs up to ~10% on the
 * tightest loops (an add, or a load and an add, per iteration) and is within noise on byte-parsing and
 * call-heavy loops (`bench/fuel.ts`). Metering rewrites the guest's core modules once per component bytes,
 * in one pass over their code (cached by hash, in memory and in the `cacheDirectory`): well under a
 * millisecond for a WAT guest, milliseconds to tens of milliseconds for C and QuickJS guests, about a
 * second for a 12 MB componentize-js guest (`bench load`).
 *
 * **Instantiation.** Code that runs while a component is instantiated — core `start` functions, the WASI
 * adapter's and a language runtime's `_initialize`, a JavaScript engine's initialisation — is metered too,
 * from its own budget, `instantiateFuel`, shared by the component's core modules, and under the same
 * `timeout` (in slices, as for a call; a worker is terminated when it is not ready in time). Running out
 * fails `Component.instantiate` with `LimitExceeded` (`fuel` or `timeout`, `phase: "instantiate"`), never a
 * bare trap. With `fuel: Infinity` the component is not metered at all, and neither is its instantiation:
 * in-process, a start function that never returns then blocks the host's thread for good (use
 * `isolation: "worker"`, whose timeout holds).
 *
 * **Timeout.** In-process, a call with both fuel and a timeout gets its fuel in slices of
 * `1,000,000` units; between slices the guest calls back into the host, which reads the `Clock` and
 * stops the guest once the call's deadline has passed (`LimitExceeded` with `timeout`, instance
 * poisoned). A tight loop runs a slice in about a millisecond, so a timeout is noticed within
 * milliseconds; a guest that finishes in its first slice never reads the clock after the call starts.
 * A call suspended on the host (JSPI, e.g. `messaging.request`) made through an `Instance`'s Effect API
 * (`process`, `handleMessage`, `call`) is raced against the deadline. With
 * `fuel: Infinity` (or `unlimited`) nothing runs inside a synchronous guest call that could stop it:
 * a guest that never returns blocks the event loop for good. That is what `isolation: "worker"` is for:
 * the actor runs in a `worker_threads` Worker, and a call past its timeout terminates it (hard preemption,
 * with or without fuel, at the price of a message round trip per call).
 *
 * Configuration may give sizes and durations as text: `{ memoryBytes: "16 MiB", timeout: "500 millis" }`
 * decodes with `decode`. `"unlimited"` lifts a memory or fuel limit; `unlimited` lifts all of them, for
 * trusted components.
 *
 * @since 0.1.0
 */
import { ByteSize, Config, Context, Duration, Effect, Layer, Schema, SchemaTransformation } from "effect"

/**
 * Where a component's actor runs.
 *
 * - `in-process`: on the host's thread. Cheapest calls; a runaway guest is stopped by fuel, or by its
 *   timeout checked between slices of fuel — never without fuel.
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
  /** Fuel per call: function entries and loop iterations. */
  fuel: Schema.optional(Fuel),
  /** Fuel for the code that runs while the component is instantiated (start functions, `_initialize`). */
  instantiateFuel: Schema.optional(Fuel),
  /** Wall-clock time per call. In-process it needs fuel to stop a synchronous guest (see above). */
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
  /**
   * Units for instantiation (start functions, `_initialize`), shared by the component's core modules;
   * `Infinity` for no limit. Only enforced when `fuel` is finite (otherwise nothing is metered).
   */
  readonly instantiateFuel: number
  /** `Duration.infinity` for no timeout. */
  readonly timeout: Duration.Duration
  readonly isolation: Isolation
}

/**
 * The defaults: safe for an untrusted component. 64 MiB of linear memory, 1e9 fuel units and 5 seconds
 * per call, 1e9 fuel units to instantiate, in the host's thread (see the module documentation for why each).
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaults: Resolved = {
  memoryBytes: 64 * 1024 * 1024,
  fuel: 1_000_000_000,
  instantiateFuel: 1_000_000_000,
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
  instantiateFuel: Number.POSITIVE_INFINITY,
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
  instantiateFuel: limits?.instantiateFuel ?? defaults.instantiateFuel,
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

// -----------------------------------------------------------------------------
// configured defaults
// -----------------------------------------------------------------------------

/**
 * The limits a component gets for what its `LoadOptions.limits` leaves out: `defaults` unless a layer
 * (`layerConfig`, or `Layer.succeed(Defaults, ...)`) provides others. Read when a component is loaded.
 *
 * @since 0.1.0
 * @category services
 */
export const Defaults: Context.Reference<Resolved> = Context.Reference<Resolved>("airssys-wasm/ResourceLimits/Defaults", {
  defaultValue: () => defaults
})

/**
 * The default limits read from configuration, each name optional (missing: the built-in default):
 *
 * - `LIMITS_MEMORY_BYTES`: a byte count, `"64 MiB"` or `"unlimited"` (`Bytes`);
 * - `LIMITS_FUEL`, `LIMITS_INSTANTIATE_FUEL`: fuel units, a whole number or `"unlimited"` (`Fuel`);
 * - `LIMITS_TIMEOUT`: a duration such as `"5 seconds"` or `"Infinity"`;
 * - `LIMITS_ISOLATION`: `in-process` or `worker`.
 *
 * With `ConfigProvider.fromUnknown` the names are paths: `{ LIMITS: { FUEL: 1000000 } }`.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Resolved> = Config.all({
  memoryBytes: Config.schema(Bytes, "MEMORY_BYTES").pipe(Config.withDefault(defaults.memoryBytes)),
  fuel: Config.schema(Fuel, "FUEL").pipe(Config.withDefault(defaults.fuel)),
  instantiateFuel: Config.schema(Fuel, "INSTANTIATE_FUEL").pipe(Config.withDefault(defaults.instantiateFuel)),
  timeout: Config.Duration("TIMEOUT").pipe(Config.withDefault(defaults.timeout)),
  isolation: Config.Literals(Isolation.literals, "ISOLATION").pipe(Config.withDefault(defaults.isolation))
}).pipe(Config.nested("LIMITS"))

/**
 * Provides `Defaults` read from configuration: `config` (the `LIMITS_*` names) unless another `Config` is
 * given. A value that is present but invalid fails the layer with a `ConfigError`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (options: Config.Config<Resolved> = config): Layer.Layer<never, Config.ConfigError> =>
  Layer.effect(Defaults, Config.unwrap(options))

export { Limit, LimitExceeded } from "./internal/componentError.ts"
