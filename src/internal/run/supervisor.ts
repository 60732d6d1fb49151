/**
 * The supervisor engine behind `Supervisor.start`, `Supervisor.run` and `Supervisor.startDynamic`.
 *
 * One control-loop fiber owns all mutable state and handles one event at a time: a child exited, a
 * backoff delay elapsed, a command from the reference (start / terminate / restart / delete a child), or
 * shutdown was requested. Children are detached fibers that report their exit (tagged with a generation,
 * so the exits of children the supervisor stopped itself are ignored). Backoff delays are timer fibers in
 * a scope of the loop's, so the loop stays responsive while children wait.
 *
 * A child's exit that finds the loop waiting with nothing queued is handled at once, in the exiting
 * child's fiber (in the loop's context, with the loop kept out until it is done): a restart with no delay
 * then happens before anything else runs, with no hop through the queue and the scheduler. Everything
 * else still takes turns in the loop, in order. This is behaviour, not only speed: whoever just saw a
 * child trap already finds the supervisor's decision made (SupervisorOtp.test "4. calls fail at once for
 * a Temporary actor that trapped; 5. it is deleted from the child list" fails without it).
 *
 * A child learns about its supervisor through `CurrentChild` (a handle per incarnation): it signals
 * readiness there, a nested supervisor registers its snapshot, and a child that can be addressed after it
 * ends (an actor) registers `retire`, which the supervisor calls once it will not start the child again,
 * so that calls to it fail at once instead of waiting for a restart that never comes.
 *
 * @internal
 */
import {
  Cause,
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  LogLevel,
  Metric,
  Option,
  Pull,
  Queue,
  References,
  Schedule,
  Scope
} from "effect"
import type {
  ChildCounts,
  ChildExit,
  ChildInfo,
  ChildSnapshot,
  ChildSpec,
  ChildState,
  EscalationReason,
  Intensity,
  RestartType,
  SupervisorOptions,
  SupervisorSnapshot,
  SupervisorStatus
} from "../supervision.ts"
import { SupervisorError, SupervisorEscalation } from "../supervision.ts"
import { CurrentNode } from "../node.ts"
import { type ChildHandle, CurrentChild, type RetireReason } from "./childHandle.ts"

export { ready } from "./childHandle.ts"

/** @internal */
export const restartsTotal = Metric.counter("airssys_supervisor_restarts_total", {
  description: "Child restarts performed by airssys-wasm supervisors",
  incremental: true
})

const defaultShutdownTimeout = Duration.seconds(5)

type Step<R> = (now: number, input: ChildExit) => Pull.Pull<[unknown, Duration.Duration], never, unknown, R>

/** What is left to do after the synchronous part of handling an event: `undefined` when nothing is. */
type Next<R> = Effect.Effect<SupervisorEscalation | undefined, never, R> | undefined

/** Why a child is started: its first start, a restart after its own exit, a restart with its group. */
type StartCause = "first" | "own" | "group"

interface Child<E, R> {
  readonly spec: ChildSpec<E, R>
  readonly restartType: RestartType
  /** `undefined`: the default, which depends on whether the child turns out to be a supervisor. */
  readonly shutdownTimeout: Duration.Duration | undefined
  readonly restarts: Metric.Metric<number, unknown>
  state: ChildState
  ownRestarts: number
  groupRestarts: number
  lastExit: ChildExit | undefined
  /** Bumped at every start and every stop; an exit event from an older generation is stale. */
  generation: number
  fiber: Fiber.Fiber<unknown, E> | undefined
  handle: ChildHandle | undefined
  /** The handle of the latest incarnation, kept after it ends (to retire the child). */
  lastHandle: ChildHandle | undefined
  /** The current incarnation's scope; closed by the supervisor itself when it kills the child. */
  scope: Scope.Closeable | undefined
  startedAt: number
  /** The restart this child waits for, if any, and why it restarts. */
  pending: number | undefined
  pendingCause: StartCause
  /** The generation that is stopping on purpose (`ChildHandle.release`): its exit is not restarted. */
  released: number
  /** Deleted from the child list (a `Temporary` child that ended, a deleted child): never started again. */
  removed: boolean
  /** This child's backoff schedule, stepped once per restart it caused; `undefined` = start over. */
  backoff: Step<R> | undefined
}

type Event =
  | { readonly _tag: "Exit"; readonly child: Child<any, any>; readonly generation: number; readonly exit: Exit.Exit<unknown, unknown> }
  | { readonly _tag: "RestartDue"; readonly token: number }
  | { readonly _tag: "Shutdown" }
  /** An exit handled in the child's fiber ended the supervisor (`inlineFailure`). */
  | { readonly _tag: "Wake" }
  /** A call on the reference, run in the loop; `refuse` answers it when the loop has ended. */
  | { readonly _tag: "Command"; readonly run: Effect.Effect<void, never, any>; readonly refuse: () => void }

