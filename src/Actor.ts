/**
 * A component running as an actor: a host-owned mailbox, one message at a time, lifecycle hooks, and
 * crash semantics made for supervision.
 *
 * The mailbox belongs to the `ActorRef`, not to the instance. An *incarnation* (`ref.run`) instantiates
 * the component, runs the host's `preStart` and the guest's `lifecycle.init`, then handles messages in
 * order until it is stopped or its guest traps. When the guest traps, the message it was handling goes to
 * dead letters, its requester gets the `Trap`, and the incarnation fails with `ActorCrashed`; every other
 * queued message waits in the mailbox for the next incarnation, which a supervisor starts with a fresh
 * instance of the same (cached) component.
 *
 * An idle actor answers a `request` in the caller's fiber: with nothing queued and nothing running, the
 * guest call happens at once instead of a round trip through the mailbox and a fiber switch.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Context, Duration, Effect, Exit, Fiber, Metric, Option, References, Scope, Tracer } from "effect"
import type { SchedulerDispatcher } from "effect/Scheduler"
import { ActorCrashed, ActorStopped, MailboxFull, RequestTimeout, type StopReason } from "./ActorError.ts"
import * as Audit from "./Audit.ts"
import type * as Component from "./Component.ts"
import { type CallError, LinkError, Trap } from "./ComponentError.ts"
import * as DeadLetters from "./DeadLetters.ts"
import type { HostImports } from "./internal/host/hostBridge.ts"
import * as SupervisorEngine from "./internal/run/childHandle.ts"
import type { Message } from "./Instance.ts"
// The host's side of an instance: `invokeHandler`, `initNow`, `close`, `usage` beside the public calls.
import type { InstanceInternal as Instance } from "./internal/run/instance.ts"
import * as Instantiate from "./internal/run/instantiate.ts"
import type * as Supervisor from "./Supervisor.ts"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("airssys-wasm/Actor")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * `Idle` until its first incarnation starts, and between incarnations after its supervisor stopped one
 * to restart it (with its group); `Running` while it serves; `Crashed` between an abnormal exit and the
 * next incarnation; `Stopping` while it drains for a graceful stop; `Stopped` when nothing will run it
 * again: stopped (`ref.stop`), its scope closed, or its supervisor will not restart it. Messages sent to
 * an `Idle` or `Crashed` actor wait for the next incarnation; those sent to a `Stopping` or `Stopped`
 * one fail at once with `ActorStopped`, whose `reason` says why.
 *
 * @since 0.1.0
 * @category models
 */
export type Status = "Idle" | "Starting" | "Running" | "Crashed" | "Stopping" | "Stopped"

/**
 * Host-side lifecycle hooks (the lifecycle half of the dual-trait design; the guest's half is its
 * `lifecycle` export).
 *
 * @since 0.1.0
 * @category models
 */
