/**
 * The supervisor engine behind `Supervisor.start` / `Supervisor.run`.
 *
 * One control-loop fiber owns all mutable state and handles one event at a time: a child exited, a
 * backoff delay elapsed, or shutdown was requested. Children are detached fibers that report their exit
 * (tagged with a generation, so the exits of children the supervisor stopped itself are ignored). Backoff
 * delays are timer fibers forked from the loop, so the loop stays responsive while children wait.
 *
 * @internal
 */
import { Cause, Clock, Context, Deferred, Duration, Effect, Exit, Fiber, Metric, Option, Pull, Queue, Schedule, Scope } from "effect"
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

    const events = yield* Queue.unbounded<Event>()
    const started = yield* Deferred.make<void>()
    const shutdownRequested = yield* Deferred.make<void>()
    const done = yield* Deferred.make<void, SupervisorEscalation>()

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

    const startChild = Effect.fnUntraced(function*(child: Child<E, R>, isRestart: boolean) {
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
      child.startedAt = yield* Clock.currentTimeMillis
      if (isRestart) {
        child.restartCount++
        yield* Metric.update(child.restarts, 1)
      }
      const fiber = yield* child.spec.start.pipe(
        Scope.provide(childScope),
        Effect.provideService(CurrentChild, handle),
        Effect.onExit((exit) =>
          Effect.andThen(
            Scope.close(childScope, exit),
            Effect.sync(() => {
              Deferred.doneUnsafe(handle.ready, Exit.void)
              Queue.offerUnsafe(events, { _tag: "Exit", index: child.index, generation, exit })
            })
          )
        ),
        Effect.forkDetach({ startImmediately: true })
      )
      child.fiber = fiber
      if (handle.awaitReady) {
        yield* Effect.raceFirst(Deferred.await(handle.ready), Deferred.await(shutdownRequested))
      }
      if (child.generation === generation && fiber.pollUnsafe() === undefined) child.state = "running"
    })

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
          child.lastExit = describeExit(exited, yield* Clock.currentTimeMillis)
        } else {
          const timeout = child.shutdownTimeout ?? (isSupervisor ? undefined : defaultShutdownTimeout)
          const stopped = timeout === undefined
            ? yield* Effect.asSome(Fiber.interrupt(fiber))
            : yield* Effect.timeoutOption(Fiber.interrupt(fiber), timeout)
          child.lastExit = { reason: Option.isSome(stopped) ? "Shutdown" : "Killed", at: yield* Clock.currentTimeMillis }
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

    const onChildExit = Effect.fnUntraced(function*(
      event: Extract<Event, { _tag: "Exit" }>
    ): Effect.fn.Return<SupervisorEscalation | undefined, never, R> {
      const child = children[event.index]!
      if (event.generation !== child.generation) return undefined
      const now = yield* Clock.currentTimeMillis
      const exit = describeExit(event.exit, now)
      child.fiber = undefined
      child.handle = undefined
      child.lastExit = exit
      const abnormal = exit.reason === "Failure" || exit.reason === "Defect"
      const restart = child.restartType === "Permanent" || (child.restartType === "Transient" && abnormal)
      if (!restart) {
        child.state = abnormal ? "failed" : "stopped"
        if (child.restartType === "Temporary") child.removed = true
        yield* Effect.logDebug(`child ${child.spec.id} exited (${exit.reason}), not restarted`)
        return undefined
      }
      const cause = Exit.isFailure(event.exit) ? event.exit.cause : Cause.empty

      // Restart times are appended as they happen, so the expired ones are at the front: drop those rather
      // than copy the whole window (up to `maxRestarts` long) on every restart.
      let expired = 0
      while (expired < window.length && now - window[expired]! > periodMillis) expired++
      if (expired > 0) window.splice(0, expired)
      window.push(now)
      if (window.length > maxRestarts) return yield* escalate(child, "Intensity", cause)

      if (child.backoff === undefined || now - child.startedAt >= periodMillis) {
        child.backoff = yield* Schedule.toStep(backoff)
      }
      const delay = yield* Pull.matchEffect(child.backoff(now, exit), {
        onSuccess: ([, delay]) => Effect.succeed(Option.some(delay)),
        onFailure: Effect.failCause,
        onDone: () => Effect.succeed(Option.none<Duration.Duration>())
      })
      if (Option.isNone(delay)) return yield* escalate(child, "BackoffExhausted", cause)

      const group = strategy === "OneForOne"
        ? [child]
        : strategy === "OneForAll"
        ? children
        : children.slice(child.index)
      yield* Effect.logWarning(
        `child ${child.spec.id} exited (${exit.reason}${exit.message === undefined ? "" : `: ${exit.message}`}), ` +
          `restarting ${group.map((c) => c.spec.id).join(", ")} in ${Duration.format(delay.value)}`
      )
      child.state = "restarting"
      for (let i = group.length - 1; i >= 0; i--) {
        const sibling = group[i]!
        if (sibling !== child && sibling.fiber !== undefined) yield* stopChild(sibling, "restarting")
      }
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
      if (Duration.isZero(delay.value)) {
        // Nothing to wait for: restart now rather than after a timer fiber's round trip through the queue.
        yield* onRestartDue(token)
        return undefined
      }
      yield* Effect.forkChild(
        Effect.andThen(
          Effect.sleep(delay.value),
          Effect.sync(() => Queue.offerUnsafe(events, { _tag: "RestartDue", token }))
        ),
        { startImmediately: true }
      )
      return undefined
    })

    const onRestartDue = Effect.fnUntraced(function*(token: number) {
      for (const child of children) {
        if (shuttingDown) return
        if (child.pending === token) yield* startChild(child, true)
      }
    })

    const loop = Effect.gen(function*() {
      for (const child of children) {
        if (shuttingDown) break
        yield* startChild(child, false)
      }
      if (!shuttingDown) status = "running"
      Deferred.doneUnsafe(started, Exit.void)
      while (!shuttingDown) {
        const event = yield* Queue.take(events)
        if (shuttingDown || event._tag === "Shutdown") break
        if (event._tag === "RestartDue") {
          yield* onRestartDue(event.token)
          continue
        }
        const escalation = yield* onChildExit(event)
        if (escalation !== undefined) return yield* escalation
      }
      status = "stopping"
      yield* stopAll()
      status = "stopped"
    }).pipe(
      Effect.onExit((exit) => Deferred.done(done, exit)),
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
