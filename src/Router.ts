/**
 * Messages between actors, and from the host to actors: `send` (fire and forget), `request` (reply or
 * timeout), `publish` / `subscribe` on topics, and dead letters for what cannot be delivered.
 *
 * Every message passes three guards, in this order, each a typed error returned to the sender:
 *
 * 1. size: a payload over `maxPayloadBytes` (default 1 MiB) is `PayloadTooLarge`;
 * 2. rate: each sender has a token bucket (default 1000 messages per second, bursts of as many) refilled
 *    from `Clock`, so `TestClock` drives it; an empty bucket is `RateLimited`;
 * 3. authorization: the sender's `Messaging` grants (given when it was registered, see
 *    `Registry.register`) must match the address it wrote (an id, `name@version` or `name`) or the topic;
 *    otherwise `CapabilityDenied`, recorded in the `Audit` (the router requires one: a denial is never
 *    silent). An unregistered sender has no grants.
 *
 * The host (sender `"host"`) is trusted: only the size guard applies to it.
 *
 * Targets are resolved through the `Registry` when each message is sent, so a route switch applies to
 * the next message while messages already queued stay with the version that has them. A message to an
 * address nobody holds goes to `DeadLetters` with reason `UnknownTarget` (a `request` also fails with
 * `UnknownTarget`); messages an actor cannot handle (trapped, expired, stopped) go there from the actor.
 *
 * Topic delivery is a plain loop over the topic's subscribers in subscription order (each gets
 * `ref.send(payload, { sender, topic })`), waiting for room in a full mailbox rather than dropping —
 * unless `failFast` is asked for (a guest's host call cannot wait): then a full subscriber's copy goes to
 * dead letters (`Rejected`), and a full target of `send` is `MailboxFull`.
 *
 * In a cluster (see `Cluster`), an address no actor of this process holds goes to the cluster instead:
 * a `send` is handed over at once (what cannot be delivered goes to dead letters on the way), a
 * `request` waits for the remote actor's reply, and may also fail with `ClusterError`. Local actors stay
 * local: they are always tried first. Subscriptions are recorded cluster-wide too, and a `publish`
 * reaches this process's subscribers as above, then hands a copy to each subscriber elsewhere.
 *
 * A message addressed by name follows the route even in a switch: when the actor it was handed to refuses
 * it because it is stopping (it was waiting for room in a version that a blue-green switch retired), it
 * goes to the name's current route. Messages addressed by id or `name@version` mean that actor only.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Config, Context, Duration, Effect, Exit, Layer, Option, Schema, type Scope, Stream } from "effect"
import type * as Actor from "./Actor.ts"
import type { ActorStopped, MailboxFull } from "./ActorError.ts"
import * as Audit from "./Audit.ts"
import * as Capability from "./Capability.ts"
import * as DeadLetters from "./DeadLetters.ts"
import type { Message } from "./Instance.ts"
import type { ClusterError } from "./internal/cluster/clusterError.ts"
import { RemoteDelivery } from "./internal/cluster/remoteDelivery.ts"
import * as Live from "./internal/run/registryLive.ts"
import * as Bucket from "./internal/run/routerTokenBucket.ts"
import * as Registry from "./Registry.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Largest payload accepted, in bytes. Default 1 MiB. */
  readonly maxPayloadBytes?: number | undefined
  /** Per-sender token bucket. Default 1000 messages per second, `burst` = `perSecond`. */
  readonly rateLimit?: {
    readonly perSecond: number
    readonly burst?: number | undefined
  } | undefined
  /** Default timeout of `request`. Default 5 seconds. */
  readonly requestTimeout?: Duration.Input | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface DeliveryOptions {
  /**
   * Fail with `MailboxFull` (or, for a topic subscriber, dead-letter the copy) instead of waiting for room
   * in a full mailbox. A guest's `send` and `publish` use it: a synchronous host call cannot wait.
   */
  readonly failFast?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RequestOptions {
  readonly timeout?: Duration.Input | undefined
}

/**
 * The default payload limit: 1 MiB.
 *
 * @since 0.1.0
 * @category models
 */
export const defaultMaxPayloadBytes = 1024 * 1024

/**
 * The default rate limit per sender: 1000 messages per second.
 *
 * @since 0.1.0
 * @category models
 */
export const defaultRatePerSecond = 1000

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * The payload is larger than the router accepts.
 *
 * @since 0.1.0
 * @category errors
 */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  sender: Schema.String,
  target: Schema.String,
  size: Schema.Number,
  limit: Schema.Number
}) {
  override get message(): string {
    return `payload from ${this.sender} to ${this.target} is ${this.size} bytes, over the limit of ${this.limit}`
  }
}

