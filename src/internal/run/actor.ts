/**
 * The actor engine behind `Actor.make` and `Actor.spawn`: one actor's state, its incarnations, and the
 * loop that serves its mailbox. The mailbox (`mailbox.ts`) and the metrics (`actorMetrics.ts`) are apart;
 * what the engine needs from the public modules (instantiating the component, dead letters, the host's
 * hooks) is passed in by `Actor.ts`, so nothing here imports a public module's values.
 *
 * State, in one place: `status`, the instance serving now, whether a guest call is in progress (`busy`:
 * a guest suspended on JSPI keeps the actor busy until it settles), the crash that ends the incarnation,
 * and the supervised run (the handle its supervisor gave it).
 *
 * An idle actor answers a `request` in the caller's fiber: with nothing queued and nothing running, the
 * guest call happens at once instead of a round trip through the mailbox and a fiber switch.
 *
 * @internal
 */
import { Cause, Clock, Context, Duration, Effect, Exit, Fiber, Option, References, Scope, Tracer } from "effect"
import type { Audit } from "../../Audit.ts"
import type * as DeadLetters from "../../DeadLetters.ts"
import type { Message } from "../../Instance.ts"
import { ActorCrashed, ActorStopped, MailboxFull, RequestTimeout, type StopReason } from "../actorError.ts"
import type { CallError } from "../componentError.ts"
import type { HostImports } from "../host/hostBridge.ts"
import type { Component } from "../load/component.ts"
import * as ActorMetrics from "./actorMetrics.ts"
// The host's side of an instance: `invokeHandler`, `initNow`, `close`, `usage` beside the public calls.
import type { InstanceInternal as Instance } from "./instance.ts"
import * as Instantiate from "./instantiate.ts"
import { type ChildHandle, CurrentChild, readyUnsafe, type RetireReason } from "./childHandle.ts"
import * as Mailbox from "./mailbox.ts"

/** Documented where `Actor.ts` re-exports it. */
export type Status = "Idle" | "Starting" | "Running" | "Crashed" | "Stopping" | "Stopped"

/** Documented where `Actor.ts` re-exports it. */
export interface Stats {
  readonly id: string
  readonly status: Status
  readonly mailboxDepth: number
  readonly handled: number
  readonly incarnations: number
  readonly traps: number
  /** The last trap's message (what crashed the last incarnation that trapped). */
  readonly lastError?: string
  /** Bytes of linear memory the running in-process instance uses now. */
  readonly memoryBytes?: number
  /** The component's memory cap in bytes, when it has one. */
  readonly memoryCapBytes?: number
  /** Fuel units the running instance's last call used, when the component is metered. */
  readonly fuelUsed?: number
  /** Fuel units each call may use, when the component is metered. */
  readonly fuelPerCall?: number
}

/** The fields of `Actor.SendOptions` / `Actor.RequestOptions` the engine reads. */
export interface Delivery {
  readonly failFast?: boolean | undefined
  readonly sender?: string | undefined
  readonly topic?: string | undefined
  readonly correlationId?: bigint | undefined
  readonly timeout?: Duration.Input | undefined
}

export type RequestError = CallError | RequestTimeout | ActorStopped | MailboxFull

/** What `Actor.ts` hands the engine. */
export interface Config {
  readonly id: string
  readonly component: Component
  /** Host functions the component is linked with; the context holds what they need. */
  readonly hostImports: HostImports<never>
  /** Told of every instantiation (a poisoned instance is audited), when the host audits. */
  readonly audit: Audit["Service"] | undefined
  readonly capacity: number
  /** For the guest's `lifecycle.init`. */
  readonly config: Uint8Array
  /** The actor's context: clock, tracer, metrics and the services its hooks need. */
  readonly context: Context.Context<never>
  readonly deadLetters: DeadLetters.Store
  readonly preStart: (() => Effect.Effect<void, unknown>) | undefined
  readonly postStop: (() => Effect.Effect<void>) | undefined
}

/** One actor: what the public `ActorRef` is made of. */
export interface Core {
  readonly sendNow: (payload: Uint8Array, options?: Delivery) => Effect.Effect<void, MailboxFull | ActorStopped>
  readonly request: (payload: Uint8Array, options?: Delivery) => Effect.Effect<Uint8Array | undefined, RequestError>
  readonly stop: (timeout?: Duration.Input) => Effect.Effect<void>
  readonly restart: Effect.Effect<boolean>
  readonly run: Effect.Effect<void, ActorCrashed, Scope.Scope>
  readonly status: () => Status
  readonly stats: Effect.Effect<Stats>
  /** Ends the actor for good, with its scope (dead-letters what is left). */
  readonly closed: Effect.Effect<void>
}