const errorMessage = (cause: Cause.Cause<unknown>): string | undefined => {
  // The common case, an Error-like failure, read directly: `prettyErrors` would format stack traces on
  // every restart, for one message.
  const first = cause.reasons.find((reason) => reason._tag !== "Interrupt")
  const original: unknown = first === undefined ? undefined : first._tag === "Fail" ? first.error : first._tag === "Die" ? first.defect : undefined
  if (typeof original === "object" && original !== null && "message" in original && typeof original.message === "string") {
    const name = "name" in original && typeof original.name === "string" ? original.name : "Error"
    return original.message === "" ? name : original.message
  }
  const [error] = Cause.prettyErrors(cause)
  return error === undefined ? undefined : error.message === "" ? error.name : error.message
}

const describeExit = (exit: Exit.Exit<unknown, unknown>, at: number): ChildExit => {
  if (Exit.isSuccess(exit)) return { reason: "Normal", at }
  if (Cause.hasInterruptsOnly(exit.cause)) return { reason: "Interrupted", at }
  const message = errorMessage(exit.cause)
  const reason = Cause.hasFails(exit.cause) ? "Failure" : "Defect"
  return message === undefined ? { reason, at } : { reason, message, at }
}

const isAbnormal = (exit: Exit.Exit<unknown, unknown> | undefined): exit is Exit.Failure<unknown, unknown> =>
  exit !== undefined && Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)

/** A child was started again: for the audit trail (see `Supervisor.ts`), in the loop's context. */
export interface Restarted {
  readonly child: string
  /** Its restarts so far, this one included. */
  readonly restarts: number
  /** After its own exit, or with its group (a sibling's exit, by the strategy). */
  readonly cause: "own" | "group"
}

/** @internal */
export interface EngineOptions<E, R> extends SupervisorOptions<E, R> {
  /** The defaults applied (`Supervisor.ts` has them). */
  readonly intensity: Intensity
  readonly backoff: Schedule.Schedule<unknown, ChildExit, never, R>
  /** `simple_one_for_one`: a child that ends or is terminated is deleted; no restart / delete by id. */
  readonly dynamic?: boolean | undefined
  readonly maxChildren?: number | undefined
  /** Told of every restart, synchronously, with the loop's context. */
  readonly onRestart?: ((restarted: Restarted, context: Context.Context<never>) => void) | undefined
}

/** @internal */
export interface Engine {
  readonly id: string
  readonly children: Effect.Effect<ReadonlyArray<ChildInfo>>
  readonly countChildren: Effect.Effect<ChildCounts>
  readonly await: Effect.Effect<void, SupervisorEscalation>
  readonly snapshot: Effect.Effect<SupervisorSnapshot>
  readonly startChild: (spec: ChildSpec<unknown, unknown>) => Effect.Effect<ChildInfo, SupervisorError>
  readonly terminateChild: (id: string) => Effect.Effect<void, SupervisorError>
  readonly restartChild: (id: string) => Effect.Effect<ChildInfo, SupervisorError>
  readonly deleteChild: (id: string) => Effect.Effect<void, SupervisorError>
  readonly stop: (reason?: string) => Effect.Effect<void>
}

