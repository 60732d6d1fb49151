/**
 * The models and errors of supervision: a leaf that both the public `Supervisor` (which re-exports them)
 * and the engine under `internal/run/` import, so that neither depends on the other for them.
 *
 * @internal
 */
import type { Duration, Effect, Schedule, Scope } from "effect"
import { Schema } from "effect"

/**
 * When a child is restarted.
 *
 * - `Permanent`: always.
 * - `Transient`: only after an abnormal exit (a failure or a defect).
 * - `Temporary`: never.
 *
 * @since 0.1.0
 * @category models
 */
export type RestartType = "Permanent" | "Transient" | "Temporary"

/**
 * Which children restart when one crashes.
 *
 * - `OneForOne`: only the crashed child.
 * - `OneForAll`: every child stops (reverse start order) and every child starts again (start order).
 * - `RestForOne`: the crashed child and every child started after it stop (reverse order) and start
 *   again (in order).
 *
 * @since 0.1.0
 * @category models
 */
export type Strategy = "OneForOne" | "OneForAll" | "RestForOne"

/**
 * How one child is started, restarted and stopped.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildSpec<E = unknown, R = never> {
  /** Unique among the supervisor's children; names the child in snapshots, logs and metrics. */
  readonly id: string
  /**
   * Runs the child until it exits. Success = normal exit; failure or defect = abnormal exit (a crash).
   * Its `Scope` closes when the child stops or restarts.
   */
  readonly start: Effect.Effect<unknown, E, R | Scope.Scope>
  /** Default `"Permanent"`. */
  readonly restart?: RestartType | undefined
  /**
   * How long a graceful stop (interrupt, wait for finalizers and the child's `Scope`) may take before
   * the supervisor kills the child: it closes the child's `Scope` at once and stops waiting (the child's
   * last exit reads `ShutdownTimedOut`). Default 5 seconds; infinite for a child that is itself a supervisor.
   */
  readonly shutdownTimeout?: Duration.Input | undefined
  /**
   * When `true`, the next sibling starts only after this child has called `Supervisor.ready` (or exited);
   * ending abnormally before that is a failure to start. Otherwise a child counts as running once its
   * fiber has started and reached its first asynchronous step. A child whose `start` is a supervisor
   * (`run` / `start`) waits for that supervisor's own children without this flag.
   */
  readonly awaitReady?: boolean | undefined
  /** Extra plain data for snapshots (an actor reports its mailbox depth, messages handled, status). */
  readonly inspect?: Effect.Effect<ChildDetails> | undefined
}

/**
 * Plain data a child adds to its snapshot.
 *
 * @since 0.1.0
 * @category models
 */
export type ChildDetails = Readonly<Record<string, string | number | boolean>>

/**
 * At most `maxRestarts` restarts within any window of `period`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Intensity {
  readonly maxRestarts: number
  readonly period: Duration.Input
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SupervisorOptions<E = unknown, R = never> {
  /** Names the supervisor in snapshots, logs, metrics and escalations. */
  readonly id: string
  /** Default `"OneForOne"`. */
  readonly strategy?: Strategy | undefined
  /** Default 3 restarts in 5 seconds (`defaultIntensity`). */
  readonly intensity?: Intensity | undefined
  /**
   * The delay before each restart, stepped per child with the exit that caused it. Default
   * `defaultBackoff`: exponential from 100 ms, factor 2, capped at 30 seconds, no jitter.
   */
  readonly backoff?: Schedule.Schedule<unknown, ChildExit, never, R> | undefined
  /** Scale every backoff delay by a random factor in [0.8, 1.2] (`Schedule.jittered`). Default `false`. */
  readonly jitter?: boolean | undefined
  /** Started in this order, stopped in the reverse order. */
  readonly children: ReadonlyArray<ChildSpec<E, R>>
}

/**
 * - `starting`: forked, not yet running (waiting for `Supervisor.ready` when `awaitReady`).
 * - `running`
 * - `restarting`: stopped, waiting for its backoff delay before starting again.
 * - `stopped`: not running and not going to be restarted: exited normally (`Transient`), stopped on
 *   purpose (`terminateChild`, an actor's `ref.stop`), or stopped with the supervisor. A `Temporary`
 *   child that ends is deleted from the list instead.
 * - `failed`: the child whose crash made the supervisor escalate, or that failed to start.
 *
 * @since 0.1.0
 * @category models
 */
export type ChildState = "starting" | "running" | "restarting" | "stopped" | "failed"

/**
 * Why a child last stopped.
 *
 * - `Normal`: its effect succeeded.
 * - `Failure` / `Defect`: its effect failed / died (a crash).
 * - `Interrupted`: it was interrupted by something other than its supervisor.
 * - `Shutdown`: its supervisor stopped it, and it finished within its shutdown timeout.
 * - `ShutdownTimedOut`: its supervisor stopped it and gave up waiting after the shutdown timeout: its
 *   `Scope` was closed at once and its fiber left interrupted (code of it in an uninterruptible region
 *   may still have run to its end: Effect cannot preempt it).
 *
 * @since 0.1.0
 * @category models
 */
export type ExitReason = "Normal" | "Failure" | "Defect" | "Interrupted" | "Shutdown" | "ShutdownTimedOut"

