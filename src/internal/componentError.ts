/**
 * The errors of loading, linking and calling a component, and the limits a call can exceed: a leaf that
 * both the public modules (`ComponentError`, `ResourceLimits`) and the machinery under `internal/`
 * import, so that neither depends on the other for them. Documented where they are re-exported.
 *
 * @internal
 */
import { Schema } from "effect"

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
 * - `fuel`: a call used up its fuel; the instance trapped and is poisoned, like any trap. With
 *   `phase: "instantiate"`: the component's start code used up `instantiateFuel`; no instance was made.
 * - `timeout`: a call did not return in time: stopped between two slices of fuel or while suspended on
 *   the host (in-process), or its worker terminated (`worker`). The instance is poisoned. With
 *   `phase: "instantiate"`: instantiating took longer than the timeout; no instance was made.
 *
 * @since 0.1.0
 * @category errors
 */
export class LimitExceeded extends Schema.TaggedError<LimitExceeded>()("LimitExceeded", {
  limit: Limit,
  componentHash: Schema.String,
  /** The export being called; absent when the limit was hit loading or instantiating. */
  function: Schema.optional(Schema.String),
  /**
   * When the limit was hit: `instantiate` for the code that runs while the component is instantiated
   * (start functions, `_initialize`); absent for a call (see `function`) or a load.
   */
  phase: Schema.optional(Schema.Literal("instantiate")),
  /** The limit in force: bytes (`memory`), units (`fuel`), milliseconds (`timeout`). */
  allowed: Schema.Number,
  /** What the component needed or used, in the same unit, when known. */
  requested: Schema.optional(Schema.Number)
}) {
  override get message(): string {
    const unit = units[this.limit]
    const where = this.function !== undefined
      ? ` calling ${this.function}`
      : this.phase === "instantiate"
      ? " while instantiating (start functions, _initialize)"
      : ""
    const needed = this.requested === undefined ? "" : `: needed ${this.requested} ${unit}`
    return `${this.limit} limit of ${this.allowed} ${unit} exceeded${where}${needed}`
  }
}

/**
 * Why bytes could not become a `Component`.
 *
 * - `Empty`: zero bytes.
 * - `NotWasm`: no WebAssembly magic number.
 * - `CoreModule`: a core module, not a component (wrap it with `jco new` or `wasm-tools component new`).
 * - `Malformed`: a component binary that does not parse or validate (truncated, corrupted).
 * - `UnexpectedWorld`: a valid component that exports none of the entry points the host expects.
 * - `Unreadable`: the file or cache entry could not be read.
 * - `ExceedsLimits`: the guest needs more than its limits allow before it runs (initial memory over the cap).
 * - `Exhausted`: the process has no WebAssembly memory left to load with (V8 allows ~16k live wasm
 *   memories per process): stop actors or unload components, or spread them over processes.
 *
 * @since 0.1.0
 * @category models
 */
export const LoadFailure = Schema.Literals(["Empty", "NotWasm", "CoreModule", "Malformed", "UnexpectedWorld", "Unreadable", "ExceedsLimits", "Exhausted"])

/**
 * @since 0.1.0
 * @category models
 */
export type LoadFailure = typeof LoadFailure.Type

/**
 * Bytes that could not be loaded as a component.
 *
 * @since 0.1.0
 * @category errors
 */
export class ComponentLoadError extends Schema.TaggedError<ComponentLoadError>()("ComponentLoadError", {
  reason: LoadFailure,
  message: Schema.String
}) {}

/**
 * The component imports an interface (or a function of one) that nothing provides.
 *
 * @since 0.1.0
 * @category errors
 */
export class LinkError extends Schema.TaggedError<LinkError>()("LinkError", {
  /** The unsatisfied import, e.g. `airssys:component/logging`. */
  interface: Schema.String,
  function: Schema.optional(Schema.String),
  message: Schema.String
}) {}

/**
 * The guest trapped (`unreachable`, out-of-bounds access, stack overflow, a result it lied about, or a
 * host function that failed unrecoverably). The instance is poisoned from then on.
 *
 * @since 0.1.0
 * @category errors
 */
export class Trap extends Schema.TaggedError<Trap>()("Trap", {
  componentHash: Schema.String,
  function: Schema.String,
  message: Schema.String
}) {}

/**
 * V8 has no WebAssembly memory left in this process to give the guest: it allows about 16,000 live wasm
 * memories per process (each reserves its address space up front), and a new instance needs one. Not the
 * guest's fault: instantiating failed (`function` is `instantiate`), or a call trapped after its
 * `memory.grow` was refused below its cap. What to do: keep fewer instances alive (stop idle actors,
 * close instances, shrink warm pools with `Component.prewarm(component, 0)`) or spread components over
 * more processes (workers do not help: they share the process's address space). Instantiating works
 * again once memories are freed.
 *
 * @since 0.1.0
 * @category errors
 */
export class WasmMemoryExhausted extends Schema.TaggedError<WasmMemoryExhausted>()("WasmMemoryExhausted", {
  componentHash: Schema.String,
  /** `instantiate`, or the export being called. */
  function: Schema.String,
  /** What V8 said. */
  cause: Schema.String
}) {
  override get message(): string {
    return `no WebAssembly memory left in this process (${this.function}: ${this.cause}): keep fewer instances alive or spread components over more processes`
  }
}

/**
 * The guest returned `err(payload)`. The instance stays usable.
 *
 * @since 0.1.0
 * @category errors
 */
export class GuestError extends Schema.TaggedError<GuestError>()("GuestError", {
  function: Schema.String,
  payload: Schema.Unknown
}) {
  override get message(): string {
    return typeof this.payload === "string" ? this.payload : `guest returned an error from ${this.function}`
  }
}

/**
 * A call into an instance that trapped earlier or was closed. Restart means a new instance.
 *
 * @since 0.1.0
 * @category errors
 */
export class InstancePoisoned extends Schema.TaggedError<InstancePoisoned>()("InstancePoisoned", {
  componentHash: Schema.String,
  function: Schema.String,
  /** What poisoned it: the trap message, or that the instance was closed. */
  cause: Schema.String
}) {
  override get message(): string {
    return `cannot call ${this.function}: instance is poisoned (${this.cause})`
  }
}

/**
 * The guest called `wasi:cli/exit` (`exit(result)`, `exit-with-code(code)`, or a toolchain's
 * `exit()` / `proc_exit` through the preview1 adapter): the call ends here, with the code it asked
 * for (`exit(ok)` is 0, `exit(err)` is 1). The guest's stack is gone, so the instance is poisoned, as
 * after a trap; a command's `wasi:cli/run` ending with code 0 is a success (see `Instance.call`).
 *
 * @since 0.1.0
 * @category errors
 */
export class GuestExit extends Schema.TaggedError<GuestExit>()("GuestExit", {
  componentHash: Schema.String,
  function: Schema.String,
  /** The exit status, 0..255. */
  code: Schema.Int
}) {
  override get message(): string {
    return `guest exited with code ${this.code} in ${this.function}`
  }
}

/**
 * A host function refused a guest's request. Delivered to the guest as the import's `err` value when the
 * import returns a `result`; an import without one traps the guest instead.
 *
 * @since 0.1.0
 * @category errors
 */
export class HostRefusal extends Schema.TaggedError<HostRefusal>()("HostRefusal", {
  payload: Schema.Unknown
}) {}

/**
 * What a call into an instance can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type CallError = Trap | GuestError | GuestExit | InstancePoisoned | LimitExceeded | WasmMemoryExhausted
