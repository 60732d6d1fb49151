/**
 * The supervisor engine behind `Supervisor.start` / `Supervisor.run`.
 *
 * One control-loop fiber owns all mutable state and handles one event at a time: a child exited, a
 * backoff delay elapsed, or shutdown was requested. Children are detached fibers that report their exit
 * (tagged with a generation, so the exits of children the supervisor stopped itself are ignored). Backoff
 * delays are timer fibers in a scope of the loop's, so the loop stays responsive while children wait.
 *
 * A child's exit that finds the loop waiting with nothing queued is handled at once, in the exiting
 * child's fiber (in the loop's context, with the loop kept out until it is done): a restart with no delay
 * then happens before anything else runs, with no hop through the queue and the scheduler. Everything
 * else still takes turns in the loop, in order.
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
  ChildExit,
  ChildInfo,
  ChildSnapshot,
  ChildSpec,
  ChildState,
  EscalationReason,
  RestartType,
  SupervisorOptions,
  SupervisorRef,
  SupervisorSnapshot,
  SupervisorStatus
} from "../Supervisor.ts"
import { defaultBackoff, defaultIntensity, SupervisorEscalation } from "../Supervisor.ts"
import { Audit } from "../Audit.ts"

/** @internal */
export const restartsTotal = Metric.counter("airssys_supervisor_restarts_total", {
  description: "Child restarts performed by airssys-wasm supervisors",
  incremental: true
})

/**
 * What a supervisor hands to one incarnation of a child: the child (or a supervisor running as the child)
 * signals readiness through it and registers its snapshot on it.
 *
 * @internal
 */
export interface ChildHandle {
  awaitReady: boolean
  readonly ready: Deferred.Deferred<void>
  snapshot: Effect.Effect<SupervisorSnapshot> | undefined
}

/** @internal */
export const CurrentChild = Context.Reference<ChildHandle | undefined>("airssys-wasm/Supervisor/CurrentChild", {
  defaultValue: () => undefined
})

/** @internal */
export const ready: Effect.Effect<void> = CurrentChild.use((handle) =>
  handle === undefined ? Effect.void : Deferred.done(handle.ready, Exit.void)
)

const defaultShutdownTimeout = Duration.seconds(5)

type Step<R> = (now: number, input: ChildExit) => Pull.Pull<[unknown, Duration.Duration], never, unknown, R>

/** What is left to do after the synchronous part of handling an event: `undefined` when nothing is. */
type Next<R> = Effect.Effect<SupervisorEscalation | undefined, never, R> | undefined

interface Child<E, R> {
  readonly spec: ChildSpec<E, R>
  readonly index: number
  readonly restartType: RestartType
  /** `undefined`: the default, which depends on whether the child turns out to be a supervisor. */
  readonly shutdownTimeout: Duration.Duration | undefined
  readonly restarts: Metric.Metric<number, unknown>
  state: ChildState
  restartCount: number
  lastExit: ChildExit | undefined
  /** Bumped at every start and every stop; an exit event from an older generation is stale. */
  generation: number
  fiber: Fiber.Fiber<unknown, E> | undefined
  handle: ChildHandle | undefined
  startedAt: number
  /** The restart this child waits for, if any. */
  pending: number | undefined
  /** A temporary child that exited or was stopped: never started again. */
  removed: boolean
  /** This child's backoff schedule, stepped once per restart it caused; `undefined` = start over. */
  backoff: Step<R> | undefined
}

type Event =
  | { readonly _tag: "Exit"; readonly index: number; readonly generation: number; readonly exit: Exit.Exit<unknown, unknown> }
  | { readonly _tag: "RestartDue"; readonly token: number }
  | { readonly _tag: "Shutdown" }
  /** An exit handled in the child's fiber ended the supervisor (`inlineFailure`). */
  | { readonly _tag: "Wake" }

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

