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
 * - A `Temporary` child is never restarted and is deleted from the child list when it ends, also when it
 *   is stopped as part of a sibling's group restart, as in OTP. A `Transient` child that exited normally,
 *   and a child stopped with `terminateChild`, stay listed as `stopped` and are started again by a later
 *   group restart that includes them, as OTP does.
 * - A child that fails to start (it ends abnormally before it is running, or before it calls `ready`
 *   when `awaitReady`) fails `start` with `SupervisorError` (`FailedToStartChild`): later children are not
 *   started, earlier ones stop in reverse order (OTP's `{error, {shutdown, {failed_to_start_child, ...}}}`).
 * - After its shutdown timeout a child is killed: its `Scope` is closed at once (an actor's incarnation
 *   then closes its instance and abandons its hooks) and its fiber stays interrupted. Effect cannot
 *   preempt code in an uninterruptible region as Erlang's `kill` can: such code of a plain effect child
 *   runs to its end, but nothing the child acquired in its `Scope` survives the kill.
 * - A child that is itself a supervisor gets an infinite shutdown timeout unless its spec sets one (OTP's
 *   default for supervisor children), so its own children always stop in order.
 * - A child can stop itself on purpose through its supervisor's handle (an actor's `ref.stop` does): that
 *   exit is not restarted, as if the supervisor had been asked to `terminateChild` it.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Metric, Schedule, Schema } from "effect"
import type { Scope } from "effect"
import * as internal from "./internal/run/supervisor.ts"

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
   * last exit reads `Killed`). Default 5 seconds; infinite for a child that is itself a supervisor.
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
 * A running supervisor.
 *
 * @since 0.1.0
 * @category models
 */
export interface SupervisorRef {
  readonly id: string
  /** OTP's `which_children`: every listed child, in start order. */
  readonly children: Effect.Effect<ReadonlyArray<ChildInfo>>
  /** OTP's `count_children`. */
  readonly countChildren: Effect.Effect<ChildCounts>
  /** Completes when the supervisor stops (its scope closed, or `stop`); fails when it escalates. */
  readonly await: Effect.Effect<void, SupervisorEscalation>
  /** This supervisor and, through children that are supervisors, the whole tree below it. */
  readonly snapshot: Effect.Effect<SupervisorSnapshot>
  /**
   * OTP's `start_child`: adds a child after the others and starts it; succeeds once it is running.
   * Fails with `AlreadyStarted` / `AlreadyPresent` when its id is taken, `FailedToStartChild` (the child
   * is then not kept), `SupervisorNotRunning`. Its services must be provided in its `start`.
   */
  readonly startChild: <E>(spec: ChildSpec<E>) => Effect.Effect<ChildInfo, SupervisorError>
  /**
   * OTP's `terminate_child`: stops the child (within its shutdown timeout) and does not restart it; it
   * stays listed as `stopped` (a `Temporary` child is deleted). An actor child takes no more messages.
   */
  readonly terminateChild: (id: string) => Effect.Effect<void, SupervisorError>
  /** OTP's `restart_child`: starts a stopped child again. Fails with `Running` / `Restarting` / `NotFound`. */
  readonly restartChild: (id: string) => Effect.Effect<ChildInfo, SupervisorError>
  /** OTP's `delete_child`: removes a stopped child from the list. Fails with `Running` / `Restarting` / `NotFound`. */
  readonly deleteChild: (id: string) => Effect.Effect<void, SupervisorError>
  /**
   * Stops the supervisor (OTP's `stop(Sup, Reason)`): its children stop in reverse order and are not
   * started again, `await` completes, and the snapshot keeps `reason`. Completes once everything stopped.
   */
  readonly stop: (reason?: string) => Effect.Effect<void>
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
 * supervises them in the background, and when the scope closes stops them in reverse order; they are not
 * started again (an actor child then takes no more messages). Children run with the context of the
 * caller. Fails with `SupervisorError` (`FailedToStartChild`) when a child fails to start, after stopping
 * the children started before it. Dies if two children share an id.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = <Options extends SupervisorOptions.Any>(
  options: Options
): Effect.Effect<SupervisorRef, SupervisorError, Scope.Scope | SupervisorOptions.Services<Options>> =>
  internal.make(options).pipe(
    Effect.withSpan("Supervisor.start", { attributes: { supervisor: options.id } })
  ) as Effect.Effect<SupervisorRef, SupervisorError, Scope.Scope | SupervisorOptions.Services<Options>>

/**
 * A supervisor as a long-running effect: it never succeeds, fails with `SupervisorEscalation` once its
 * children are stopped after an escalation (or `SupervisorError` when a child fails to start), and stops
 * its children in reverse order when interrupted. Use it as a child's `start` to nest supervisors: its
 * parent then decides whether its children are started again.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = <Options extends SupervisorOptions.Any>(
  options: Options
): Effect.Effect<never, SupervisorEscalation | SupervisorError, SupervisorOptions.Services<Options>> =>
  Effect.scoped(Effect.flatMap(internal.make(options), (ref) => ref.await)).pipe(
    Effect.andThen(Effect.never)
  ) as Effect.Effect<never, SupervisorEscalation | SupervisorError, SupervisorOptions.Services<Options>>

/**
 * A supervisor for many children made from one spec, started and stopped at run time (OTP's
 * `simple_one_for_one`, Elixir's `DynamicSupervisor`). Children restart one for one; one that ends
 * without being restarted, or is terminated, is deleted.
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamicSupervisorOptions<A, E = unknown, R = never> {
  readonly id: string
  /** The spec of the child started by `startChild(argument)`; its `id` must be unique among the children. */
  readonly child: (argument: A) => ChildSpec<E, R>
  /** `startChild` fails with `MaxChildren` while this many children are listed. Default: no maximum. */
  readonly maxChildren?: number | undefined
  /** Default 3 restarts in 5 seconds. */
  readonly intensity?: Intensity | undefined
  readonly backoff?: Schedule.Schedule<unknown, ChildExit, never, R> | undefined
  readonly jitter?: boolean | undefined
}