/**
 * Whether a real tracer (an exporter) is installed: spans cost microseconds each (a guest call's ~6 µs,
 * a spawn's ~30 µs of CPU), so the actor makes them only then.
 */
export const tracerInstalled = (context: Context.Context<never>): boolean =>
  Context.get(context, Tracer.Tracer) !== Tracer.nativeTracer && Context.get(context, References.TracerEnabled)

/** Messages an actor handles in one synchronous run before it lets other fibers in. */
const batchSize = 256
const defaultTimeout = Duration.seconds(5)
const defaultStopTimeout = Duration.seconds(5)

/**
 * A queued message: the message the guest gets, and what the actor keeps with it — one allocation per
 * message. Only the message's fields reach the guest; a copy goes where it leaves the actor (dead letters,
 * a worker).
 */
class Envelope implements Message {
  readonly sender: string
  readonly topic: string | undefined
  readonly correlationId: bigint | undefined
  readonly payload: Uint8Array
  /** Set for requests: completes the requester. */
  reply: ((exit: Exit.Exit<Uint8Array | undefined, RequestError>) => void) | undefined
  /** The requester gave up: the actor dead-letters it instead of handling it. */
  expired = false
  /** For the direct guest call: nobody waits for the reply, so it is checked but not copied out. */
  get replyUnread(): boolean {
    return this.reply === undefined
  }
  constructor(payload: Uint8Array, options: Delivery | undefined, reply: Envelope["reply"]) {
    this.sender = options?.sender ?? "host"
    this.topic = options?.topic
    this.correlationId = options?.correlationId
    this.payload = payload
    this.reply = reply
  }
}

const messageOf = (envelope: Envelope): Message => ({
  sender: envelope.sender,
  topic: envelope.topic,
  correlationId: envelope.correlationId,
  payload: envelope.payload
})