/** @internal */
export const make = <E, R>(options: EngineOptions<E, R>): Effect.Effect<Engine, SupervisorError, Scope.Scope | R> =>
  Effect.gen(function*() {
    // Read synchronously, before anything asynchronous: a parent supervisor decides right after forking
    // us whether to wait for our readiness.
    const parent = yield* CurrentChild
    const scope = yield* Effect.scope
    // Read once: the snapshot names the node the supervisor started on.
    const node = yield* CurrentNode

    const ids = new Set<string>()
    for (const spec of options.children) {
      if (ids.has(spec.id)) {
        return yield* Effect.die(
          new Cause.IllegalArgumentError(`Supervisor ${options.id}: duplicate child id ${spec.id}`)
        )
      }
      ids.add(spec.id)
    }

    const id = options.id
    const dynamic = options.dynamic === true
    const maxChildren = options.maxChildren
    const strategy = dynamic ? "OneForOne" : options.strategy ?? "OneForOne"
    const intensity = options.intensity
    const maxRestarts = Math.max(0, intensity.maxRestarts)
    const periodMillis = Duration.toMillis(Duration.fromInputUnsafe(intensity.period))
    const backoff = options.jitter === true ? Schedule.jittered(options.backoff) : options.backoff

    const makeChild = (spec: ChildSpec<E, R>): Child<E, R> => ({
      spec,
      restartType: spec.restart ?? "Permanent",
      shutdownTimeout: spec.shutdownTimeout === undefined ? undefined : Duration.fromInputUnsafe(spec.shutdownTimeout),
      // The series of `Metric.withAttributes(restartsTotal, ...)`, made with the attributes so that an
      // update does not copy the context.
      restarts: Metric.counter(restartsTotal.id, {
        description: restartsTotal.description,
        incremental: true,
        attributes: { supervisor: id, child: spec.id }
      }),
      state: "stopped",
      ownRestarts: 0,
      groupRestarts: 0,
      lastExit: undefined,
      generation: 0,
      fiber: undefined,
      handle: undefined,
      lastHandle: undefined,
      scope: undefined,
      startedAt: 0,
      pending: undefined,
      pendingCause: "own",
      released: -1,
      removed: false,
      backoff: undefined
    })
    /** In start order; a child deleted from it is `removed`. */
    const children: Array<Child<E, R>> = options.children.map(makeChild)

    let status: SupervisorStatus = "starting"
    let stopReason: string | undefined
    let shuttingDown = false
    /** Our parent told us it will not start us again: no child of ours restarts from now on. */
    let retired = false
    /** The loop has ended: commands are refused from here on. */
    let ended = false
    let restartTokens = 0
    /** Clock times of the restarts within the current intensity window, oldest first. */
    const window: Array<number> = []
    /**
     * `false` only while the loop is between events (waiting for one): a child's exit may then be handled
     * in the child's fiber (`reportExit`), which sets it until done. The loop waits for that (`resumeLoop`)
     * before it handles anything itself.
     */
    let busy = true
    let resumeLoop: (() => void) | undefined
    /** How an exit handled in a child's fiber ended the supervisor (an escalation, or a defect). */
    let inlineFailure: Cause.Cause<SupervisorEscalation> | undefined
    // The loop's context, in which every event is handled wherever it runs (set when the loop starts).
    let loopContext: Context.Context<R> = Context.empty() as Context.Context<R>
    /** Whether a logger takes the supervisor's warnings / debug lines (read from the loop's context). */
    const logs = { warning: true, debug: true }
    const clock = yield* Clock.Clock

    const events = yield* Queue.unbounded<Event>()
    const started = yield* Deferred.make<void, SupervisorError>()
    const shutdownRequested = yield* Deferred.make<void>()
    const done = yield* Deferred.make<void, SupervisorEscalation>()
    // Backoff timers: interrupted when the loop ends, from whichever fiber forked them.
    const timers = Scope.makeUnsafe()

    const info = (child: Child<E, R>): ChildInfo => ({
      id: child.spec.id,
      restartType: child.restartType,
      state: child.state,
      ownRestarts: child.ownRestarts,
      groupRestarts: child.groupRestarts,
      ...(child.lastExit === undefined ? {} : { lastExit: child.lastExit })
    })

    const snapshot: Effect.Effect<SupervisorSnapshot> = Effect.suspend(() =>
      Effect.forEach(children.slice(), (child): Effect.Effect<ChildSnapshot> => {
        const nested = child.handle?.snapshot
        const inspect = child.spec.inspect
        const base: Effect.Effect<ChildSnapshot> = inspect === undefined
          ? Effect.succeed(info(child))
          : Effect.map(inspect, (details) => ({ ...info(child), details }))
        return nested === undefined ? base : Effect.zipWith(base, nested, (base, supervisor) => ({ ...base, supervisor }))
      }).pipe(Effect.map((children): SupervisorSnapshot => ({
        id,
        ...(node === undefined ? {} : { node }),
        strategy,
        status,
        intensity: { maxRestarts, periodMillis },
        ...(dynamic ? { dynamic: true } : {}),
        ...(maxChildren === undefined ? {} : { maxChildren }),
        ...(stopReason === undefined ? {} : { stopReason }),
        children
      })))
    )

    const supervisorError = (reason: SupervisorError["reason"], child?: string, cause?: string) =>
      new SupervisorError({
        supervisor: id,
        reason,
        ...(child === undefined ? {} : { child }),
        ...(cause === undefined ? {} : { cause })
      })

    /** Tells a child (through its latest incarnation's handle) that it will not be started again. */
    const retire = (child: Child<E, R>, why: RetireReason): void => {
      const handle = child.handle ?? child.lastHandle
      child.lastHandle = undefined
      handle?.retire?.(why)
    }

    const remove = (child: Child<E, R>): void => {
      child.removed = true
      child.pending = undefined
      const index = children.indexOf(child)
      if (index >= 0) children.splice(index, 1)
    }

    if (parent !== undefined) {
      parent.awaitReady = true
      parent.snapshot = snapshot
      // Our parent will not start us again (it is about to stop us): neither will anyone start our
      // children, and an exit of theirs meanwhile is no reason to restart them.
      parent.retire = () => {
        retired = true
        for (const child of children) retire(child, "SupervisorStopped")
      }
    }

    const noEscalation: Effect.Effect<SupervisorEscalation | undefined> = Effect.succeed(undefined)
    const orDone = (next: Next<R>): Effect.Effect<SupervisorEscalation | undefined, never, R> => next ?? noEscalation

    /** An exit handled in a child's fiber is over; the loop, if it woke up meanwhile, goes on. */
    const finishInline = (exit?: Exit.Exit<SupervisorEscalation | undefined>): void => {
      if (exit === undefined) {
        // Handled synchronously, without an escalation.
      } else if (Exit.isFailure(exit)) inlineFailure = exit.cause
      else if (exit.value !== undefined) inlineFailure = Cause.fail(exit.value)
      // After an escalation the loop only has to end: nothing else is handled here meanwhile.
      if (inlineFailure === undefined) busy = false
      const resume = resumeLoop
      resumeLoop = undefined
      if (resume !== undefined) resume()
      else if (inlineFailure !== undefined) Queue.offerUnsafe(events, { _tag: "Wake" })
    }

    /**
     * A child's exit: queued for the loop, or handled here and now when the loop is between events with
     * nothing queued (the order of events is kept either way). Runs in the exiting child's fiber,
     * uninterruptibly; whatever handling it needs beyond plain bookkeeping runs in the loop's context.
     */
    const reportExit = (event: Extract<Event, { _tag: "Exit" }>): Effect.Effect<void> => {
      if (busy || shuttingDown || Queue.sizeUnsafe(events) > 0) {
        Queue.offerUnsafe(events, event)
        return Effect.void
      }
      busy = true
      const next = onChildExit(event)
      if (next === undefined) {
        finishInline()
        return Effect.void
      }
      return next.pipe(
        Effect.provideContext(loopContext),
        Effect.onExit((exit) => Effect.sync(() => finishInline(exit)))
      ) as Effect.Effect<void>
    }

    // The loop, woken while an exit is handled in a child's fiber, waits for that to finish.
    const awaitInline = Effect.callback<void>((resume) => {
      resumeLoop = () => resume(Effect.void)
    })

    /** Starts a child now, in a fiber of its own; what is left to do (wait for its readiness), if anything. */
    const startChild = (child: Child<E, R>, cause: StartCause): Effect.Effect<void> | undefined => {
      const generation = ++child.generation
      const handle: ChildHandle = {
        awaitReady: child.spec.awaitReady === true,
        ready: Deferred.makeUnsafe<void>(),
        readied: false,
        snapshot: undefined,
        retire: undefined,
        release: () => release(child, generation),
        exit: undefined
      }
      const childScope = Scope.makeUnsafe()
      child.handle = handle
      child.lastHandle = handle
      child.scope = childScope
      child.pending = undefined
      child.state = "starting"
      child.startedAt = clock.currentTimeMillisUnsafe()
      if (cause !== "first") {
        if (cause === "own") child.ownRestarts++
        else child.groupRestarts++
        child.restarts.updateUnsafe(1, loopContext)
        options.onRestart?.({ child: child.spec.id, restarts: child.ownRestarts + child.groupRestarts, cause }, loopContext)
      }
      // The loop's context with the child's scope and handle; started at once, attached to no parent.
      const context = Context.add(Context.add(loopContext, Scope.Scope, childScope), CurrentChild, handle)
      const fiber = Effect.runForkWith(context)(Effect.onExit(child.spec.start, (exit) =>
        Effect.andThen(
          Scope.close(childScope, exit),
          Effect.suspend(() => {
            handle.exit = exit
            Deferred.doneUnsafe(handle.ready, Exit.void)
            return reportExit({ _tag: "Exit", child, generation, exit })
          })
        )))
      child.fiber = fiber
      const running = () => {
        if (child.generation === generation && fiber.pollUnsafe() === undefined) child.state = "running"
      }
      // A child that was ready at once (an actor whose instance started synchronously) is not waited for.
      if (handle.awaitReady && !Deferred.isDoneUnsafe(handle.ready)) {
        return Effect.andThen(
          Effect.raceFirst(Deferred.await(handle.ready), Deferred.await(shutdownRequested)),
          Effect.sync(running)
        )
      }
      running()
      return undefined
    }

    /**
     * The child's start just made failed: it ended abnormally before it was running (or, with
     * `awaitReady`, before it called `ready`). OTP's `{error, Reason}` from a child's start function.
     */
    const startFailure = (child: Child<E, R>, handle: ChildHandle): Exit.Failure<unknown, unknown> | undefined => {
      const exit = handle.exit
      if (!isAbnormal(exit) || handle.readied) return undefined
      if (!handle.awaitReady && child.state === "running") return undefined
      return exit
    }

    /** Starts a child and reports a start failure as `FailedToStartChild` (the child is then stopped). */
    const startOrFail = (child: Child<E, R>, cause: StartCause) =>
      Effect.gen(function*() {
        const pending = startChild(child, cause)
        const handle = child.handle!
        if (pending !== undefined) yield* pending
        const failure = startFailure(child, handle)
        if (failure === undefined) return undefined
        // Its exit event is stale from here on: the failure is reported to whoever started it instead.
        child.generation++
        child.fiber = undefined
        child.handle = undefined
        child.scope = undefined
        child.lastExit = describeExit(failure, clock.currentTimeMillisUnsafe())
        child.state = "failed"
        const message = child.lastExit.message ?? Cause.pretty(failure.cause)
        if (logs.warning) yield* Effect.logWarning(`child ${child.spec.id} failed to start: ${message}`)
        return supervisorError("FailedToStartChild", child.spec.id, message)
      })

    /** The child stops on purpose (an actor's `ref.stop`): not restarted, like `terminate_child`. */
    const release = (child: Child<E, R>, generation: number): void => {
      if (child.generation === generation && child.fiber !== undefined) {
        child.released = generation
      } else if (child.pending !== undefined && child.lastHandle !== undefined) {
        // Between incarnations, waiting for a restart: it does not come.
        child.pending = undefined
        child.state = "stopped"
        child.lastHandle = undefined
        if (child.restartType === "Temporary" || dynamic) remove(child)
      }
    }

    /**
     * Stops a child the supervisor wants gone; its exit event becomes stale. `final`: it will not be
     * started again, and is told so before it stops (an actor then stops gracefully and takes no more
     * messages). After the shutdown timeout the child is killed: its scope is closed at once (an actor's
     * incarnation then closes its instance and abandons its hooks) and its fiber is left interrupted.
     */
    const stopChild = Effect.fnUntraced(function*(child: Child<E, R>, next: ChildState, final?: RetireReason) {
      const fiber = child.fiber
      const childScope = child.scope
      const isSupervisor = child.handle?.snapshot !== undefined
      if (final !== undefined) retire(child, final)
      child.generation++
      child.fiber = undefined
      child.handle = undefined
      child.scope = undefined
      child.pending = undefined
      if (fiber !== undefined) {
        const exited = fiber.pollUnsafe()
        if (exited !== undefined) {
          // It exited on its own just now; its exit event is stale from here on, keep its reason.
          child.lastExit = describeExit(exited, clock.currentTimeMillisUnsafe())
        } else {
          const timeout = child.shutdownTimeout ?? (isSupervisor ? undefined : defaultShutdownTimeout)
          const stopped = timeout === undefined
            ? yield* Effect.asSome(Fiber.interrupt(fiber))
            : yield* Effect.timeoutOption(Fiber.interrupt(fiber), timeout)
          child.lastExit = { reason: Option.isSome(stopped) ? "Shutdown" : "ShutdownTimedOut", at: clock.currentTimeMillisUnsafe() }
          if (Option.isNone(stopped)) {
            yield* Effect.logWarning(`child ${child.spec.id} did not stop within its shutdown timeout: its scope is closed, no longer waited for`)
            // The kill: its resources go now, whatever its fiber is stuck in (in a fiber of its own, so a
            // finalizer that hangs cannot hang the supervisor too).
            if (childScope !== undefined) {
              yield* Effect.forkDetach(Scope.close(childScope, Exit.interrupt()), { startImmediately: true })
            }
          }
        }
      }
      child.state = next
    })

    /** Stops every child in reverse start order and cancels pending restarts. */
    const stopAll = Effect.fnUntraced(function*(final: RetireReason | undefined) {
      for (let i = children.length - 1; i >= 0; i--) {
        const child = children[i]
        if (child === undefined) continue
        if (child.fiber !== undefined) {
          yield* stopChild(child, "stopped", final)
        } else {
          if (child.state === "restarting" || child.state === "starting") {
            child.pending = undefined
            child.state = "stopped"
          }
          if (final !== undefined) retire(child, final)
        }
      }
    })

    /** A top-level supervisor's children are not started again once it stops; a nested one's parent decides. */
    const finalStop: RetireReason | undefined = parent === undefined ? "SupervisorStopped" : undefined

    const escalate = Effect.fnUntraced(function*(
      child: Child<E, R>,
      reason: EscalationReason,
      cause: Cause.Cause<unknown>
    ) {
      const escalation = new SupervisorEscalation({
        supervisor: id,
        child: child.spec.id,
        reason,
        exitsInPeriod: window.length,
        maxRestarts,
        periodMillis,
        cause: Cause.pretty(cause)
      })
      yield* Effect.logError(escalation.message)
      status = "stopping"
      yield* stopAll(finalStop)
      child.state = "failed"
      status = "escalated"
      return escalation
    })

    const onChildExit = (event: Extract<Event, { _tag: "Exit" }>): Next<R> => {
      const child = event.child as Child<E, R>
      if (event.generation !== child.generation || child.removed) return undefined
      const now = clock.currentTimeMillisUnsafe()
      const exit = describeExit(event.exit, now)
      child.fiber = undefined
      child.handle = undefined
      child.scope = undefined
      child.lastExit = exit
      const abnormal = exit.reason === "Failure" || exit.reason === "Defect"
      const released = child.released === event.generation
      const restart = !released && !retired &&
        (child.restartType === "Permanent" || (child.restartType === "Transient" && abnormal))
      if (!restart) {
        child.state = abnormal ? "failed" : "stopped"
        // Stopped on purpose, it knows; otherwise tell it that nothing will start it again.
        if (!released) retire(child, "NotRestarted")
        child.lastHandle = undefined
        if (child.restartType === "Temporary" || dynamic) remove(child)
        return logs.debug
          ? Effect.as(Effect.logDebug(`child ${child.spec.id} exited (${exit.reason}), not restarted`), undefined)
          : undefined
      }
      const cause = Exit.isFailure(event.exit) ? event.exit.cause : Cause.empty

      // Restart times are appended as they happen, so the expired ones are at the front: drop those rather
      // than copy the whole window (up to `maxRestarts` long) on every restart.
      let expired = 0
      while (expired < window.length && now - window[expired]! > periodMillis) expired++
      if (expired > 0) window.splice(0, expired)
      window.push(now)
      if (window.length > maxRestarts) return escalate(child, "Intensity", cause)

      if (child.backoff === undefined || now - child.startedAt >= periodMillis) {
        return Effect.flatMap(Schedule.toStep(backoff), (backoff) => {
          child.backoff = backoff
          return orDone(stepBackoff(child, backoff, now, exit, cause))
        })
      }
      return stepBackoff(child, child.backoff, now, exit, cause)
    }

    /** The child's next backoff delay, then its restart (or an escalation when the schedule is done). */
    const stepBackoff = (
      child: Child<E, R>,
      backoff: Step<R>,
      now: number,
      exit: ChildExit,
      cause: Cause.Cause<unknown>
    ): Next<R> => {
      const stepped = backoff(now, exit)
      // A step already decided (as a constant or zero delay is) is read as it is, without running it.
      if (Exit.isExit(stepped) && Exit.isSuccess(stepped)) {
        return restartAfter(child, exit, (stepped.value as [unknown, Duration.Duration])[1])
      }
      return Pull.matchEffect(stepped, {
        onSuccess: ([, delay]) => orDone(restartAfter(child, exit, delay)),
        onFailure: Effect.failCause,
        onDone: () => escalate(child, "BackoffExhausted", cause)
      })
    }

    const restartAfter = (child: Child<E, R>, exit: ChildExit, delay: Duration.Duration): Next<R> => {
      const group = strategy === "OneForOne"
        ? [child]
        : strategy === "OneForAll"
        ? children.slice()
        : children.slice(children.indexOf(child))
      if (!logs.warning) return stopGroup(group, child, delay)
      // Built only when a logger takes warnings.
      return Effect.andThen(
        Effect.logWarning(
          `child ${child.spec.id} exited (${exit.reason}${exit.message === undefined ? "" : `: ${exit.message}`}), ` +
            `restarting ${group.map((c) => c.spec.id).join(", ")} in ${Duration.format(delay)}`
        ),
        Effect.suspend(() => orDone(stopGroup(group, child, delay)))
      )
    }

    const stopGroup = (group: ReadonlyArray<Child<E, R>>, child: Child<E, R>, delay: Duration.Duration): Next<R> => {
      child.state = "restarting"
      if (!group.some((sibling) => sibling !== child && sibling.fiber !== undefined)) {
        return scheduleRestart(group, child, delay)
      }
      return Effect.gen(function*() {
        for (let i = group.length - 1; i >= 0; i--) {
          const sibling = group[i]!
          if (sibling === child || sibling.fiber === undefined) continue
          // OTP: a temporary child stopped by a group restart is not restarted, it is gone.
          yield* stopChild(sibling, "restarting", sibling.restartType === "Temporary" ? "NotRestarted" : undefined)
        }
        return yield* orDone(scheduleRestart(group, child, delay))
      })
    }

    const scheduleRestart = (group: ReadonlyArray<Child<E, R>>, child: Child<E, R>, delay: Duration.Duration): Next<R> => {
      const token = ++restartTokens
      for (const member of group) {
        if (member.removed) continue
        if (member.restartType === "Temporary" && member !== child) {
          member.state = "stopped"
          retire(member, "NotRestarted")
          remove(member)
          continue
        }
        member.pending = token
        member.pendingCause = member === child ? "own" : "group"
        member.state = "restarting"
      }
      if (Duration.isZero(delay)) {
        // Nothing to wait for: restart now rather than after a timer fiber's round trip through the queue.
        const started = onRestartDue(token)
        return started === undefined ? undefined : Effect.as(started, undefined)
      }
      return Effect.as(
        Effect.forkIn(
          Effect.andThen(
            Effect.sleep(delay),
            Effect.sync(() => Queue.offerUnsafe(events, { _tag: "RestartDue", token }))
          ),
          timers,
          { startImmediately: true }
        ),
        undefined
      )
    }

    const onRestartDue = (token: number): Effect.Effect<void> | undefined => {
      // The common case, one child due (and ready once started), needs no effect to run.
      let due: Child<E, R> | undefined
      let count = 0
      for (const child of children) {
        if (child.pending === token) {
          due ??= child
          count++
        }
      }
      if (count === 0 || shuttingDown) return undefined
      if (count === 1) return startChild(due!, due!.pendingCause)
      return Effect.gen(function*() {
        for (const child of children.slice()) {
          if (shuttingDown) return
          if (child.pending !== token) continue
          const started = startChild(child, child.pendingCause)
          if (started !== undefined) yield* started
        }
      })
    }

    // -------------------------------------------------------------------------------------------------
    // Commands from the reference: run in the loop, one event at a time like everything else.

    const command = <A>(run: Effect.Effect<A, SupervisorError, R>): Effect.Effect<A, SupervisorError> =>
      Effect.suspend(() => {
        if (ended || shuttingDown) return Effect.fail(supervisorError("SupervisorNotRunning"))
        const answer = Deferred.makeUnsafe<A, SupervisorError>()
        Queue.offerUnsafe(events, {
          _tag: "Command",
          run: Effect.flatMap(Effect.exit(run), (exit) => Deferred.done(answer, exit)),
          refuse: () => Deferred.doneUnsafe(answer, Exit.fail(supervisorError("SupervisorNotRunning")))
        })
        return Deferred.await(answer)
      })

    const find = (childId: string) =>
      Effect.suspend(() => {
        const child = children.find((child) => child.spec.id === childId)
        return child === undefined ? Effect.fail(supervisorError("NotFound", childId)) : Effect.succeed(child)
      })

    const refuseBusy = (child: Child<E, R>): SupervisorError | undefined =>
      child.fiber !== undefined
        ? supervisorError("Running", child.spec.id)
        : child.pending !== undefined
        ? supervisorError("Restarting", child.spec.id)
        : undefined

    const startChildCommand = (spec: ChildSpec<E, R>) =>
      Effect.gen(function*() {
        const existing = children.find((child) => child.spec.id === spec.id)
        if (existing !== undefined) {
          return yield* supervisorError(existing.fiber !== undefined ? "AlreadyStarted" : "AlreadyPresent", spec.id)
        }
        if (maxChildren !== undefined && children.length >= maxChildren) {
          return yield* supervisorError("MaxChildren", spec.id, `at most ${maxChildren} children`)
        }
        const child = makeChild(spec)
        children.push(child)
        const failed = yield* startOrFail(child, "first")
        // OTP keeps no spec of a child that failed to start.
        if (failed !== undefined) {
          remove(child)
          return yield* failed
        }
        return info(child)
      })

    const terminateChildCommand = (childId: string) =>
      Effect.gen(function*() {
        const child = yield* find(childId)
        if (child.fiber !== undefined) yield* stopChild(child, "stopped", "Terminated")
        else {
          child.pending = undefined
          child.state = "stopped"
          retire(child, "Terminated")
        }
        if (child.restartType === "Temporary" || dynamic) remove(child)
      })

    const restartChildCommand = (childId: string) =>
      Effect.gen(function*() {
        const child = yield* find(childId)
        const busy = refuseBusy(child)
        if (busy !== undefined) return yield* busy
        child.backoff = undefined
        const failed = yield* startOrFail(child, "first")
        if (failed !== undefined) return yield* failed
        return info(child)
      })

    const deleteChildCommand = (childId: string) =>
      Effect.gen(function*() {
        const child = yield* find(childId)
        const busy = refuseBusy(child)
        if (busy !== undefined) return yield* busy
        remove(child)
      })

    // -------------------------------------------------------------------------------------------------

    const loop = Effect.gen(function*() {
      loopContext = yield* Effect.context<R>()
      const loggers = Context.get(loopContext, References.CurrentLoggers).size > 0
      const minimum = Context.get(loopContext, References.MinimumLogLevel)
      logs.warning = loggers && !LogLevel.isGreaterThan(minimum, "Warn")
      logs.debug = loggers && !LogLevel.isGreaterThan(minimum, "Debug")
      for (const child of children.slice()) {
        if (shuttingDown) break
        const failed = yield* startOrFail(child, "first")
        if (failed !== undefined) {
          // OTP: the supervisor does not start; the children started before stop in reverse order.
          status = "stopping"
          yield* stopAll(finalStop)
          status = "stopped"
          stopReason = failed.message
          ended = true
          Deferred.doneUnsafe(started, Exit.fail(failed))
          return
        }
      }
      if (!shuttingDown) {
        status = "running"
        // Between events from here on: whoever `started` resumes may already see a child exit.
        busy = false
      }
      Deferred.doneUnsafe(started, Exit.void)
      while (!shuttingDown) {
        const event = yield* Queue.take(events)
        if (busy && inlineFailure === undefined) yield* awaitInline
        if (inlineFailure !== undefined) return yield* Effect.failCause(inlineFailure)
        if (shuttingDown || event._tag === "Shutdown") break
        if (event._tag === "Wake") continue
        busy = true
        if (event._tag === "Command") {
          yield* event.run
          busy = false
          continue
        }
        const next = event._tag === "RestartDue" ? onRestartDue(event.token) : onChildExit(event)
        const escalation = next === undefined ? undefined : yield* next
        if (escalation !== undefined) return yield* escalation
        busy = false
      }
      busy = true
      status = "stopping"
      yield* stopAll(finalStop)
      status = "stopped"
    }).pipe(
      Effect.onExit((exit) =>
        Effect.suspend(() => {
          ended = true
          // Commands that came too late learn that the supervisor is gone.
          for (let taken = Queue.takeUnsafe(events); taken !== undefined && Exit.isSuccess(taken); taken = Queue.takeUnsafe(events)) {
            if (taken.value._tag === "Command") taken.value.refuse()
          }
          return Effect.andThen(Scope.close(timers, Exit.void), Deferred.done(done, exit))
        })
      ),
      Effect.annotateLogs({ supervisor: id })
    )

    const loopFiber = yield* Effect.forkDetach(loop)
    const shutdown = (reason: string | undefined) =>
      Effect.suspend(() => {
        if (!shuttingDown && !ended && reason !== undefined) stopReason = reason
        shuttingDown = true
        Deferred.doneUnsafe(shutdownRequested, Exit.void)
        Queue.offerUnsafe(events, { _tag: "Shutdown" })
        return Effect.asVoid(Fiber.await(loopFiber))
      })
    yield* Scope.addFinalizer(scope, shutdown(undefined))
    yield* Deferred.await(started)
    if (parent !== undefined) Deferred.doneUnsafe(parent.ready, Exit.void)

    const countChildren = Effect.sync((): ChildCounts => {
      let active = 0
      let supervisors = 0
      for (const child of children) {
        if (child.fiber !== undefined) active++
        if (child.handle?.snapshot !== undefined || child.lastHandle?.snapshot !== undefined) supervisors++
      }
      return { specs: children.length, active, supervisors, workers: children.length - supervisors }
    })

    return {
      id,
      children: Effect.sync(() => children.map(info)),
      countChildren,
      await: Deferred.await(done),
      snapshot,
      startChild: (spec) => command(startChildCommand(spec as ChildSpec<E, R>)),
      terminateChild: (childId) => command(terminateChildCommand(childId)),
      restartChild: (childId) => command(restartChildCommand(childId)),
      deleteChild: (childId) => command(deleteChildCommand(childId)),
      stop: shutdown
    } satisfies Engine
  })