/**
 * A running dynamic supervisor.
 *
 * @since 0.1.0
 * @category models
 */
export interface DynamicSupervisorRef<A> {
  readonly id: string
  /**
   * Starts a child from `child(argument)`; succeeds once it is running. Fails with `MaxChildren`,
   * `AlreadyStarted`, `FailedToStartChild` or `SupervisorNotRunning`.
   */
  readonly startChild: (argument: A) => Effect.Effect<ChildInfo, SupervisorError>
  /** Stops the child and deletes it. */
  readonly terminateChild: (id: string) => Effect.Effect<void, SupervisorError>
  readonly children: Effect.Effect<ReadonlyArray<ChildInfo>>
  readonly countChildren: Effect.Effect<ChildCounts>
  readonly await: Effect.Effect<void, SupervisorEscalation>
  readonly snapshot: Effect.Effect<SupervisorSnapshot>
  readonly stop: (reason?: string) => Effect.Effect<void>
}

/**
 * Starts a dynamic supervisor with no children; `startChild` adds them. Its children run with the
 * caller's context; it stops them in reverse start order when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const startDynamic = <A, E = unknown, R = never>(
  options: DynamicSupervisorOptions<A, E, R>
): Effect.Effect<DynamicSupervisorRef<A>, never, Scope.Scope | Exclude<R, Scope.Scope>> =>
  Effect.map(
    internal.make<E, R>({ ...options, dynamic: true, children: [] }) as Effect.Effect<
      internal.Engine,
      never,
      Scope.Scope | Exclude<R, Scope.Scope>
    >,
    (engine): DynamicSupervisorRef<A> => ({
      id: engine.id,
      startChild: (argument) =>
        Effect.suspend(() => engine.startChild(options.child(argument) as ChildSpec<unknown, unknown>)),
      terminateChild: engine.terminateChild,
      children: engine.children,
      countChildren: engine.countChildren,
      await: engine.await,
      snapshot: engine.snapshot,
      stop: engine.stop
    })
  ).pipe(Effect.withSpan("Supervisor.startDynamic", { attributes: { supervisor: options.id } }))

/**
 * Tells the supervising parent that the current child has finished starting, so its next sibling may
 * start (see `ChildSpec.awaitReady`). Does nothing outside a supervised child.
 *
 * @since 0.1.0
 * @category combinators
 */
export const ready: Effect.Effect<void> = internal.ready