const errorOf = <E>(exit: Exit.Exit<unknown, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

// Stats with what is known only sometimes: the last trap, and the running instance's memory and fuel.
const withUsage = (stats: Stats, component: Component, lastError: string | undefined, instance: Instance | undefined): Stats => {
  const usage = instance?.usage?.()
  const { fuel, memoryBytes } = component.limits
  const out: { -readonly [K in keyof Stats]: Stats[K] } = { ...stats }
  if (lastError !== undefined) out.lastError = lastError
  if (usage !== undefined) out.memoryBytes = usage.memoryBytes
  if (Number.isFinite(memoryBytes)) out.memoryCapBytes = memoryBytes
  if (usage?.fuelUsed !== undefined) out.fuelUsed = usage.fuelUsed
  if (Number.isFinite(fuel)) out.fuelPerCall = fuel
  return out
}

/** A supervised incarnation: the handle it was started with, and what a kill must interrupt. */
interface SupervisedRun {
  readonly handle: ChildHandle
  readonly onKill: Array<() => void>
}

export const make = (config: Config): Effect.Effect<Core> =>
  Effect.map(Mailbox.make<Envelope>(config.capacity), (mailbox) => makeCore(config, mailbox))

const makeCore = (config: Config, mailbox: Mailbox.Mailbox<Envelope>): Core => {
  const { id, component, context, deadLetters } = config
  const clock = Context.get(context, Clock.Clock)
  const metrics = ActorMetrics.make(id, context)
  const tracer = Context.get(context, Tracer.Tracer)
  const tracing = tracerInstalled(context)

  let status: Status = "Idle"
  // Why it is (or is going to be) `Stopped`, for `ActorStopped`; `closedForGood` once its scope closed.
  let stopReason: StopReason = "Stopped"
  let closedForGood = false
  // The supervisor running it (the handle of its latest supervised incarnation), told when it stops itself.
  let owner: ChildHandle | undefined
  let instance: Instance | undefined
  // A guest call is in progress (one suspended on JSPI included): nothing else may call the guest.
  let busy = false
  let crash: ActorCrashed | undefined
  let handled = 0
  // Handled and not yet added to the counter: it is updated once per batch (and before a reply), not
  // per message; the count is exact either way.
  let unrecorded = 0
  let traps = 0
  let lastError: string | undefined
  let incarnations = 0

  const deadLetter = (envelope: Envelope, reason: DeadLetters.Reason, error: string) =>
    deadLetters.offer({ target: id, message: messageOf(envelope), reason, error, at: clock.currentTimeMillisUnsafe() })

  // Errors capture a stack trace when made: make this one only when it is needed.
  const stopped = () => new ActorStopped({ actorId: id, reason: stopReason })
  const startFailed = (message: string) => new ActorCrashed({ actorId: id, reason: "StartFailed", message })

  const recordHandled = () => {
    if (unrecorded === 0) return
    metrics.handled(unrecorded)
    unrecorded = 0
  }

  const traceCall = (wallStart: bigint, elapsed: bigint, exit: Exit.Exit<unknown, unknown>) => {
    const span = tracer.span({
      name: "Actor.handleMessage",
      parent: Option.none(),
      annotations: Context.empty(),
      links: [],
      startTime: wallStart,
      kind: "internal",
      root: false,
      sampled: true
    })
    span.attribute("actor", id)
    span.attribute("component", component.hash)
    span.end(wallStart + elapsed, exit)
  }

  // ---------------------------------------------------------------------------------------------------
  // One guest call

  /**
   * Calls the guest with one message now. Its outcome: whether the incarnation goes on (`false`: the guest
   * trapped), or a promise of that when the guest suspended (JSPI: it waits on `messaging.request`); the
   * actor stays busy, and takes nothing else, until it settles.
   */
  const callGuest = (envelope: Envelope, current: Instance): boolean | Promise<boolean> => {
    busy = true
    const wallStart = tracing ? clock.currentTimeNanosUnsafe() : 0n
    const started = metrics.callStarted()
    const outcome = current.invokeHandler(envelope)
    return outcome instanceof Promise
      ? outcome.then((exit) => complete(envelope, exit, started, wallStart))
      : complete(envelope, outcome, started, wallStart)
  }

  /** A guest call ended: record it, answer its requester; `false` when the guest trapped. */
  const complete = (
    envelope: Envelope,
    exit: Exit.Exit<Uint8Array | undefined, CallError>,
    started: bigint,
    wallStart: bigint
  ): boolean => {
    busy = false
    const error = errorOf(exit)
    const trapped = error !== undefined && error._tag !== "GuestError"
    const elapsed = metrics.callEnded(started)
    if (tracing) traceCall(wallStart, elapsed, exit)
    const reply = envelope.reply
    if (!trapped) {
      handled++
      unrecorded++
    }
    // Its requester may run at once: let it see the counter up to date.
    if (reply !== undefined) {
      recordHandled()
      reply(error === undefined ? exit : Exit.fail(error))
    }
    if (error === undefined) return true
    if (!trapped) {
      if (reply === undefined) deadLetter(envelope, "Rejected", error.message)
      return true
    }
    traps++
    lastError = error.message
    metrics.trapped()
    deadLetter(envelope, "Trapped", error.message)
    crash = new ActorCrashed({
      actorId: id,
      reason: error._tag === "LimitExceeded" ? "LimitExceeded" : "Trap",
      message: error.message
    })
    status = "Crashed"
    return false
  }

  // ---------------------------------------------------------------------------------------------------
  // Sending

  const accepting = () => status !== "Stopping" && status !== "Stopped"

  const admit = (failFast: boolean | undefined): Effect.Effect<void, MailboxFull | ActorStopped> =>
    Effect.suspend(() => {
      if (!accepting()) return Effect.fail(stopped())
      if (mailbox.hasRoom()) return Effect.void
      if (failFast) return Effect.fail(new MailboxFull({ actorId: id, capacity: mailbox.capacity }))
      return Effect.flatMap(mailbox.awaitRoom, () => admit(failFast))
    })

  // Eager when there is room (as `Effect.fnUntracedEager`): the message is queued now and the answer is
  // an `Exit`, which a caller's `yield*` passes without a fiber step. `send` is this, suspended.
  const sendNow = (payload: Uint8Array, options?: Delivery): Effect.Effect<void, MailboxFull | ActorStopped> => {
    if (accepting() && mailbox.hasRoom()) {
      mailbox.offer(new Envelope(payload, options, undefined))
      return Effect.void
    }
    return Effect.flatMap(admit(options?.failFast), () => Effect.sync(() => mailbox.offer(new Envelope(payload, options, undefined))))
  }

  const requestTimeout = (timeout: Duration.Input) =>
    new RequestTimeout({ actorId: id, timeoutMillis: Duration.toMillis(Duration.fromInputUnsafe(timeout)) })

  // Idle (nothing queued, nothing running): the guest call happens here, now; order and one-at-a-time hold.
  const requestNow = (current: Instance, payload: Uint8Array, options: Delivery | undefined) => {
    let result: Exit.Exit<Uint8Array | undefined, RequestError> | undefined
    const envelope = new Envelope(payload, options, (exit) => (result = exit))
    const outcome = callGuest(envelope, current)
    if (outcome instanceof Promise) {
      // The guest suspended: the loop waits for `busy` to clear; wake it when this settles. The caller
      // waits no longer than its timeout (the guest's call runs on, under its own deadline).
      const timeout = options?.timeout ?? defaultTimeout
      const settled = Effect.promise(() => outcome.then(mailbox.wake)).pipe(Effect.flatMap(() => result!))
      return Effect.timeoutOrElse(settled, { duration: timeout, orElse: () => Effect.fail(requestTimeout(timeout)) })
    }
    // A trap: the loop ends the incarnation.
    if (!outcome) mailbox.wake()
    return result!
  }

  const request = (payload: Uint8Array, options?: Delivery): Effect.Effect<Uint8Array | undefined, RequestError> =>
    Effect.suspend(() => {
      if (status === "Running" && !busy && mailbox.size() === 0 && instance !== undefined && !instance.isolated) {
        return requestNow(instance, payload, options)
      }
      const timeout = options?.timeout ?? defaultTimeout
      return Effect.flatMap(admit(options?.failFast), () => {
        const envelope = new Envelope(payload, options, undefined)
        const awaitReply = Effect.callback<Uint8Array | undefined, RequestError>((resume) => {
          envelope.reply = (exit) => {
            envelope.reply = undefined
            resume(exit)
          }
          mailbox.offer(envelope)
          return Effect.sync(() => {
            envelope.expired = true
          })
        })
        return Effect.timeoutOrElse(awaitReply, { duration: timeout, orElse: () => Effect.fail(requestTimeout(timeout)) })
      })
    })

  // ---------------------------------------------------------------------------------------------------
  // Serving

  const publishDepth = Effect.sync(() => metrics.depth(mailbox.size()))

  // A worker-isolated guest answers by message, under its timeout (from Clock).
  const callIsolated = (envelope: Envelope, current: Instance) =>
    Effect.suspend(() => {
      busy = true
      const wallStart = tracing ? clock.currentTimeNanosUnsafe() : 0n
      const started = metrics.callStarted()
      return Effect.map(Effect.exit(current.handleMessage(messageOf(envelope))), (exit) => complete(envelope, exit, started, wallStart))
    })

  const loop = (current: Instance): Effect.Effect<void, ActorCrashed> =>
    Effect.gen(function*() {
      while (true) {
        if (crash !== undefined) {
          recordHandled()
          yield* publishDepth
          return yield* crash
        }
        let envelope = busy ? undefined : mailbox.take()
        if (envelope === undefined) {
          if (status === "Stopping") return
          yield* publishDepth
          yield* mailbox.awaitWork
          continue
        }
        // A batch, synchronously: one fiber step and one release of waiting senders for many messages.
        let batch = 0
        while (envelope !== undefined) {
          let goesOn: boolean | Promise<boolean>
          if (envelope.expired) {
            deadLetter(envelope, "Expired", "the requester gave up before the actor reached it")
            goesOn = true
          } else if (current.isolated) {
            goesOn = yield* callIsolated(envelope, current)
          } else {
            goesOn = callGuest(envelope, current)
            if (goesOn instanceof Promise) goesOn = yield* Effect.promise(() => goesOn as Promise<boolean>)
          }
          if (!goesOn) break
          // A reply may run its requester at once, and an idle-path request in there may crash the instance.
          if (++batch === batchSize || crash !== undefined) break
          envelope = mailbox.take()
        }
        recordHandled()
        mailbox.releaseSenders()
        // Let other fibers in before the next batch; with nothing queued, waiting for work does that.
        if (crash === undefined && mailbox.size() > 0) yield* Effect.yieldNow
      }
    })

  // What the loop does first when there is nothing to do, without the loop: a generator function made
  // per incarnation costs V8 a new map and prototype on its first call (~1.5 µs), which an actor stopped
  // before its first queued message (or serving only idle-path requests) then never pays.
  const idle = Effect.andThen(publishDepth, mailbox.awaitWork)

  const serve = (current: Instance): Effect.Effect<void, ActorCrashed> => {
    let self: Effect.Effect<void, ActorCrashed> = Effect.suspend(() => {
      if (status === "Starting") status = "Running"
      // Serving: the supervisor may start the next sibling (the actor is its `awaitReady` child).
      if (readyHandle !== undefined) {
        readyUnsafe(readyHandle)
        readyHandle = undefined
      }
      instance = current
      return crash === undefined && (busy || mailbox.size() === 0) && status !== "Stopping"
        ? Effect.flatMap(idle, () => loop(current))
        : loop(current)
    })
    const lifecycle = current.lifecycle
    if (lifecycle !== undefined) {
      const serving = self
      self = Effect.suspend(() => {
        // Called now where the instance allows it: a synchronous init's success goes on to serving
        // without the fiber steps of an effect around it.
        const started = lifecycle.initNow !== undefined ? lifecycle.initNow(config.config) : lifecycle.init(config.config)
        if (Exit.isExit(started) && Exit.isSuccess(started)) return serving
        return Effect.andThen(
          Effect.mapError(started, (error) => new ActorCrashed({ actorId: id, reason: "InitFailed", message: error.message })),
          serving
        )
      })
    }
    const preStart = config.preStart
    if (preStart !== undefined) {
      self = Effect.suspend(preStart).pipe(
        Effect.mapError((error) => startFailed(`preStart failed: ${String(error)}`)),
        Effect.andThen(self)
      )
    }
    return self
  }

  // ---------------------------------------------------------------------------------------------------
  // Incarnations

  // The fiber running the current incarnation (a forced stop interrupts it), and who waits for its end.
  let running: Fiber.Fiber<unknown, unknown> | undefined
  let endWaiters: Array<() => void> | undefined
  let currentRun: SupervisedRun | undefined
  let killedRun: SupervisedRun | undefined
  // The handle to tell once this incarnation serves (cleared once told).
  let readyHandle: ChildHandle | undefined

  // No instance to serve with: the incarnation crashed before it began (unless a stop came first).
  const failedToStart = () => {
    if (status === "Starting") status = "Crashed"
  }

  // A worker-isolated instance lives in a scope of its own (its worker), closed when the incarnation ends.
  const acquireIsolated = Effect.suspend(() => {
    const scope = Scope.makeUnsafe()
    return Instantiate.instantiate(component, config.hostImports, config.audit).pipe(
      Scope.provide(scope),
      Effect.provideContext(context),
      Effect.map((current) => [current, scope] as const),
      Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause))),
      Effect.mapError((error) => startFailed(error.message))
    )
  })

  const settleStatus = (exit: Exit.Exit<unknown, unknown>) => {
    if (status === "Stopping") {
      status = "Stopped"
      leftovers("the actor stopped before reaching it")
    } else if (status !== "Stopped") {
      // Stopped by its supervisor to be started again (a group restart): not a crash.
      status = Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? "Idle" : "Crashed"
    }
  }

  const settle = (
    current: Instance,
    scope: Scope.Closeable | undefined,
    exit: Exit.Exit<void, ActorCrashed>,
    run: SupervisedRun | undefined
  ) => {
    // A killed incarnation was settled by the kill (a new one may run by now); only its instance is left.
    if (run === undefined || run !== killedRun) settleStatus(exit)
    if (scope === undefined) {
      current.close()
      return Effect.void
    }
    return Scope.close(scope, exit)
  }

  const awaitKill = (run: SupervisedRun) =>
    Effect.callback<void>((resume) => {
      run.onKill.push(() => resume(Effect.void))
    })

  // After the incarnation, however it ends: the guest's `shutdown` on a graceful stop, the host's
  // `postStop`, then the instance closes. Under a supervisor these hooks give way to a kill.
  const release = (current: Instance, scope: Scope.Closeable | undefined, exit: Exit.Exit<void, ActorCrashed>) =>
    Effect.suspend(() => {
      instance = undefined
      const run = currentRun
      const graceful = status === "Stopping" && !current.poisoned && current.lifecycle !== undefined
      const postStop = config.postStop
      if (!graceful && postStop === undefined) return settle(current, scope, exit, run)
      const hooks = Effect.gen(function*() {
        if (graceful) yield* Effect.ignore(current.lifecycle!.shutdown())
        if (postStop) yield* postStop()
      })
      const guarded = run === undefined ? hooks : Effect.raceFirst(Effect.interruptible(hooks), awaitKill(run))
      return Effect.andThen(guarded, Effect.suspend(() => settle(current, scope, exit, run)))
    })

  // One incarnation: a fresh instance serving the shared mailbox. The instance is taken synchronously
  // (from the warm pool when there is one) and released on any exit, interruption included.
  const incarnation: Effect.Effect<void, ActorCrashed> = Effect.uninterruptibleMask((restore) =>
    Effect.suspend((): Effect.Effect<void, ActorCrashed> => {
      // Once its scope closed, nothing runs it again: say so rather than end at once as if it had run.
      if (closedForGood) return Effect.fail(startFailed("the actor's scope is closed"))
      status = "Starting"
      crash = undefined
      incarnations++
      metrics.incarnation()
      // From the warm pool when there is one; `undefined` when the component runs worker-isolated.
      const current = Instantiate.instantiateUnsafe(component, config.hostImports, context, config.audit)
      if (current === undefined) {
        return Effect.flatMap(Effect.tapError(acquireIsolated, () => Effect.sync(failedToStart)), ([current, scope]) =>
          Effect.onExit(restore(serve(current)), (exit) => release(current, scope, exit)))
      }
      if (Instantiate.isInstantiateError(current)) {
        failedToStart()
        return Effect.fail(startFailed(current.message))
      }
      return Effect.onExit(restore(serve(current)), (exit) => release(current, undefined, exit))
    })
  ).pipe((self) => tracing ? Effect.withSpan(self, "Actor.incarnation", { attributes: { actor: id } }) : self)

  // The end of an incarnation, for whoever waits for it (`stop`), and a new one may start.
  const runEnded = (waiters: Array<() => void>) => {
    if (endWaiters === waiters) {
      endWaiters = undefined
      running = undefined
      currentRun = undefined
    }
    for (const waiter of waiters.splice(0)) waiter()
  }

  // The supervisor gave up waiting for this incarnation to stop: close its instance now (a guest call
  // it would still make fails), abandon its hooks, and count it as ended, whatever its fiber is stuck in.
  const kill = (run: SupervisedRun, waiters: Array<() => void>) =>
    Effect.sync(() => {
      if (currentRun !== run) return
      killedRun = run
      const current = instance
      instance = undefined
      current?.close()
      busy = false
      settleStatus(Exit.interrupt())
      for (const onKill of run.onKill.splice(0)) onKill()
      runEnded(waiters)
    })

  // The supervisor will not start this actor again: it stops for good (gracefully, if an incarnation is
  // still running, which its supervisor is about to stop), and calls to it fail at once.
  const retire = (why: RetireReason) => {
    owner = undefined
    if (status === "Stopped" || status === "Stopping") return
    stopReason = why
    mailbox.releaseAllSenders()
    if (running === undefined) {
      status = "Stopped"
      leftovers("its supervisor will not restart it")
    } else {
      // Its supervisor stops the running incarnation next (gracefully: guest `shutdown`, then `postStop`).
      status = "Stopping"
    }
  }

  // The incarnation runs in the fiber that runs `run` (a supervisor's child, `spawn`'s fiber): no fiber
  // of its own to fork, join and interrupt on every start.
  const run: Effect.Effect<void, ActorCrashed, Scope.Scope> = Effect.withFiber((fiber) => {
    // One incarnation at a time: a second `run` (e.g. a spawned actor handed to a supervisor) is refused.
    if (running !== undefined) {
      return Effect.fail(
        new ActorCrashed({ actorId: id, reason: "AlreadyRunning", message: `actor ${id} is already running an incarnation` })
      )
    }
    running = fiber
    const waiters: Array<() => void> = []
    endWaiters = waiters
    const handle = fiber.getRef(CurrentChild)
    const ended = Effect.sync(() => runEnded(waiters))
    if (handle === undefined) {
      owner = undefined
      currentRun = undefined
      return Effect.onExit(incarnation, () => ended)
    }
    owner = handle
    handle.retire = retire
    readyHandle = handle
    const supervised: SupervisedRun = { handle, onKill: [] }
    currentRun = supervised
    // The supervisor closes the child's scope itself when it kills it; otherwise after the incarnation.
    const scope = Context.getUnsafe(fiber.context as Context.Context<Scope.Scope>, Scope.Scope)
    return Effect.andThen(
      Scope.addFinalizer(scope, kill(supervised, waiters)),
      Effect.onExit(incarnation, () => ended)
    )
  })

  // ---------------------------------------------------------------------------------------------------
  // Stopping

  // Completes when the incarnation running now (if any) has ended and its instance is closed.
  const awaitEnd = Effect.callback<void>((resume) => {
    const waiters = endWaiters
    if (waiters === undefined) return resume(Effect.void)
    const done = () => resume(Effect.void)
    waiters.push(done)
    return Effect.sync(() => {
      const index = waiters.indexOf(done)
      if (index >= 0) waiters.splice(index, 1)
    })
  })

  // Nothing queued is dropped silently: it goes to dead letters, and waiting requesters learn why.
  const leftovers = (why: string) => {
    if (mailbox.size() === 0) return
    for (const envelope of mailbox.drain()) {
      envelope.reply?.(Exit.fail(stopped()))
      deadLetter(envelope, envelope.expired ? "Expired" : "Stopped", why)
    }
  }

  const stop = (timeout?: Duration.Input) =>
    Effect.suspend(() => {
      if (status === "Stopped") return Effect.void
      // Under a supervisor, stopping on purpose is its `terminate_child`: it will not restart the actor.
      owner?.release()
      owner = undefined
      if (status !== "Stopping") stopReason = "Stopped"
      const fiber = running
      status = instance === undefined ? "Stopped" : "Stopping"
      mailbox.releaseAllSenders()
      mailbox.wake()
      if (fiber === undefined || status === "Stopped") return Effect.sync(() => leftovers("the actor stopped"))
      return awaitEnd.pipe(
        Effect.timeoutOrElse({
          duration: timeout ?? defaultStopTimeout,
          orElse: () => Fiber.interrupt(fiber)
        }),
        Effect.andThen(Effect.sync(() => {
          status = "Stopped"
          leftovers("the actor was stopped before reaching it")
        }))
      )
    })

  // A crash asked for: the loop ends the incarnation as it would after a trap.
  const restart = Effect.sync(() => {
    if (status !== "Running" || crash !== undefined) return false
    crash = new ActorCrashed({ actorId: id, reason: "Restarted", message: "restarted on request" })
    status = "Crashed"
    mailbox.wake()
    return true
  })

  const closed = Effect.sync(() => {
    closedForGood = true
    if (status !== "Stopped") stopReason = "ScopeClosed"
    status = "Stopped"
    mailbox.releaseAllSenders()
    leftovers("the actor's scope closed")
    metrics.release()
  })

  return {
    sendNow,
    request,
    stop,
    restart,
    run,
    status: () => status,
    stats: Effect.sync((): Stats => {
      const stats: Stats = { id, status, mailboxDepth: mailbox.size(), handled, incarnations, traps }
      return lastError === undefined && instance?.usage === undefined ? stats : withUsage(stats, component, lastError, instance)
    }),
    closed
  }
}