/**
 * The sender's token bucket is empty.
 *
 * @since 0.1.0
 * @category errors
 */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  sender: Schema.String,
  perSecond: Schema.Number,
  retryAfterMillis: Schema.Number
}) {
  override get message(): string {
    return `${this.sender} is over its rate limit of ${this.perSecond} messages per second; retry in ${this.retryAfterMillis} ms`
  }
}

/**
 * The sender's `Messaging` grants do not cover the target or topic: `Capability.CapabilityDenied`, with
 * `component` the sender, `resource` the address and `detail` `target` or `topic`.
 *
 * @since 0.1.0
 * @category errors
 */
export const CapabilityDenied = Capability.CapabilityDenied

/**
 * @since 0.1.0
 * @category errors
 */
export type CapabilityDenied = Capability.CapabilityDenied

/**
 * Nothing is registered at the address (the message went to dead letters), or the actor to subscribe is
 * not registered.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownTarget extends Schema.TaggedError<UnknownTarget>()("UnknownTarget", {
  sender: Schema.String,
  target: Schema.String
}) {
  override get message(): string {
    return `nothing is registered at ${JSON.stringify(this.target)}`
  }
}

/**
 * What the guards can refuse a message with.
 *
 * @since 0.1.0
 * @category errors
 */
export type GuardError = PayloadTooLarge | RateLimited | CapabilityDenied

/**
 * @since 0.1.0
 * @category errors
 */
export type SendError = GuardError | MailboxFull | ActorStopped

/**
 * @since 0.1.0
 * @category errors
 */
export type RequestError = GuardError | UnknownTarget | Actor.RequestError | ClusterError

/**
 * @since 0.1.0
 * @category errors
 */
export type SubscribeError = CapabilityDenied | UnknownTarget | ClusterError

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category services
 */