/**
 * A child's last exit, as plain data. `at` is `Clock` time in milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildExit {
  readonly reason: ExitReason
  readonly message?: string
  readonly at: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ChildInfo {
  readonly id: string
  readonly restartType: RestartType
  readonly state: ChildState
  /** Restarts after this child's own exit (a crash, or a `Permanent` child's normal exit). */
  readonly ownRestarts: number
  /** Restarts because a sibling's exit restarted the group this child is in (`OneForAll`, `RestForOne`). */
  readonly groupRestarts: number
  readonly lastExit?: ChildExit
}

/**
 * OTP's `count_children`: `specs` listed children, `active` ones with a running incarnation, and how many
 * are supervisors (a child counts as one once it has run as a supervisor) or workers.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildCounts {
  readonly specs: number
  readonly active: number
  readonly supervisors: number
  readonly workers: number
}

/**
 * A child in a snapshot; `supervisor` is present while the child is itself a running supervisor.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChildSnapshot extends ChildInfo {
  readonly supervisor?: SupervisorSnapshot
  readonly details?: ChildDetails
}

/**
 * @since 0.1.0
 * @category models
 */
export type SupervisorStatus = "starting" | "running" | "stopping" | "stopped" | "escalated"

/**
 * A supervisor tree as plain, JSON-able data.
 *
 * @since 0.1.0
 * @category models
 */
export interface SupervisorSnapshot {
  readonly id: string
  /**
   * The node it runs on (`Node.CurrentNode` when it started; a cluster runner's `host:port`). Absent
   * where nodes are not named.
   */
  readonly node?: string
  readonly strategy: Strategy
  readonly status: SupervisorStatus
  readonly intensity: { readonly maxRestarts: number; readonly periodMillis: number }
  /** Present (`true`) for a dynamic supervisor (`startDynamic`). */
  readonly dynamic?: boolean
  /** A dynamic supervisor's `maxChildren`. */
  readonly maxChildren?: number
  /** Why it stopped: the reason given to `stop`, or the start failure. */
  readonly stopReason?: string
  readonly children: ReadonlyArray<ChildSnapshot>
}

/**
 * Why a supervisor gave up.
 *
 * - `Intensity`: more than `maxRestarts` restarts within `period`.
 * - `BackoffExhausted`: the backoff schedule of the crashed child ended.
 *
 * @since 0.1.0
 * @category models
 */
export const EscalationReason = Schema.Literals(["Intensity", "BackoffExhausted"])

/**
 * @since 0.1.0
 * @category models
 */
export type EscalationReason = typeof EscalationReason.Type

/**
 * Why a call on a supervisor failed.
 *
 * - `FailedToStartChild`: the child ended abnormally before it was running (`cause` says how). From
 *   `start` / `run` this means the supervisor did not start: the children before it were stopped in
 *   reverse order, those after it never started.
 * - `AlreadyStarted` / `AlreadyPresent`: `startChild` with the id of a running / stopped child.
 * - `NotFound`: no child has that id.
 * - `Running` / `Restarting`: `restartChild` or `deleteChild` on a child that is running / waiting for
 *   its restart.
 * - `MaxChildren`: a dynamic supervisor already has its `maxChildren`.
 * - `SupervisorNotRunning`: the supervisor has stopped (or is stopping).
 *
 * @since 0.1.0
 * @category errors
 */
export class SupervisorError extends Schema.TaggedError<SupervisorError>()("SupervisorError", {
  supervisor: Schema.String,
  reason: Schema.Literals([
    "FailedToStartChild",
    "AlreadyStarted",
    "AlreadyPresent",
    "NotFound",
    "Running",
    "Restarting",
    "MaxChildren",
    "SupervisorNotRunning"
  ]),
  child: Schema.optional(Schema.String),
  cause: Schema.optional(Schema.String)
}) {
  override get message(): string {
    const child = this.child === undefined ? "" : ` child ${this.child}`
    const cause = this.cause === undefined ? "" : `: ${this.cause}`
    switch (this.reason) {
      case "FailedToStartChild":
        return `supervisor ${this.supervisor}:${child} failed to start${cause}`
      case "SupervisorNotRunning":
        return `supervisor ${this.supervisor} is not running`
      default:
        return `supervisor ${this.supervisor}:${child} ${this.reason}${cause}`
    }
  }
}

/**
 * A supervisor gave up: it stopped all its children in reverse order and fails with this, so its own
 * supervisor (if any) sees a crashed child.
 *
 * @since 0.1.0
 * @category errors
 */
export class SupervisorEscalation extends Schema.TaggedError<SupervisorEscalation>()("SupervisorEscalation", {
  supervisor: Schema.String,
  /** The child whose crash was one too many. */
  child: Schema.String,
  reason: EscalationReason,
  /** Exits that asked for a restart within `periodMillis`, the refused one included (`maxRestarts + 1`). */
  exitsInPeriod: Schema.Number,
  maxRestarts: Schema.Number,
  periodMillis: Schema.Number,
  /** The crash that was one too many, rendered with `Cause.pretty`. */
  cause: Schema.String
}) {
  override get message(): string {
    return this.reason === "Intensity"
      ? `supervisor ${this.supervisor} escalates: ${this.exitsInPeriod} restarts asked for within ${this.periodMillis} ms ` +
        `(at most ${this.maxRestarts}), last crash in child ${this.child}`
      : `supervisor ${this.supervisor} escalates: backoff schedule of child ${this.child} ended`
  }
}