export interface Hooks<R = never> {
  /** Before each incarnation serves its first message. A failure is a `StartFailed` crash. */
  readonly preStart?: ((actor: ActorRef) => Effect.Effect<void, unknown, R>) | undefined
  /** After each incarnation ends, however it ends. */
  readonly postStop?: ((actor: ActorRef) => Effect.Effect<void, never, R>) | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options<R = never> {
  readonly id: string
  /** Host functions the component is linked with (capability Layers build these). */
  readonly imports?: HostImports<R> | undefined
  readonly mailbox?: {
    /** Default 1024. */
    readonly capacity?: number | undefined
  } | undefined
  /** Passed to the guest's `lifecycle.init` when it exports one. Default: empty. */
  readonly config?: Uint8Array | undefined
  readonly hooks?: Hooks<R> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SendOptions {
  /** Fail with `MailboxFull` instead of waiting for room. */
  readonly failFast?: boolean | undefined
  readonly sender?: string | undefined
  readonly topic?: string | undefined
  /** Handed to the guest as the message's `correlation-id` (the router sets one per request). */
  readonly correlationId?: bigint | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RequestOptions extends SendOptions {
  /** Default 5 seconds. */
  readonly timeout?: Duration.Input | undefined
}

/**
 * What a requester can get back instead of a reply.
 *
 * @since 0.1.0
 * @category models
 */
export type RequestError = CallError | RequestTimeout | ActorStopped | MailboxFull

/**
 * Plain-data view of one actor, for snapshots.
 *
 * @since 0.1.0
 * @category models
 */
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

/**
 * @since 0.1.0
 * @category models
 */
export interface ActorRef {
  readonly [TypeId]: TypeId
  readonly id: string
  readonly component: Component.Component
  /** Fire and forget. Waits for room in a full mailbox unless `failFast`. Lazy, like any effect. */
  send(payload: Uint8Array, options?: SendOptions): Effect.Effect<void, MailboxFull | ActorStopped>
  /**
   * `send`, but eager (as `Effect.fnUntracedEager`): when there is room the message is queued as
   * `sendNow` is called and the effect returned is already complete (an `Exit`: a caller's `yield*` costs
   * no fiber step). For hot paths; running the returned effect again does not send again.
   */
  sendNow(payload: Uint8Array, options?: SendOptions): Effect.Effect<void, MailboxFull | ActorStopped>
  /** Send and wait for the guest's reply (`undefined` when it answers `none`). */
  request(payload: Uint8Array, options?: RequestOptions): Effect.Effect<Uint8Array | undefined, RequestError>
  /**
   * Graceful stop: take no more messages, let the running incarnation handle what is queued, call the
   * guest's `lifecycle.shutdown`. After `timeout` (default 5 s) the incarnation is interrupted and what is
   * left goes to dead letters.
   */
  stop(timeout?: Duration.Input): Effect.Effect<void>
  /**
   * Ends the running incarnation as a crash (`ActorCrashed`, reason `Restarted`) once the message in hand
   * (if any) is handled, so its supervisor starts a fresh instance; queued messages wait for it. Returns
   * `false`, doing nothing, when no incarnation is running.
   */
  readonly restart: Effect.Effect<boolean>
  /**
   * One incarnation: runs until the actor is stopped (success) or crashes (`ActorCrashed`). A supervisor
   * uses it as the child's `start`; each run uses a new instance and the same mailbox.
   */
  readonly run: Effect.Effect<void, ActorCrashed, Scope.Scope>
  readonly status: Status
  readonly stats: Effect.Effect<Stats>
}

const defaultCapacity = 1024
/** Messages an actor handles in one synchronous run before it lets other fibers in. */
const batchSize = 256
const defaultTimeout = Duration.seconds(5)
const defaultStopTimeout = Duration.seconds(5)
const emptyConfig = new Uint8Array()

/**
 * Counters and a histogram per actor, with the component id as the `actor` attribute. Calls handled in
 * one batch are timed together: each is recorded at the batch's mean (count and sum exact), except with a
 * tracer installed, when each call is timed on its own.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics = {
  handled: Metric.counter("airssys_actor_messages_handled_total", { description: "Messages handled by guests", incremental: true }),
  traps: Metric.counter("airssys_actor_traps_total", { description: "Guest traps while handling messages", incremental: true }),
  incarnations: Metric.counter("airssys_actor_incarnations_total", { description: "Actor incarnations started (first start and restarts)", incremental: true }),
  mailboxDepth: Metric.gauge("airssys_actor_mailbox_depth", { description: "Messages waiting in the mailbox" }),
  callDuration: Metric.histogram("airssys_actor_call_duration_seconds", {
    description: "Duration of guest handle-message calls",
    boundaries: Metric.exponentialBoundaries({ start: 1e-6, factor: 4, count: 12 })
  })
}

const callDurationBoundaries = Metric.exponentialBoundaries({ start: 1e-6, factor: 4, count: 12 })

/**
 * One actor's series of `metrics`: the same series as `Metric.withAttributes(metrics.x, { actor })`, made
 * with the attribute instead, so an update does not copy the context (as `withAttributes` does each time).
 */
const makeSeries = (id: string) => {
  const attributes = { actor: id }
  const counter = (metric: Metric.Counter<number>) =>
    Metric.counter(metric.id, { description: metric.description, incremental: true, attributes })
  return {
    handled: counter(metrics.handled),
    traps: counter(metrics.traps),
    incarnations: counter(metrics.incarnations),
    mailboxDepth: Metric.gauge(metrics.mailboxDepth.id, { description: metrics.mailboxDepth.description, attributes }),
    callDuration: Metric.histogram(metrics.callDuration.id, {
      description: metrics.callDuration.description,
      boundaries: callDurationBoundaries,
      attributes
    })
  }
}

type Series = ReturnType<typeof makeSeries>

// Series by actor id, reused by the next actor of the same id (a respawn): each new series computes its
// registry key once (a JSON encoding) on its first update. Bounded: cleared when it grows past the bound.
const seriesCache = new Map<string, Series>()

const seriesOf = (id: string): Series => {
  let series = seriesCache.get(id)
  if (series === undefined) {
    if (seriesCache.size >= 4096) seriesCache.clear()
    series = makeSeries(id)
    seriesCache.set(id, series)
  }
  return series
}

/**
 * How many ids of actors that are gone keep their metric series. An exporter may not have read an actor's
 * last figures when it stops, so its series stay for a while; past this many, the oldest are removed, so a
 * host that spawns actors under ever-new ids does not grow its metric registry without bound.
 *
 * @since 0.1.0
 * @category metrics
 */
export const retainedStoppedSeries = 4096

// Live actors per id (a respawn under the same id shares the series), and the ids whose actors are all
// gone, oldest first, with the context their series were registered in.
const liveActorsById = new Map<string, number>()
const retiredSeries = new Map<string, Context.Context<never>>()

const seriesInUse = (id: string): void => {
  liveActorsById.set(id, (liveActorsById.get(id) ?? 0) + 1)
  retiredSeries.delete(id)
}

const seriesReleased = (id: string, context: Context.Context<never>): void => {
  const live = (liveActorsById.get(id) ?? 1) - 1
  if (live > 0) {
    liveActorsById.set(id, live)
    return
  }
  liveActorsById.delete(id)
  // Only what names the series (its registry and ambient attributes): not the gone actor's whole context.
  retiredSeries.set(
    id,
    Context.make(Metric.MetricRegistry, Context.get(context, Metric.MetricRegistry)).pipe(
      Context.add(Metric.CurrentMetricAttributes, Context.get(context, Metric.CurrentMetricAttributes))
    )
  )
  if (retiredSeries.size <= retainedStoppedSeries) return
  const [oldest, registeredIn] = retiredSeries.entries().next().value!
  retiredSeries.delete(oldest)
  const series = seriesOf(oldest)
  seriesCache.delete(oldest)
  for (const metric of [series.handled, series.traps, series.incarnations, series.mailboxDepth, series.callDuration]) {
    Metric.removeUnsafe(metric as Metric.Metric<number, unknown>, registeredIn)
  }
}

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
  constructor(payload: Uint8Array, options: SendOptions | undefined, reply: Envelope["reply"]) {
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

/** An array-backed FIFO: `shift` is O(1) amortized, unlike `Array.prototype.shift`. */
class Mailbox {
  private items: Array<Envelope | undefined> = []
  private head = 0
  get size(): number {
    return this.items.length - this.head
  }
  push(envelope: Envelope): void {
    this.items.push(envelope)
  }
  shift(): Envelope | undefined {
    if (this.head >= this.items.length) return undefined
    const envelope = this.items[this.head]
    this.items[this.head++] = undefined
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return envelope
  }
  drain(): Array<Envelope> {
    const rest = this.items.slice(this.head).filter((e): e is Envelope => e !== undefined)
    this.items = []
    this.head = 0
    return rest
  }
}

// A class rather than an object literal with a getter, which V8 builds on a slow path, on every spawn.
class Ref implements ActorRef {
  readonly [TypeId]: TypeId = TypeId
  readonly id: string
  readonly component: Component.Component
  readonly send: ActorRef["send"]
  readonly sendNow: ActorRef["sendNow"]
  readonly request: ActorRef["request"]
  readonly stop: ActorRef["stop"]
  readonly run: ActorRef["run"]
  readonly stats: ActorRef["stats"]
  readonly restart: ActorRef["restart"]
  private readonly statusOf: () => Status
  constructor(
    id: string,
    component: Component.Component,
    sendNow: ActorRef["sendNow"],
    request: ActorRef["request"],
    stop: ActorRef["stop"],
    run: ActorRef["run"],
    statusOf: () => Status,
    stats: ActorRef["stats"],
    restart: ActorRef["restart"]
  ) {
    this.id = id
    this.component = component
    this.sendNow = sendNow
    this.send = (payload, options) => Effect.suspend(() => sendNow(payload, options))
    this.request = request
    this.stop = stop
    this.run = run
    this.statusOf = statusOf
    this.stats = stats
    this.restart = restart
  }
  get status(): Status {
    return this.statusOf()
  }
}

// Stats with what is known only sometimes: the last trap, and the running instance's memory and fuel.
const withUsage = (stats: Stats, component: Component.Component, lastError: string | undefined, instance: Instance | undefined): Stats => {
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

const errorOf = <E>(exit: Exit.Exit<unknown, E>): E | undefined =>
  Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause).pipe((o) => (o._tag === "Some" ? o.value : undefined)) : undefined

/**
 * Makes an actor: its ref and mailbox, not yet running. Run it with `ref.run` under a supervisor (see
 * `child`), or use `spawn`. When the scope closes, whatever is still queued goes to dead letters and
 * waiting requesters get `ActorStopped`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <R = never>(
  component: Component.Component,
  options: Options<R>
): Effect.Effect<ActorRef, never, Scope.Scope | R> => makeActor(component, options, false)

// `make`, and with `spawned` also `spawn`'s first incarnation.
const makeActor = <R>(
  component: Component.Component,
  options: Options<R>,
  spawned: boolean
): Effect.Effect<ActorRef, never, Scope.Scope | R> =>
  Effect.contextWith((context: Context.Context<R>) => {
    const deadLetters = Context.get(context, DeadLetters.DeadLetters)
    const clock = Context.get(context, Clock.Clock)
    const audit = Context.getOrUndefined(context, Audit.Audit)
    const id = options.id
    const capacity = options.mailbox?.capacity ?? defaultCapacity
    const series = seriesOf(id)
    seriesInUse(id)
    const handledMetric = series.handled
    const trapsMetric = series.traps
    const incarnationsMetric = series.incarnations
    const depthMetric = series.mailboxDepth

    const mailbox = new Mailbox()
    // Senders waiting for room in a full mailbox, oldest first.
    const waitingSenders: Array<() => void> = []
    let status: Status = "Idle"
    // Why it is (or is going to be) `Stopped`, for `ActorStopped`; `closedForGood` once its scope closed.
    let stopReason: StopReason = "Stopped"
    let closedForGood = false
    // The supervisor running it (the handle of its latest supervised incarnation), told when it stops itself.
    let owner: SupervisorEngine.ChildHandle | undefined
    let instance: Instance | undefined
    let busy = false
    let crash: ActorCrashed | undefined
    let wake: (() => void) | undefined
    // What `sendNow` reads, declared beside `mailbox`, `status` and `wake` (see `wakeTask`).
    let wakeScheduled = false
    let dispatcher: SchedulerDispatcher | undefined
    let handled = 0
    let traps = 0
    let lastError: string | undefined
    let incarnations = 0
    const durationMetric = series.callDuration
    // Metrics are updated synchronously on the hot path: `Metric.update` as an Effect costs ~0.4 µs.
    const metricContext = context as Context.Context<never>
    // A span per guest call costs ~6 µs; only pay it when a real tracer (an exporter) is installed.
    const tracer = Context.get(context, Tracer.Tracer)
    const tracing = tracer !== Tracer.nativeTracer && Context.get(context, References.TracerEnabled)

    const traceCall = (started: bigint, ended: bigint, exit: Exit.Exit<unknown, unknown>) => {
      const span = tracer.span({
        name: "Actor.handleMessage",
        parent: Option.none(),
        annotations: Context.empty(),
        links: [],
        startTime: started,
        kind: "internal",
        root: false,
        sampled: true
      })
      span.attribute("actor", id)
      span.attribute("component", component.hash)
      span.end(ended, exit)
    }

    const deadLetter = (envelope: Envelope, reason: DeadLetters.Reason, error: string) =>
      deadLetters.offer({ target: id, message: messageOf(envelope), reason, error, at: clock.currentTimeMillisUnsafe() })

    // Errors capture a stack trace when made: make this one only when it is needed.
    const stopped = () => new ActorStopped({ actorId: id, reason: stopReason })

    // A clock reading costs about as much as a small guest call, so calls in a batch are timed together:
    // a run of calls since `runStarted` is closed by `flush` with one reading, and each call in it is
    // recorded at the run's mean (the histogram's count and sum stay exact). A run is closed before
    // anything else can run — a reply resumes its requester at once — and at the end of every batch, which
    // also adds the run's handled messages to the counter. With a tracer installed, each call is timed.
    let runStarted = 0n
    let runCalls = 0
    let unflushed = 0
    const flush = () => {
      if (runCalls > 0) {
        const each = Number(clock.currentTimeNanosUnsafe() - runStarted) / 1e9 / runCalls
        for (let i = 0; i < runCalls; i++) durationMetric.updateUnsafe(each, metricContext)
        runCalls = 0
        runStarted = 0n
      }
      if (unflushed > 0) {
        handledMetric.updateUnsafe(unflushed, metricContext)
        unflushed = 0
      }
    }
    /** Where a call in a batch starts: a timed run (undefined) or its own reading. */
    const startCall = (): bigint | undefined => {
      if (tracing) return clock.currentTimeNanosUnsafe()
      if (runCalls === 0) runStarted = clock.currentTimeNanosUnsafe()
      return undefined
    }

    /**
     * Handles one message now. Returns false when the guest trapped (the incarnation must end), or a
     * promise of that when the guest suspended (JSPI: it waits on `messaging.request`); the actor stays
     * busy, and takes nothing else, until it settles. `started` undefined: the call is part of the run.
     */
    const handle = (envelope: Envelope, current: Instance, started: bigint | undefined): boolean | Promise<boolean> => {
      busy = true
      const outcome = current.invokeHandler(envelope)
      return outcome instanceof Promise
        ? outcome.then((exit) => complete(envelope, exit, started))
        : complete(envelope, outcome, started)
    }

    const complete = (
      envelope: Envelope,
      exit: Exit.Exit<Uint8Array | undefined, CallError>,
      started: bigint | undefined
    ): boolean => {
      busy = false
      if (started === undefined) runCalls++
      else {
        const ended = clock.currentTimeNanosUnsafe()
        durationMetric.updateUnsafe(Number(ended - started) / 1e9, metricContext)
        if (tracing) traceCall(started, ended, exit)
      }
      const reply = envelope.reply
      if (Exit.isSuccess(exit)) {
        handled++
        unflushed++
        if (reply !== undefined) {
          flush()
          reply(exit)
        }
        return true
      }
      const error = errorOf(exit)!
      if (error._tag === "GuestError") {
        handled++
        unflushed++
        flush()
        if (reply !== undefined) reply(Exit.fail(error))
        else deadLetter(envelope, "Rejected", error.message)
        return true
      }
      flush()
      reply?.(Exit.fail(error))
      traps++
      lastError = error.message
      trapsMetric.updateUnsafe(1, metricContext)
      deadLetter(envelope, "Trapped", error.message)
      crash = new ActorCrashed({
        actorId: id,
        reason: error._tag === "LimitExceeded" ? "LimitExceeded" : "Trap",
        message: error.message
      })
      status = "Crashed"
      return false
    }

    const publishDepth = Effect.sync(() => depthMetric.updateUnsafe(mailbox.size, metricContext))

    // Once per batch: as many senders waiting for room as there is room for. Each re-checks when it runs;
    // one that resumes at once may fill the mailbox itself (and wait again), so stop when it is full.
    const releaseSenders = () => {
      let room = capacity - mailbox.size
      while (room-- > 0 && waitingSenders.length > 0 && mailbox.size < capacity) waitingSenders.shift()!()
    }

    // An idle actor's fiber keeps what its wait allocated until the next message; with 10,000 actors woken
    // in turn that is 10,000 sets of young objects surviving each scavenge. So the wait allocates no wake
    // function and no canceller of its own: an interrupted wait leaves a stale `resume`, which Effect
    // ignores (a spurious wake-up at most, and the loop looks again).
    let resumeWork: ((effect: Effect.Effect<void>) => void) | undefined
    const wakeNow = () => {
      wake = undefined
      const resume = resumeWork
      resumeWork = undefined
      resume?.(Effect.void)
    }
    const awaitWake = Effect.callback<void>((resume) => {
      resumeWork = resume
      wake = wakeNow
    })

    // A message wakes an idle actor on the scheduler, not inside the sender's call: the actor then takes
    // everything sent to it meanwhile in one batch and one fiber resumption (each costs an async_hooks
    // resource in Effect 4), instead of handling the first message inside `sendNow` and the rest after a
    // `yieldNow`. The task wakes whichever wait is current when it runs (a spurious wake-up only makes the
    // loop look again). Crashes and stops still wake the loop at once.
    const wakeTask = () => {
      wakeScheduled = false
      wake?.()
    }
    // Waits for a message (or a crash or stop), on the waiting fiber's scheduler.
    const awaitWork = Effect.withFiber((fiber) => {
      dispatcher = fiber.currentDispatcher
      return awaitWake
    })
    const enqueue = (envelope: Envelope) => {
      mailbox.push(envelope)
      if (wake !== undefined && !wakeScheduled) {
        wakeScheduled = true
        dispatcher!.scheduleTask(wakeTask, 0)
      }
    }

    const accepting = () => status !== "Stopping" && status !== "Stopped"

    const waitForRoom: Effect.Effect<void, ActorStopped> = Effect.callback<void, ActorStopped>((resume) => {
      const resumeOnce = () => resume(accepting() ? Effect.void : Effect.fail(stopped()))
      waitingSenders.push(resumeOnce)
      return Effect.sync(() => {
        const index = waitingSenders.indexOf(resumeOnce)
        if (index >= 0) waitingSenders.splice(index, 1)
      })
    })

    const admit = (failFast: boolean | undefined): Effect.Effect<void, MailboxFull | ActorStopped> =>
      Effect.suspend(() => {
        if (!accepting()) return Effect.fail(stopped())
        if (mailbox.size < capacity) return Effect.void
        if (failFast) return Effect.fail(new MailboxFull({ actorId: id, capacity }))
        return Effect.flatMap(waitForRoom, () => admit(failFast))
      })

    const sendWhenAdmitted = (payload: Uint8Array, options: SendOptions | undefined) =>
      Effect.flatMap(admit(options?.failFast), () =>
        Effect.sync(() => enqueue(new Envelope(payload, options, undefined))))

    // Eager when there is room (as `Effect.fnUntracedEager`): the message is queued now and the answer is
    // an `Exit`, which a caller's `yield*` passes without a fiber step. `send` is this, suspended.
    const sendNow = (payload: Uint8Array, options?: SendOptions): Effect.Effect<void, MailboxFull | ActorStopped> => {
      // `accepting` and `enqueue`, written out: with 10,000 actors each closure called is one more object
      // (likely a cache miss) per message.
      if (mailbox.size < capacity && status !== "Stopping" && status !== "Stopped") {
        mailbox.push(new Envelope(payload, options, undefined))
        if (wake !== undefined && !wakeScheduled) {
          wakeScheduled = true
          dispatcher!.scheduleTask(wakeTask, 0)
        }
        return Effect.void
      }
      return sendWhenAdmitted(payload, options)
    }

    const requestTimeout = (timeout: Duration.Input) =>
      new RequestTimeout({ actorId: id, timeoutMillis: Duration.toMillis(Duration.fromInputUnsafe(timeout)) })

    const request = (payload: Uint8Array, options?: RequestOptions): Effect.Effect<Uint8Array | undefined, RequestError> =>
      Effect.suspend(() => {
        // Idle: nothing queued, nothing running. Handle it here, now; order and one-at-a-time still hold.
        if (status === "Running" && !busy && mailbox.size === 0 && instance !== undefined && !instance.isolated) {
          let result: Exit.Exit<Uint8Array | undefined, RequestError> | undefined
          const envelope = new Envelope(payload, options, (exit) => (result = exit))
          const handled = handle(envelope, instance, clock.currentTimeNanosUnsafe())
          if (handled instanceof Promise) {
            // The guest suspended: the loop waits for `busy` to clear; wake it when this settles. The
            // caller waits no longer than its timeout (the guest's call runs on, under its own deadline).
            const settled = Effect.promise(() => handled.then(() => wake?.())).pipe(Effect.flatMap(() => result!))
            return Effect.timeoutOrElse(settled, {
              duration: options?.timeout ?? defaultTimeout,
              orElse: () => Effect.fail(requestTimeout(options?.timeout ?? defaultTimeout))
            })
          }
          if (!handled) wake?.()
          return result!
        }
        const timeout = options?.timeout ?? defaultTimeout
        return Effect.flatMap(admit(options?.failFast), () => {
          const envelope = new Envelope(payload, options, undefined)
          const awaitReply = Effect.callback<Uint8Array | undefined, RequestError>((resume) => {
            envelope.reply = (exit) => {
              envelope.reply = undefined
              resume(exit)
            }
            enqueue(envelope)
            return Effect.sync(() => {
              envelope.expired = true
            })
          })
          return Effect.timeoutOrElse(awaitReply, { duration: timeout, orElse: () => Effect.fail(requestTimeout(timeout)) })
        })
      })

    const loop = (current: Instance): Effect.Effect<void, ActorCrashed> =>
      Effect.gen(function*() {
        while (true) {
          if (crash !== undefined) {
            flush()
            yield* publishDepth
            return yield* crash
          }
          let envelope = busy ? undefined : mailbox.shift()
          if (envelope === undefined) {
            if (status === "Stopping") return
            yield* publishDepth
            yield* awaitWork
            continue
          }
          // Drain a batch synchronously: one fiber step, one metrics update and one release of waiting
          // senders for many messages.
          let batch = 0
          while (envelope !== undefined) {
            if (envelope.expired) {
              flush()
              deadLetter(envelope, "Expired", "the requester gave up before the actor reached it")
            } else if (current.isolated) {
              // A worker-isolated guest answers by message, under its timeout (from Clock).
              flush()
              busy = true
              const started = clock.currentTimeNanosUnsafe()
              const exit = yield* Effect.exit(current.handleMessage(messageOf(envelope)))
              if (!complete(envelope, exit, started)) break
            } else {
              let handled = handle(envelope, current, startCall())
              // The guest suspended: its call (and the run it ends) is timed when it settles.
              if (handled instanceof Promise) handled = yield* Effect.promise(() => handled as Promise<boolean>)
              if (!handled) break
            }
            // A reply may run its requester at once, and an idle-path request in there may crash the instance.
            if (++batch === batchSize || crash !== undefined) break
            envelope = mailbox.shift()
          }
          flush()
          releaseSenders()
          // Let other fibers in before the next batch; with nothing queued, waiting for work does that.
          if (crash === undefined && mailbox.size > 0) yield* Effect.yieldNow
        }
      })

    // The fiber running the current incarnation (a forced stop interrupts it), and who waits for its end.
    let running: Fiber.Fiber<unknown, unknown> | undefined
    let endWaiters: Array<() => void> | undefined
    const hostImports = options.imports ?? {}

    const startFailed = (message: string) => new ActorCrashed({ actorId: id, reason: "StartFailed", message })
    // No instance to serve with: the incarnation crashed before it began (unless a stop came first).
    const failedToStart = () => {
      if (status === "Starting") status = "Crashed"
    }

    // A worker-isolated instance lives in a scope of its own (its worker), closed when the incarnation ends.
    const acquireIsolated = Effect.suspend(() => {
      const scope = Scope.makeUnsafe()
      return Instantiate.instantiate(component, options.imports ?? {}, audit).pipe(
        Scope.provide(scope),
        Effect.provideContext(context),
        Effect.map((current) => [current, scope] as const),
        Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause))),
        Effect.mapError((error) => startFailed(error.message))
      )
    })

