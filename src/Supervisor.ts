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
import { Context, Duration, Effect, Metric, Schedule } from "effect"
import type { Scope } from "effect"
import { Audit } from "./Audit.ts"
import * as internal from "./internal/run/supervisor.ts"
import type * as supervision from "./internal/supervision.ts"
import type {
  ChildCounts,
  ChildExit,
  ChildInfo,
  ChildSpec,
  Intensity,
  SupervisorError,
  SupervisorEscalation,
  SupervisorSnapshot
} from "./internal/supervision.ts"

export type {
  ChildCounts,
  ChildDetails,
  ChildExit,
  ChildInfo,
  ChildSnapshot,
  ChildSpec,
  ChildState,
  ExitReason,
  Intensity,
  RestartType,
  Strategy,
  SupervisorSnapshot,
  SupervisorStatus
} from "./internal/supervision.ts"
export { EscalationReason, SupervisorError, SupervisorEscalation } from "./internal/supervision.ts"

/**
 * @since 0.1.0
 * @category models
 */
export interface SupervisorOptions<E = unknown, R = never> extends supervision.SupervisorOptions<E, R> {}


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
  startTraced(options) as Effect.Effect<SupervisorRef, SupervisorError, Scope.Scope | SupervisorOptions.Services<Options>>

const startTraced = Effect.fn("Supervisor.start")(function*(options: SupervisorOptions.Any) {
  yield* Effect.annotateCurrentSpan("supervisor", options.id)
  return yield* engine(options)
})

// The engine with the defaults applied, and every restart audited when an `Audit` is in the context.
const engine = <E, R>(options: SupervisorOptions<E, R> & { readonly dynamic?: boolean; readonly maxChildren?: number | undefined }) =>
  internal.make<E, R>({
    ...options,
    intensity: options.intensity ?? defaultIntensity,
    backoff: options.backoff ?? defaultBackoff,
    onRestart: auditRestart
  })

// Every restart is a lifecycle event (an operator's timeline).
const auditRestart = ({ cause, child, restarts }: internal.Restarted, context: Context.Context<never>): void => {
  const audit = Context.getOrUndefined(context, Audit)
  if (audit === undefined) return
  Effect.runForkWith(context)(audit.record({
    kind: "lifecycle",
    component: child,
    action: "restarted",
    value: restarts,
    detail: `restart ${restarts} (${cause === "own" ? "its own exit" : "a sibling's, by the strategy"})`
  }))
}

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
  Effect.scoped(Effect.flatMap(engine(options), (ref) => ref.await)).pipe(
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
    engine<E, R>({ ...options, dynamic: true, children: [] }) as Effect.Effect<
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
