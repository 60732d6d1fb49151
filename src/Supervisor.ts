/**
 * OTP supervision on Effect.
 *
 * A supervisor starts its children in order, watches them, restarts them when they crash according to
 * a strategy (`OneForOne`, `OneForAll`, `RestForOne`) and each child's restart type (`Permanent`,
 * `Transient`, `Temporary`), waits a backoff delay before each restart, and gives up — stopping every
 * child in reverse order and failing with `SupervisorEscalation` — when children crash more often than
 * its restart intensity allows. `run` is a supervisor as an effect, so a supervisor is an ordinary child
 * of another one and escalation reaches the parent, which applies its own strategy.
 *
 * A child is any effect: success is a normal exit, a failure or a defect is a crash. Time comes only from
 * `Clock` and `Effect.sleep`, so `TestClock` drives every delay.
 *
 * Choices where OTP leaves room, or where Effect differs from Erlang:
 *
 * - Restart intensity defaults to 3 restarts in 5 seconds (OTP: 1 in 5 s, which with a backoff would
 *   never let a second backoff step happen). The window slides over restart timestamps from `Clock`;
 *   a restart is counted when the crash is handled, as in OTP, and `maxRestarts + 1` restarts within one
 *   `period` (inclusive) escalate.
 * - A group restart (`OneForAll`, `RestForOne`) counts once against the intensity, as in OTP, and waits the
 *   crashed child's backoff delay before starting the group again in order.
 * - Backoff is stepped per child: the n-th consecutive restart of a child waits the n-th delay of the
 *   schedule. A child's schedule starts over when the child crashes after having run for at least one
 *   intensity `period`. A finite schedule that ends escalates (`reason: "BackoffExhausted"`).
 * - An interruption that does not come from the supervisor (e.g. the child interrupts itself) is the
 *   analogue of OTP's `shutdown` exit: a `Transient` child is not restarted, a `Permanent` one is.
 * - A `Temporary` child is never restarted, also when it is stopped as part of a sibling's group restart
 *   (OTP deletes it then); it stays in `children` and snapshots as `stopped` (or `failed` after a crash).
 *   A `Transient` child that exited normally is started again by a later group restart that includes it,
 *   as OTP does.
 * - A child that is itself a supervisor gets an infinite shutdown timeout unless its spec sets one (OTP's
 *   default for supervisor children), so its own children always stop in order.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Metric, Schedule, Schema } from "effect"
import type { Scope } from "effect"
import * as internal from "./internal/supervisor.ts"

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
   * the supervisor stops waiting ("forced": the child's last exit reads `Killed`). Default 5 seconds;
   * infinite for a child that is itself a supervisor.
   */
  readonly shutdownTimeout?: Duration.Input | undefined
  /**
   * When `true`, the next sibling starts only after this child has called `Supervisor.ready` (or exited).
   * Otherwise a child counts as running once its fiber has started and reached its first asynchronous
   * step. A child whose `start` is a supervisor (`run` / `start`) waits for that supervisor's own children
   * without this flag.
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
 * @since 0.1.0
 * @category models
 */
export declare namespace SupervisorOptions {
  /**
   * Any options, whatever their children fail with or need.
   *
   * @since 0.1.0
   * @category models
   */
  export type Any = SupervisorOptions<unknown, unknown>

  /**
   * The services a supervisor built from `Options` needs: those of every child (each child's own
   * `Scope` is provided by the supervisor) and those of the backoff schedule.
   *
   * @since 0.1.0
   * @category models
   */
  export type Services<Options extends Any> =
    | Exclude<Effect.Services<Options["children"][number]["start"]>, Scope.Scope>
    | (Options extends { readonly backoff?: infer S } ? Schedule.Env<S> : never)
}

/**
 * - `starting`: forked, not yet running (waiting for `Supervisor.ready` when `awaitReady`).
 * - `running`
 * - `restarting`: stopped, waiting for its backoff delay before starting again.
 * - `stopped`: not running and not going to be restarted: exited normally (`Transient`, `Temporary`),
 *   stopped with a group restart (`Temporary`), or stopped with the supervisor.
 * - `failed`: crashed and not going to be restarted (`Temporary`), or the child whose crash made the
 *   supervisor escalate.
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
 * - `Killed`: its supervisor stopped it and gave up waiting after the shutdown timeout.
 *
 * @since 0.1.0
 * @category models
 */