    // What the loop does first when there is nothing to do, without the loop: a generator function made
    // per incarnation costs V8 a new map and prototype on its first call (~1.5 µs), which an actor stopped
    // before its first queued message (or serving only idle-path requests) then never pays.
    const idle = Effect.andThen(publishDepth, awaitWork)

    const serve = (current: Instance): Effect.Effect<void, ActorCrashed> => {
      let self: Effect.Effect<void, ActorCrashed> = Effect.suspend(() => {
        if (status === "Starting") status = "Running"
        // Serving: the supervisor may start the next sibling (the actor is its `awaitReady` child).
        if (readyHandle !== undefined) {
          SupervisorEngine.readyUnsafe(readyHandle)
          readyHandle = undefined
        }
        instance = current
        return crash === undefined && (busy || mailbox.size === 0) && status !== "Stopping"
          ? Effect.flatMap(idle, () => loop(current))
          : loop(current)
      })
      const lifecycle = current.lifecycle
      if (lifecycle !== undefined) {
        const serving = self
        const config = options.config ?? emptyConfig
        self = Effect.suspend(() => {
          // Called now where the instance allows it: a synchronous init's success goes on to serving
          // without the fiber steps of an effect around it.
          const started = lifecycle.initNow !== undefined ? lifecycle.initNow(config) : lifecycle.init(config)
          if (Exit.isExit(started) && Exit.isSuccess(started)) return serving
          return Effect.andThen(
            Effect.mapError(started, (error) => new ActorCrashed({ actorId: id, reason: "InitFailed", message: error.message })),
            serving
          )
        })
      }
      const preStart = options.hooks?.preStart
      if (preStart) {
        self = Effect.suspend(() => Effect.provideContext(preStart(ref), context)).pipe(
          Effect.mapError((error) => startFailed(`preStart failed: ${String(error)}`)),
          Effect.andThen(self)
        )
      }
      return self
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

    const settleStatus = (exit: Exit.Exit<unknown, unknown>) => {
      if (status === "Stopping") {
        status = "Stopped"
        leftovers("the actor stopped before reaching it")
      } else if (status !== "Stopped") {
        // Stopped by its supervisor to be started again (a group restart): not a crash.
        status = Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? "Idle" : "Crashed"
      }
    }

    // After the incarnation, however it ends: the guest's `shutdown` on a graceful stop, the host's
    // `postStop`, then the instance closes. Under a supervisor these hooks give way to a kill.
    const release = (current: Instance, scope: Scope.Closeable | undefined, exit: Exit.Exit<void, ActorCrashed>) =>
      Effect.suspend(() => {
        instance = undefined
        const run = thisRun()
        const graceful = status === "Stopping" && !current.poisoned && current.lifecycle !== undefined
        const postStop = options.hooks?.postStop
        if (!graceful && postStop === undefined) return settle(current, scope, exit, run)
        const hooks = Effect.gen(function*() {
          if (graceful) yield* Effect.ignore(current.lifecycle!.shutdown())
          if (postStop) yield* Effect.provideContext(postStop(ref), context)
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
        incarnationsMetric.updateUnsafe(1, metricContext)
        const current = Instantiate.instantiateUnsafe(component, hostImports, context, audit)
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

    // A supervised incarnation: the handle it was started with, and what a kill must interrupt.
    interface SupervisedRun {
      readonly handle: SupervisorEngine.ChildHandle
      readonly onKill: Array<() => void>
    }
    let currentRun: SupervisedRun | undefined
    let killedRun: SupervisedRun | undefined
    // The handle to tell once this incarnation serves (cleared once told).
    let readyHandle: SupervisorEngine.ChildHandle | undefined
    const thisRun = () => currentRun

    // The end of an incarnation, for whoever waits for it (`stop`), and a new one may start.
    const runEnded = (waiters: Array<() => void>) => {
      if (endWaiters === waiters) {
        endWaiters = undefined
        running = undefined
        currentRun = undefined
      }
      for (const waiter of waiters.splice(0)) waiter()
    }

    const awaitKill = (run: SupervisedRun) =>
      Effect.callback<void>((resume) => {
        run.onKill.push(() => resume(Effect.void))
      })

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
    const retire = (why: SupervisorEngine.RetireReason) => {
      owner = undefined
      if (status === "Stopped" || status === "Stopping") return
      stopReason = why
      for (const waiting of waitingSenders.splice(0)) waiting()
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
      const handle = fiber.getRef(SupervisorEngine.CurrentChild)
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

    const stop = (timeout?: Duration.Input) =>
      Effect.suspend(() => {
        if (status === "Stopped") return Effect.void
        // Under a supervisor, stopping on purpose is its `terminate_child`: it will not restart the actor.
        owner?.release()
        owner = undefined
        if (status !== "Stopping") stopReason = "Stopped"
        const fiber = running
        status = instance === undefined ? "Stopped" : "Stopping"
        for (const waiting of waitingSenders.splice(0)) waiting()
        wake?.()
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

    // Nothing queued is dropped silently: it goes to dead letters, and waiting requesters learn why.
    const leftovers = (why: string) => {
      if (mailbox.size === 0) return
      for (const envelope of mailbox.drain()) {
        envelope.reply?.(Exit.fail(stopped()))
        deadLetter(envelope, envelope.expired ? "Expired" : "Stopped", why)
      }
    }

    // A crash asked for: the loop ends the incarnation as it would after a trap.
    const restart = Effect.sync(() => {
      if (status !== "Running" || crash !== undefined) return false
      crash = new ActorCrashed({ actorId: id, reason: "Restarted", message: "restarted on request" })
      status = "Crashed"
      wake?.()
      return true
    })

    const ref: ActorRef = new Ref(
      id,
      component,
      sendNow,
      request,
      stop,
      run,
      () => status,
      Effect.sync((): Stats => {
        const stats: Stats = { id, status, mailboxDepth: mailbox.size, handled, incarnations, traps }
        return lastError === undefined && instance?.usage === undefined ? stats : withUsage(stats, component, lastError, instance)
      }),
      restart
    )

    const closed = Effect.sync(() => {
      closedForGood = true
      if (status !== "Stopped") stopReason = "ScopeClosed"
      status = "Stopped"
      if (waitingSenders.length > 0) for (const waiting of waitingSenders.splice(0)) waiting()
      leftovers("the actor's scope closed")
      seriesReleased(id, metricContext)
    })
    // Straight on the scope: the finalizers need nothing from the context they run in.
    const scope = Context.get(context as Context.Context<Scope.Scope>, Scope.Scope)
    if (!spawned) return Effect.as(Scope.addFinalizerExit(scope, () => closed), ref)

    // `spawn`: a fiber runs the first incarnation. One finalizer interrupts it, then closes the actor: what
    // `forkScoped`'s finalizer and `make`'s did, in that order, without a second one to register and run.
    let spawnedFiber: Fiber.Fiber<unknown, unknown> | undefined
    const closeSpawned = Effect.withFiber((current) => {
      const fiber = spawnedFiber
      if (fiber === undefined || fiber === current) return closed
      fiber.interruptUnsafe(current.id)
      // An idle incarnation has ended by now, its instance released; otherwise wait for it, as
      // `Fiber.interrupt` would.
      return fiber.pollUnsafe() === undefined ? Effect.andThen(Fiber.await(fiber), closed) : closed
    })
    // Known before `forkDetach` returns (it starts at once), so no interruption can come between.
    const first = Effect.withFiber((fiber) => {
      spawnedFiber = fiber
      // Its own incarnation, not a supervised child's, even when spawned from inside one.
      return Effect.ignore(Effect.provideService(run, SupervisorEngine.CurrentChild, undefined))
    })
    return Effect.andThen(
      Scope.addFinalizerExit(scope, () => closeSpawned),
      Effect.as(Effect.forkDetach(first, { startImmediately: true }), ref)
    )
  })

/**
 * Makes an actor and runs one incarnation of it in the scope, without a supervisor: if its guest traps,
 * it stays `Crashed` (messages keep waiting) until something runs `ref.run` again.
 *
 * @since 0.1.0
 * @category constructors
 */
export const spawn = <R = never>(
  component: Component.Component,
  options: Options<R>
): Effect.Effect<ActorRef, never, Scope.Scope | R> => makeActor(component, options, true)

/**
 * The actor as a supervisor's child: each (re)start is a new incarnation — a fresh instance of the cached
 * component — serving the same mailbox. Snapshots show its status, mailbox depth and counts.
 *
 * - `id`: the child's id in its supervisor; default the actor's id.
 * - `awaitReady`: default `true`: the supervisor starts the next sibling (and `Supervisor.start` returns)
 *   once this actor serves, and an actor that cannot start (link error, failing `init` or `preStart`)
 *   fails `Supervisor.start` with `FailedToStartChild`. `false`: it counts as running once its fiber runs.
 *
 * `ref.stop()` on a supervised actor is its supervisor's `terminateChild`: it is not restarted. When its
 * supervisor will not start it again (a `Temporary` or `Transient` exit, `terminateChild`, the supervisor
 * stopped), the actor is `Stopped` and calls to it fail at once with `ActorStopped`. An actor runs one
 * incarnation at a time: a ref already running one (e.g. from `spawn`) fails to start as a child with
 * `ActorCrashed` (`AlreadyRunning`), rather than serving its mailbox twice.
 *
 * @since 0.1.0
 * @category constructors
 */
export const child = (
  ref: ActorRef,
  options?: {
    readonly id?: string | undefined
    readonly restart?: Supervisor.RestartType | undefined
    readonly shutdownTimeout?: Duration.Input | undefined
    readonly awaitReady?: boolean | undefined
  }
): Supervisor.ChildSpec<ActorCrashed> => ({
  id: options?.id ?? ref.id,
  start: ref.run,
  restart: options?.restart,
  shutdownTimeout: options?.shutdownTimeout,
  awaitReady: options?.awaitReady ?? true,
  inspect: Effect.map(ref.stats, (stats) => ({ ...stats }))
})