/**
 * `spawn`'s first incarnation, run by a fiber of its own in `scope`. One finalizer interrupts that fiber,
 * then closes the actor: what `forkScoped`'s finalizer and `make`'s did, in that order, without a second
 * one to register and run.
 */
export const spawnIn = (core: Core, scope: Scope.Scope): Effect.Effect<void, never, Scope.Scope> => {
  let spawnedFiber: Fiber.Fiber<unknown, unknown> | undefined
  const closeSpawned = Effect.withFiber((current) => {
    const fiber = spawnedFiber
    if (fiber === undefined || fiber === current) return core.closed
    fiber.interruptUnsafe(current.id)
    // An idle incarnation has ended by now, its instance released; otherwise wait for it, as
    // `Fiber.interrupt` would.
    return fiber.pollUnsafe() === undefined ? Effect.andThen(Fiber.await(fiber), core.closed) : core.closed
  })
  // Known before `forkDetach` returns (it starts at once), so no interruption can come between.
  const first = Effect.withFiber((fiber) => {
    spawnedFiber = fiber
    // Its own incarnation, not a supervised child's, even when spawned from inside one.
    return Effect.ignore(Effect.provideService(core.run, CurrentChild, undefined))
  })
  return Effect.andThen(
    Scope.addFinalizerExit(scope, () => closeSpawned),
    Effect.asVoid(Effect.forkDetach(first, { startImmediately: true }))
  )
}