export type ExitReason = "Normal" | "Failure" | "Defect" | "Interrupted" | "Shutdown" | "Killed"

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
  /** How many times the supervisor started this child again (crash, or a sibling's group restart). */
  readonly restarts: number
  readonly lastExit?: ChildExit
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
  readonly strategy: Strategy
  readonly status: SupervisorStatus
  readonly intensity: { readonly maxRestarts: number; readonly periodMillis: number }
  readonly children: ReadonlyArray<ChildSnapshot>
}

/**
 * A running supervisor.
 *
 * @since 0.1.0
 * @category models
 */
export interface SupervisorRef {
  readonly id: string
  readonly children: Effect.Effect<ReadonlyArray<ChildInfo>>
  /** Completes when the supervisor stops (its scope closed); fails when it escalates. */
  readonly await: Effect.Effect<void, SupervisorEscalation>
  /** This supervisor and, through children that are supervisors, the whole tree below it. */
  readonly snapshot: Effect.Effect<SupervisorSnapshot>
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
  /** Restarts within the window, counting the refused one. */
  restarts: Schema.Number,
  maxRestarts: Schema.Number,
  periodMillis: Schema.Number,
  /** The crash that was one too many, rendered with `Cause.pretty`. */
  cause: Schema.String
}) {
  override get message(): string {
    return this.reason === "Intensity"
      ? `supervisor ${this.supervisor} escalates: ${this.restarts} restarts within ${this.periodMillis} ms ` +
        `(at most ${this.maxRestarts}), last crash in child ${this.child}`
      : `supervisor ${this.supervisor} escalates: backoff schedule of child ${this.child} ended`
  }
}

/**
 * 3 restarts in 5 seconds.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultIntensity: Intensity = { maxRestarts: 3, period: "5 seconds" }

/**
 * Exponential backoff whose delay never exceeds `cap`: `base`, `base * factor`, `base * factor²`, ...
 * Defaults: 100 ms, factor 2, cap 30 seconds.
 *
 * @since 0.1.0
 * @category constructors
 */
export const exponentialBackoff = (options?: {
  readonly base?: Duration.Input | undefined
  readonly factor?: number | undefined
  readonly cap?: Duration.Input | undefined
}): Schedule.Schedule<Duration.Duration> => {
  const cap = Duration.fromInputUnsafe(options?.cap ?? "30 seconds")
  return Schedule.exponential(options?.base ?? "100 millis", options?.factor ?? 2).pipe(
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, cap)))
  )
}

/**
 * Exponential from 100 ms, factor 2, capped at 30 seconds, no jitter.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultBackoff: Schedule.Schedule<Duration.Duration> = exponentialBackoff()

/**
 * `airssys_supervisor_restarts_total{supervisor, child}`: every start of a child after its first, whether
 * it crashed or was restarted with its group.
 *
 * @since 0.1.0
 * @category models
 */
export const restartsTotal: Metric.Counter<number> = internal.restartsTotal

/**
 * Starts the children in order (each child's `start` is forked only after the previous child is running),
 * supervises them in the background, and when the scope closes stops them in reverse order. Children run
 * with the context of the caller. Dies if two children share an id.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = <Options extends SupervisorOptions.Any>(
  options: Options
): Effect.Effect<SupervisorRef, never, Scope.Scope | SupervisorOptions.Services<Options>> =>
  internal.make(options).pipe(
    Effect.withSpan("Supervisor.start", { attributes: { supervisor: options.id } })
  ) as Effect.Effect<SupervisorRef, never, Scope.Scope | SupervisorOptions.Services<Options>>

/**
 * A supervisor as a long-running effect: it never succeeds, fails with `SupervisorEscalation` once its
 * children are stopped after an escalation, and stops its children in reverse order when interrupted.
 * Use it as a child's `start` to nest supervisors.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = <Options extends SupervisorOptions.Any>(
  options: Options
): Effect.Effect<never, SupervisorEscalation, SupervisorOptions.Services<Options>> =>
  Effect.scoped(Effect.flatMap(internal.make(options), (ref) => ref.await)).pipe(
    Effect.andThen(Effect.never)
  ) as Effect.Effect<never, SupervisorEscalation, SupervisorOptions.Services<Options>>

/**
 * Tells the supervising parent that the current child has finished starting, so its next sibling may
 * start (see `ChildSpec.awaitReady`). Does nothing outside a supervised child.
 *
 * @since 0.1.0
 * @category combinators
 */
export const ready: Effect.Effect<void> = internal.ready