/** @internal */
export const make = <E, R>(options: SupervisorOptions<E, R>): Effect.Effect<SupervisorRef, never, Scope.Scope | R> =>
  Effect.gen(function*() {
    // Read synchronously, before anything asynchronous: a parent supervisor decides right after forking
    // us whether to wait for our readiness.
    const parent = yield* CurrentChild
    const scope = yield* Effect.scope

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
    const strategy = options.strategy ?? "OneForOne"
    const intensity = options.intensity ?? defaultIntensity
    const maxRestarts = Math.max(0, intensity.maxRestarts)
    const periodMillis = Duration.toMillis(Duration.fromInputUnsafe(intensity.period))
    const baseBackoff: Schedule.Schedule<unknown, ChildExit, never, R> = options.backoff ?? defaultBackoff
    const backoff = options.jitter === true ? Schedule.jittered(baseBackoff) : baseBackoff

    const children: ReadonlyArray<Child<E, R>> = options.children.map((spec, index) => ({
      spec,
      index,
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
      restartCount: 0,
      lastExit: undefined,
      generation: 0,
      fiber: undefined,
      handle: undefined,
      startedAt: 0,
      pending: undefined,
      removed: false,
      backoff: undefined
    }))

    let status: SupervisorStatus = "starting"
    let shuttingDown = false
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
    const started = yield* Deferred.make<void>()
    const shutdownRequested = yield* Deferred.make<void>()
    const done = yield* Deferred.make<void, SupervisorEscalation>()
    // Backoff timers: interrupted when the loop ends, from whichever fiber forked them.
    const timers = Scope.makeUnsafe()

    const info = (child: Child<E, R>): ChildInfo => ({
      id: child.spec.id,
      restartType: child.restartType,
      state: child.state,
      restarts: child.restartCount,
      ...(child.lastExit === undefined ? {} : { lastExit: child.lastExit })
    })

    const snapshot: Effect.Effect<SupervisorSnapshot> = Effect.suspend(() =>
      Effect.forEach(children, (child): Effect.Effect<ChildSnapshot> => {
        const nested = child.handle?.snapshot
        const inspect = child.spec.inspect
        const base: Effect.Effect<ChildSnapshot> = inspect === undefined
          ? Effect.succeed(info(child))
          : Effect.map(inspect, (details) => ({ ...info(child), details }))
        return nested === undefined ? base : Effect.zipWith(base, nested, (base, supervisor) => ({ ...base, supervisor }))
      }).pipe(Effect.map((children) => ({ id, strategy, status, intensity: { maxRestarts, periodMillis }, children })))
    )

    if (parent !== undefined) {
      parent.awaitReady = true
      parent.snapshot = snapshot
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
    const startChild = (child: Child<E, R>, isRestart: boolean): Effect.Effect<void> | undefined => {
      const generation = ++child.generation
      const handle: ChildHandle = {
        awaitReady: child.spec.awaitReady === true,
        ready: Deferred.makeUnsafe<void>(),
        snapshot: undefined
      }
      const childScope = Scope.makeUnsafe()
      child.handle = handle
      child.pending = undefined
      child.state = "starting"
      child.startedAt = clock.currentTimeMillisUnsafe()
      if (isRestart) {
        child.restartCount++
        child.restarts.updateUnsafe(1, loopContext)
        // With an audit in the environment, every restart is a lifecycle event (an operator's timeline).
        const audit = Context.getOrUndefined(loopContext, Audit)
        if (audit !== undefined) {
          Effect.runForkWith(loopContext)(audit.record({
            kind: "lifecycle",
            component: child.spec.id,
            action: "restarted",
            value: child.restartCount,
            detail: `restart ${child.restartCount}`
          }))
        }
      }
      // The loop's context with the child's scope and handle; started at once, attached to no parent.
      const context = Context.add(Context.add(loopContext, Scope.Scope, childScope), CurrentChild, handle)
      const fiber = Effect.runForkWith(context)(Effect.onExit(child.spec.start, (exit) =>
        Effect.andThen(
          Scope.close(childScope, exit),
          Effect.suspend(() => {
            Deferred.doneUnsafe(handle.ready, Exit.void)
            return reportExit({ _tag: "Exit", index: child.index, generation, exit })
          })
        )))
      child.fiber = fiber
      const running = () => {
        if (child.generation === generation && fiber.pollUnsafe() === undefined) child.state = "running"
      }
      if (handle.awaitReady) {
        return Effect.andThen(
          Effect.raceFirst(Deferred.await(handle.ready), Deferred.await(shutdownRequested)),
          Effect.sync(running)
        )
      }
      running()
      return undefined
    }

    /** Stops a child the supervisor wants gone; its exit event becomes stale. */
    const stopChild = Effect.fnUntraced(function*(child: Child<E, R>, next: ChildState) {
      const fiber = child.fiber
      const isSupervisor = child.handle?.snapshot !== undefined
      child.generation++
      child.fiber = undefined
      child.handle = undefined
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
          child.lastExit = { reason: Option.isSome(stopped) ? "Shutdown" : "Killed", at: clock.currentTimeMillisUnsafe() }
          if (Option.isNone(stopped)) {
            yield* Effect.logWarning(`child ${child.spec.id} did not stop within its shutdown timeout`)
          }
        }
      }
      child.state = next
    })

    /** Stops every child in reverse start order and cancels pending restarts. */
    const stopAll = Effect.fnUntraced(function*() {
      for (let i = children.length - 1; i >= 0; i--) {
        const child = children[i]!
        if (child.fiber !== undefined) {
          yield* stopChild(child, "stopped")
        } else if (child.state === "restarting" || child.state === "starting") {
          child.pending = undefined
          child.state = "stopped"
        }
      }
    })

    const escalate = Effect.fnUntraced(function*(
      child: Child<E, R>,
      reason: EscalationReason,
      cause: Cause.Cause<unknown>
    ) {
      const escalation = new SupervisorEscalation({
        supervisor: id,
        child: child.spec.id,
        reason,
        restarts: window.length,
        maxRestarts,
        periodMillis,
        cause: Cause.pretty(cause)
      })
      yield* Effect.logError(escalation.message)
      status = "stopping"
      yield* stopAll()
      child.state = "failed"
      status = "escalated"
      return escalation
    })

    const onChildExit = (event: Extract<Event, { _tag: "Exit" }>): Next<R> => {
      const child = children[event.index]!
      if (event.generation !== child.generation) return undefined
      const now = clock.currentTimeMillisUnsafe()
      const exit = describeExit(event.exit, now)
      child.fiber = undefined
      child.handle = undefined
      child.lastExit = exit
      const abnormal = exit.reason === "Failure" || exit.reason === "Defect"
      const restart = child.restartType === "Permanent" || (child.restartType === "Transient" && abnormal)
      if (!restart) {
        child.state = abnormal ? "failed" : "stopped"
        if (child.restartType === "Temporary") child.removed = true
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
        ? children
        : children.slice(child.index)
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
          if (sibling !== child && sibling.fiber !== undefined) yield* stopChild(sibling, "restarting")
        }
        return yield* orDone(scheduleRestart(group, child, delay))
      })
    }

    const scheduleRestart = (group: ReadonlyArray<Child<E, R>>, child: Child<E, R>, delay: Duration.Duration): Next<R> => {
      const token = ++restartTokens
      for (const member of group) {
        if (member.removed) continue
        if (member.restartType === "Temporary" && member !== child) {
          // OTP: a temporary child stopped by a group restart is not restarted, it is gone.
          member.removed = true
          member.pending = undefined
          member.state = "stopped"
          continue
        }
        member.pending = token
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
      if (count === 1) return startChild(due!, true)
      return Effect.gen(function*() {
        for (const child of children) {
          if (shuttingDown) return
          if (child.pending !== token) continue
          const started = startChild(child, true)
          if (started !== undefined) yield* started
        }
      })
    }

    const loop = Effect.gen(function*() {
      loopContext = yield* Effect.context<R>()
      const loggers = Context.get(loopContext, References.CurrentLoggers).size > 0
      const minimum = Context.get(loopContext, References.MinimumLogLevel)
      logs.warning = loggers && !LogLevel.isGreaterThan(minimum, "Warn")
      logs.debug = loggers && !LogLevel.isGreaterThan(minimum, "Debug")
      for (const child of children) {
        if (shuttingDown) break
        const started = startChild(child, false)
        if (started !== undefined) yield* started
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
        const next = event._tag === "RestartDue" ? onRestartDue(event.token) : onChildExit(event)
        const escalation = next === undefined ? undefined : yield* next
        if (escalation !== undefined) return yield* escalation
        busy = false
      }
      busy = true
      status = "stopping"
      yield* stopAll()
      status = "stopped"
    }).pipe(
      Effect.onExit((exit) => Effect.andThen(Scope.close(timers, Exit.void), Deferred.done(done, exit))),
      Effect.annotateLogs({ supervisor: id })
    )

    const loopFiber = yield* Effect.forkDetach(loop)
    yield* Scope.addFinalizer(
      scope,
      Effect.suspend(() => {
        shuttingDown = true
        Deferred.doneUnsafe(shutdownRequested, Exit.void)
        Queue.offerUnsafe(events, { _tag: "Shutdown" })
        return Fiber.await(loopFiber)
      })
    )
    yield* Deferred.await(started)
    if (parent !== undefined) Deferred.doneUnsafe(parent.ready, Exit.void)

    return {
      id,
      children: Effect.sync(() => children.map(info)),
      await: Deferred.await(done),
      snapshot
    }
  })
