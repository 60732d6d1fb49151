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
 * The engine is in `internal/run/actor.ts`, its mailbox in `internal/run/mailbox.ts` and its metrics in
 * `internal/run/actorMetrics.ts`.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Metric, Scope } from "effect"
import type { ActorCrashed, ActorStopped, MailboxFull } from "./ActorError.ts"
import * as Audit from "./Audit.ts"
import type * as Component from "./Component.ts"
import * as DeadLetters from "./DeadLetters.ts"
import type { HostImports } from "./internal/host/hostBridge.ts"
import * as internal from "./internal/run/actor.ts"
import * as internalMetrics from "./internal/run/actorMetrics.ts"
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
export type Status = internal.Status

/**
 * The host's lifecycle hooks, beside the guest's own `lifecycle` export (`init`, `shutdown`).
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
export type RequestError = internal.RequestError

/**
 * Plain-data view of one actor, for snapshots: its status, mailbox depth, messages handled, incarnations
 * and traps; when known, the last trap's message, the running instance's memory (and the cap) and the fuel
 * its last call used (and the allowance per call).
 *
 * @since 0.1.0
 * @category models
 */
export type Stats = internal.Stats

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
const emptyConfig = new Uint8Array()

/**
 * Counters and a histogram per actor, with the component id as the `actor` attribute. Each guest call is
 * timed on its own.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metrics: {
  readonly handled: Metric.Counter<number>
  readonly traps: Metric.Counter<number>
  readonly incarnations: Metric.Counter<number>
  readonly mailboxDepth: Metric.Gauge<number>
  readonly callDuration: Metric.Histogram<number>
} = internalMetrics.metrics

/**
 * How many ids of actors that are gone keep their metric series. An exporter may not have read an actor's
 * last figures when it stops, so its series stay for a while; past this many, the oldest are removed, so a
 * host that spawns actors under ever-new ids does not grow its metric registry without bound.
 *
 * @since 0.1.0
 * @category metrics
 */
export const retainedStoppedSeries: number = internalMetrics.retainedStoppedSeries

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
  constructor(id: string, component: Component.Component, core: internal.Core) {
    const sendNow = core.sendNow
    this.id = id
    this.component = component
    this.sendNow = sendNow
    this.send = (payload, options) => Effect.suspend(() => sendNow(payload, options))
    this.request = core.request
    this.stop = core.stop
    this.run = core.run
    this.statusOf = core.status
    this.stats = core.stats
    this.restart = core.restart
  }
  get status(): Status {
    return this.statusOf()
  }
}

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
  Effect.contextWith((context: Context.Context<R | Scope.Scope>) => {
    const hooks = options.hooks
    // The ref is made from the engine, and the hooks are handed the ref: they read it when they run.
    let ref: ActorRef | undefined
    const preStart = hooks?.preStart
    const postStop = hooks?.postStop
    return Effect.map(
      internal.make({
        id: options.id,
        component,
        // What the host functions need is in `context`.
        hostImports: (options.imports ?? {}) as HostImports<never>,
        audit: Context.getOrUndefined(context, Audit.Audit),
        capacity: options.mailbox?.capacity ?? defaultCapacity,
        config: options.config ?? emptyConfig,
        context: context as Context.Context<never>,
        deadLetters: Context.get(context, DeadLetters.DeadLetters),
        preStart: preStart && (() => Effect.provideContext(preStart(ref!), context)),
        postStop: postStop && (() => Effect.provideContext(postStop(ref!), context))
      }),
      (core) => {
        ref = new Ref(options.id, component, core)
        const scope = Context.get(context, Scope.Scope)
        // Straight on the scope: the finalizers need nothing from the context they run in.
        return spawned
          ? Effect.as(internal.spawnIn(core, scope), ref)
          : Effect.as(Scope.addFinalizerExit(scope, () => core.closed), ref)
      }
    ).pipe(Effect.flatten)
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
): Effect.Effect<ActorRef, never, Scope.Scope | R> =>
  Effect.contextWith((context: Context.Context<never>) => {
    const spawned = makeActor(component, options, true)
    // Made only with a real tracer, like the actor's other spans: a span costs more than the rest of a
    // warm spawn (bench row "actor: Actor.spawn, warm pool": ~30 µs of CPU more with `Effect.fn`).
    return internal.tracerInstalled(context)
      ? Effect.withSpan(spawned, "Actor.spawn", { attributes: { actor: options.id } })
      : spawned
  })

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