export class Router extends Context.Service<Router, {
  /**
   * Fire and forget to an id, `name@version` or `name`. Unknown targets go to dead letters. A message to a
   * `name` whose actor stopped while the message waited for room (a blue-green switch under load) goes to
   * the name's new route instead.
   */
  readonly send: (from: string, target: string, payload: Uint8Array, options?: DeliveryOptions) => Effect.Effect<void, SendError>
  /**
   * `send`, but eager (as `Effect.fnUntracedEager`): the message is guarded and handed over as `sendNow` is
   * called, and the effect returned is the outcome (already complete unless it waits for room in a full
   * mailbox). For hot paths (a guest's `messaging.send` runs on it); running the returned effect again does
   * not send again.
   */
  readonly sendNow: (from: string, target: string, payload: Uint8Array, options?: DeliveryOptions) => Effect.Effect<void, SendError>
  /** Sends with a fresh correlation id and waits for the reply (`undefined` when the guest answers none). */
  readonly request: (
    from: string,
    target: string,
    payload: Uint8Array,
    options?: RequestOptions
  ) => Effect.Effect<Uint8Array | undefined, RequestError>
  /** Delivers to every subscriber of `topic`, in subscription order; succeeds with how many got it. */
  readonly publish: (
    from: string,
    topic: string,
    payload: Uint8Array,
    options?: DeliveryOptions
  ) => Effect.Effect<number, GuardError>
  /** Subscribes a registered actor; its `Messaging` grants must cover the topic. Idempotent. */
  readonly subscribe: (actorId: string, topic: string) => Effect.Effect<void, SubscribeError>
  /** False when it was not subscribed. */
  readonly unsubscribe: (actorId: string, topic: string) => Effect.Effect<boolean>
  /** Subscriber ids, in subscription order. */
  readonly subscribers: (topic: string) => Effect.Effect<ReadonlyArray<string>>
}>()("airssys-wasm/Router") {
  /**
   * A router with the default guards.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer: Layer.Layer<Router, never, Registry.Registry | Audit.Audit> = Layer.effect(
    Router,
    Effect.suspend(() => make())
  )

  /**
   * @since 0.1.0
   * @category layers
   */
  static readonly layerWith = (options: Options): Layer.Layer<Router, never, Registry.Registry | Audit.Audit> =>
    Layer.effect(Router, Effect.suspend(() => make(options)))

  /**
   * A router whose guards are read from configuration: `config` (the `ROUTER_*` names) unless another
   * `Config` (or record of them) is given, as effect's own `layerConfig`s take it. A value that is present
   * but invalid fails the layer with a `ConfigError`; a missing one takes its default.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layerConfig = (
    options: Config.Wrap<Options> = config
  ): Layer.Layer<Router, Config.ConfigError, Registry.Registry | Audit.Audit> =>
    Layer.effect(Router, Effect.flatMap(Config.unwrap(options), make))
}

// -----------------------------------------------------------------------------
// config
// -----------------------------------------------------------------------------

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const PositiveRate = Schema.Finite.check(Schema.isGreaterThan(0))

/**
 * The router's options read from configuration, each name optional (missing: its default):
 *
 * - `ROUTER_MAX_PAYLOAD_BYTES`: a positive integer (default 1 MiB);
 * - `ROUTER_RATE_PER_SECOND`: messages per second per sender, a positive number (default 1000);
 * - `ROUTER_RATE_BURST`: the bucket's size, a positive integer (default the rate per second);
 * - `ROUTER_REQUEST_TIMEOUT`: a duration such as `"5 seconds"` (default 5 seconds).
 *
 * From the environment the names are read as they are; with `ConfigProvider.fromUnknown` they are paths
 * (`{ ROUTER: { MAX_PAYLOAD_BYTES: 1024 } }`). `ConfigProvider.nested` puts them under a prefix.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Options> = Config.all({
  maxPayloadBytes: Config.schema(PositiveInt, "MAX_PAYLOAD_BYTES").pipe(Config.withDefault(defaultMaxPayloadBytes)),
  rateLimit: Config.all({
    perSecond: Config.schema(PositiveRate, "RATE_PER_SECOND").pipe(Config.withDefault(defaultRatePerSecond)),
    burst: Config.schema(PositiveInt, "RATE_BURST").pipe(Config.withDefault(undefined))
  }),
  requestTimeout: Config.Duration("REQUEST_TIMEOUT").pipe(Config.withDefault(Duration.seconds(5)))
}).pipe(Config.nested("ROUTER"))

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * What the router keeps per sender: its grants, its token bucket and the options its messages carry.
 * Keyed by registry entry, so a re-registered id starts afresh. It plays two roles besides, each through
 * its own type: the rate guard's `TokenBucket` (`tokens`, `last`) and the registry's `Live.Cell` (`live`,
 * `nextCell`: the registry clears `live` when the entry leaves, so a message checks that its sender is
 * current without reading the entry). Those fields live on this object rather than on objects of their
 * own so that the guards touch one object per message: at 10,000 senders every object a message touches
 * is a likely cache miss (bench messaging, "Router.sendNow per message, 10,000 actors").
 */
class SenderState implements Live.Cell, Bucket.TokenBucket {
  readonly entry: Registry.Entry | undefined
  readonly grants: Capability.Grants
  /** The options of its messages. */
  readonly sendOptions: Actor.SendOptions
  /** The options of its messages that must not wait for room (a guest's synchronous `send`). */
  readonly failFastOptions: Actor.SendOptions
  // `Bucket.TokenBucket`
  tokens: number
  last: number
  // `Live.Cell`
  live = false
  nextCell: Live.Cell | undefined = undefined
  constructor(entry: Registry.Entry | undefined, sender: string, grants: Capability.Grants, tokens: number, now: number) {
    this.entry = entry
    this.grants = grants
    this.sendOptions = { sender }
    this.failFastOptions = { sender, failFast: true }
    this.tokens = tokens
    this.last = now
  }
}

/**
 * A router over the `Registry` in the environment. Reads `DeadLetters`, `Clock` and `Audit` once; every
 * `CapabilityDenied` it answers is recorded in the `Audit`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  options?: Options
) => Effect.Effect<Router["Service"], never, Registry.Registry | Audit.Audit | Scope.Scope> = Effect.fn("Router.make")(
  function*(options?: Options) {
    const registry = yield* Registry.Registry
    const deadLetters = yield* DeadLetters.DeadLetters
    const clock = yield* Clock.Clock
    const audit = yield* Audit.Audit
    const remote = Option.getOrUndefined(yield* Effect.serviceOption(RemoteDelivery))
    const maxPayload = options?.maxPayloadBytes ?? defaultMaxPayloadBytes
    const perSecond = options?.rateLimit?.perSecond ?? defaultRatePerSecond
    const burst = options?.rateLimit?.burst ?? perSecond
    const perMillisecond = perSecond / 1000
    const requestTimeout = options?.requestTimeout ?? Duration.seconds(5)

    const host = new SenderState(undefined, Registry.hostAddress, Capability.emptyGrants, Infinity, 0)
    // By id; a sender is current while the registry holds the same entry under that id.
    const senders = new Map<string, SenderState>()
    const topics = new Map<string, Set<Registry.Entry>>()
    const topicsOf = new Map<Registry.Entry, Set<string>>()
    let correlation = 0n

    const newSender = (entry: Registry.Entry): SenderState => {
      const sender = new SenderState(entry, entry.id, entry.grants, burst, clock.currentTimeMillisUnsafe())
      Live.attach(entry, sender)
      senders.set(entry.id, sender)
      return sender
    }

    /** The three guards. The sender's state when the message may go, else the error. */
    const admit = (from: string, address: string, kind: "target" | "topic", size: number): SenderState | GuardError => {
      if (size > maxPayload) return new PayloadTooLarge({ sender: from, target: address, size, limit: maxPayload })
      if (from === Registry.hostAddress) return host
      let sender = senders.get(from)
      // The entry it was made for still registered: it is `from`'s current entry (ids are unique).
      if (sender === undefined || !sender.live) {
        const entry = registry.lookupUnsafe(from)
        if (entry === undefined) return Capability.messagingDenied(from, kind, address)
        if (sender === undefined || sender.entry !== entry) sender = newSender(entry)
      }
      if (!Bucket.take(sender, clock.currentTimeMillisUnsafe(), perMillisecond, burst)) {
        return new RateLimited({ sender: from, perSecond, retryAfterMillis: Bucket.retryAfterMillis(sender, perMillisecond) })
      }
      if (!Capability.allowsMessaging(sender.grants, address)) return Capability.messagingDenied(from, kind, address)
      return sender
    }

    const refuse = <E extends GuardError>(error: E): Effect.Effect<never, E> =>
      error._tag === "CapabilityDenied"
        ? Effect.andThen(
          audit.record({
            kind: "capability",
            component: error.component,
            capability: "Messaging",
            resource: error.resource,
            decision: "denied",
            detail: error.detail
          }),
          Effect.fail(error)
        )
        : Effect.fail(error)

    const deadLetter = (target: string, message: Message, reason: DeadLetters.Reason, error: string) =>
      deadLetters.offer({ target, message, reason, error, at: clock.currentTimeMillisUnsafe() })

    const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error))

    const unknownTarget = (from: string, target: string, payload: Uint8Array) =>
      deadLetter(target, { sender: from, payload }, "UnknownTarget", `nothing is registered at ${JSON.stringify(target)}`)

    /**
     * Hands a message to the actor `target` resolved to. Addressed by name, a message refused because that
     * actor stopped (it was waiting for room when a route switch retired the actor) follows the route to
     * whichever version serves now: a blue-green switch loses nothing.
     */
    const deliver = (
      from: string,
      target: string,
      entry: Registry.Entry,
      payload: Uint8Array,
      options: Actor.SendOptions
    ): Effect.Effect<void, SendError> => {
      const sent = Live.send(entry, payload, options)
      if (target !== entry.name) return sent
      // Already done (an `Exit`): nothing to reroute, no extra step.
      if (Exit.isExit(sent) && Exit.isSuccess(sent)) return sent
      return Effect.catch(sent, (error) => reroute(from, target, entry, payload, options, error))
    }

    const reroute = (
      from: string,
      target: string,
      stopped: Registry.Entry,
      payload: Uint8Array,
      options: Actor.SendOptions,
      error: MailboxFull | ActorStopped
    ): Effect.Effect<void, SendError> =>
      Effect.suspend(() => {
        const next = registry.resolveUnsafe(target)
        if (error._tag !== "ActorStopped" || next === stopped) return Effect.fail(error)
        if (next === undefined) {
          unknownTarget(from, target, payload)
          return Effect.void
        }
        return deliver(from, target, next, payload, options)
      })

    // Eager, like `Effect.fnUntracedEager`: the guards, the lookup and the actor's `sendNow` run when
    // `sendNow` is called, and what comes back is the actor's answer — an `Exit` when it took the message at
    // once, which a caller's `yield*` passes without a fiber step. A send still waiting for room stays an
    // effect. `send` is this, suspended.
    const sendNow = (from: string, target: string, payload: Uint8Array, options?: DeliveryOptions): Effect.Effect<void, SendError> => {
      const sender = admit(from, target, "target", payload.byteLength)
      if (!(sender instanceof SenderState)) return refuse(sender)
      const entry = registry.resolveUnsafe(target)
      if (entry === undefined) {
        if (remote !== undefined) return remote.send(from, target, payload)
        unknownTarget(from, target, payload)
        return Effect.void
      }
      return deliver(from, target, entry, payload, options?.failFast === true ? sender.failFastOptions : sender.sendOptions)
    }

    const request = (
      from: string,
      target: string,
      payload: Uint8Array,
      options?: RequestOptions
    ): Effect.Effect<Uint8Array | undefined, RequestError> =>
      Effect.suspend((): Effect.Effect<Uint8Array | undefined, RequestError> => {
        const sender = admit(from, target, "target", payload.byteLength)
        if (!(sender instanceof SenderState)) return refuse(sender)
        const entry = registry.resolveUnsafe(target)
        const timeout = options?.timeout ?? requestTimeout
        if (entry === undefined) {
          if (remote !== undefined) return remote.request(from, target, payload, { timeout, correlationId: ++correlation })
          unknownTarget(from, target, payload)
          return Effect.fail(new UnknownTarget({ sender: from, target }))
        }
        const requestOptions: Actor.RequestOptions = { sender: from, timeout, correlationId: ++correlation }
        return askAt(from, target, entry, payload, requestOptions)
      })

    // `deliver` for requests: by name, an actor that stopped before taking the request hands it to the route.
    const askAt = (
      from: string,
      target: string,
      entry: Registry.Entry,
      payload: Uint8Array,
      options: Actor.RequestOptions
    ): Effect.Effect<Uint8Array | undefined, RequestError> => {
      const asked = entry.ref.request(payload, options)
      if (target !== entry.name) return asked
      return Effect.catch(asked, (error): Effect.Effect<Uint8Array | undefined, RequestError> => {
        if (error._tag !== "ActorStopped") return Effect.fail(error)
        const next = registry.resolveUnsafe(target)
        if (next === undefined || next === entry) return Effect.fail(error)
        return askAt(from, target, next, payload, options)
      })
    }

    const forget = (entry: Registry.Entry) => {
      if (senders.get(entry.id)?.entry === entry) senders.delete(entry.id)
      const subscribed = topicsOf.get(entry)
      if (subscribed === undefined) return
      topicsOf.delete(entry)
      for (const topic of subscribed) {
        const set = topics.get(topic)
        set?.delete(entry)
        if (set?.size === 0) topics.delete(topic)
      }
    }

    const removeSubscription = (entry: Registry.Entry, topic: string): boolean => {
      const set = topics.get(topic)
      if (set === undefined || !set.delete(entry)) return false
      if (set.size === 0) topics.delete(topic)
      const subscribed = topicsOf.get(entry)
      subscribed?.delete(topic)
      if (subscribed?.size === 0) topicsOf.delete(entry)
      return true
    }

    const publish = (
      from: string,
      topic: string,
      payload: Uint8Array,
      delivery?: DeliveryOptions
    ): Effect.Effect<number, GuardError> =>
      Effect.suspend((): Effect.Effect<number, GuardError> => {
        const sender = admit(from, topic, "topic", payload.byteLength)
        if (!(sender instanceof SenderState)) return refuse(sender)
        const set = topics.get(topic)
        if (set === undefined) return remote === undefined ? Effect.succeed(0) : publishRemote(from, topic, payload, [], delivery)
        const subscribers = Array.from(set)
        const options: Actor.SendOptions = { sender: from, topic, failFast: delivery?.failFast }
        return Effect.gen(function*() {
          let delivered = 0
          for (const entry of subscribers) {
            if (registry.lookupUnsafe(entry.id) !== entry) {
              forget(entry)
              continue
            }
            const sent = entry.ref.sendNow(payload, options)
            // An already-completed send (an `Exit`) needs no fiber step.
            const exit = Exit.isExit(sent) ? sent : yield* Effect.exit(sent)
            if (Exit.isSuccess(exit)) delivered++
            else {
              const error = Cause.squash(exit.cause)
              const reason = (error as { _tag?: unknown })._tag === "MailboxFull" ? "MailboxFull" : "Stopped"
              deadLetter(entry.id, { sender: from, topic, payload }, reason, messageOf(error))
            }
          }
          if (remote !== undefined) delivered += yield* publishRemote(from, topic, payload, subscribers, delivery)
          return delivered
        })
      })

    // The cluster's subscribers but this process's (served already); a guest's publish (`failFast`) does
    // not wait to count them. A failure to reach the cluster loses only the remote copies: logged, and
    // not counted as delivered.
    const publishRemote = (
      from: string,
      topic: string,
      payload: Uint8Array,
      local: ReadonlyArray<Registry.Entry>,
      delivery: DeliveryOptions | undefined
    ) =>
      remote!.publish(from, topic, payload, new Set(local.map((entry) => entry.id)), delivery?.failFast !== true).pipe(
        Effect.catch((error) => Effect.as(Effect.logWarning(`publish on ${topic} reached no other process: ${error.message}`), 0))
      )

    const subscribe = (actorId: string, topic: string): Effect.Effect<void, SubscribeError> =>
      Effect.suspend((): Effect.Effect<void, SubscribeError> => {
        const entry = registry.lookupUnsafe(actorId)
        if (entry === undefined) return Effect.fail(new UnknownTarget({ sender: actorId, target: actorId }))
        if (!Capability.allowsMessaging(entry.grants, topic)) {
          return refuse(Capability.messagingDenied(actorId, "topic", topic))
        }
        let set = topics.get(topic)
        if (set === undefined) topics.set(topic, set = new Set())
        set.add(entry)
        let subscribed = topicsOf.get(entry)
        if (subscribed === undefined) topicsOf.set(entry, subscribed = new Set())
        subscribed.add(topic)
        return remote === undefined ? Effect.void : remote.subscribe(actorId, topic)
      })

    const unsubscribe = (actorId: string, topic: string): Effect.Effect<boolean> =>
      Effect.suspend(() => {
        const entry = registry.lookupUnsafe(actorId)
        const local = entry !== undefined && removeSubscription(entry, topic)
        if (remote === undefined) return Effect.succeed(local)
        return remote.unsubscribe(actorId, topic).pipe(
          Effect.map((removed) => removed || local),
          Effect.catch((error) => Effect.as(Effect.logWarning(`unsubscribe from ${topic} reached no other process: ${error.message}`), local))
        )
      })

    const subscribers = (topic: string): Effect.Effect<ReadonlyArray<string>> =>
      Effect.sync(() => Array.from(topics.get(topic) ?? [], (entry) => entry.id))

    // Drop what the router keeps for actors that leave the registry. Subscribed before the layer is
    // built, so no departure is missed; lookups also check the entry, so a late cleanup is harmless.
    yield* Effect.forkScoped(
      Stream.runForEach(registry.events, (event) =>
        event._tag === "Unregistered" ? Effect.sync(() => forget(event.entry)) : Effect.void),
      { startImmediately: true }
    )

    const send = (from: string, target: string, payload: Uint8Array, options?: DeliveryOptions): Effect.Effect<void, SendError> =>
      Effect.suspend(() => sendNow(from, target, payload, options))

    return Router.of({ send, sendNow, request, publish, subscribe, unsubscribe, subscribers })
  }
)
