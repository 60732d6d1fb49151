/**
 * Scale-out: component actors as `effect/cluster` entities, sharded over runner processes (and machines)
 * that share one SQL database.
 *
 * ```ts
 * // every runner process (SQLite: one file for several processes on one machine)
 * Cluster.layerRunner({ host: "127.0.0.1", port: 34431 }).pipe(Layer.provide(SqliteClient.layer({ filename })))
 * // a process that only calls (and deploys)
 * Cluster.layerClient().pipe(Layer.provide(SqliteClient.layer({ filename })))
 *
 * const cluster = yield* Cluster.Cluster
 * yield* cluster.deploy({ name: "counter", version: "1", bytes, limits: { fuel: 1e8, timeout: "1 second" } })
 * yield* cluster.request("counter/42", payload)   // activates counter/42 on whichever runner owns its shard
 * ```
 *
 * **Addressing.** An actor's id is its entity id. The part before the first `/` names the deployed
 * component (`counter/42` and `counter/43` are two actors of `counter`, each with its own instance and
 * memory); an id without `/` is the one actor of its name.
 *
 * **What is stored where.** A component's bytes are stored once, keyed by their sha-256, in the cluster's
 * database; each deployed version has a spec there (hash, version, limits, grants as Schema-encoded data,
 * the `init` config) and the name routes to the last version deployed. Any runner can activate any actor:
 * it reads the spec, fetches the bytes (verified against the hash: a mismatch is `ComponentCorrupt`, never
 * loaded; kept per runner once verified), links them with the `Linker` in its environment (deny stubs for
 * what the grants do not cover) and runs them as an `Actor` under a supervisor of its own, as
 * `Deployment` does in one process: a trap restarts the instance, queued messages wait for it.
 *
 * **Errors cross the wire typed.** Everything a call can fail with is in the RPC's error schema
 * (`CallFailure`): the guest's `GuestError`, `Trap`, `LimitExceeded`, the actor's `RequestTimeout`,
 * `ActorStopped`, `MailboxFull`, and `ClusterError` for the cluster's own refusals. (A sender's
 * `CapabilityDenied` never crosses the wire: its router checks its grants before the message leaves.) A defect in a handler
 * becomes a `ClusterError` (`Defect`): effect/cluster would hand a defect to the caller as an interrupt
 * and restart the entity with backoff.
 *
 * **Limits are mandatory.** A synchronous guest call blocks its runner's event loop, and with it the
 * heartbeats and shard-lock refreshes: a call longer than the lock expiry would make the runner lose its
 * shards while it still runs them. So `deploy` refuses (`LimitsRequired`) a spec without a finite fuel
 * budget (or worker isolation), a finite memory cap, and a timeout of at most `maxBlockingTimeout` for
 * in-process guests; runners check the same before activating.
 *
 * **Delivery.** `request` and `send` are volatile: sent over the network, not stored. Volatile is not
 * at-most-once: a request in flight on a runner that dies is sent again once its shard moves, and runs
 * again. `persisted: { key }` stores the message in SQL before delivery (at least once, deduplicated by
 * the key: resending a key returns the stored outcome); the guest sees the key as the message's
 * correlation id (the first 8 bytes of its sha-256), so it can tell a redelivery.
 *
 * **Failover.** `shardingDefaults` ship a 6 s shard-lock expiry (effect/cluster's is 35 s): when a
 * runner is killed, its shards move to the survivors once its locks expire (4–7 s measured on loopback).
 * The price is false positives: a runner refreshes its locks every third of the expiry (2 s) and gives
 * up all its shards when one refresh takes longer than that (a stalled database, an event loop blocked
 * by a guest, a starved machine); they are then served elsewhere and its actors lose their memory. A
 * shorter expiry moves faster and drops shards more often; raise it (`sharding.shardLockExpiration`)
 * where the database or the machines are slow. Guest memory never moves: an actor activated elsewhere
 * starts fresh.
 *
 * @since 0.1.0
 */
import { NodeClusterSocket } from "@effect/platform-node"
import * as NodeCrypto from "@effect/platform-node/NodeCrypto"
import { Cause, Clock, Context, Duration, Effect, Exit, Layer, Option, Schedule, Schema, Scope } from "effect"
import {
  ClusterSchema,
  Entity,
  RunnerHealth,
  Runners,
  RunnerAddress,
  type Sharding,
  ShardingConfig,
  SocketRunner,
  SqlMessageStorage,
  SqlRunnerStorage
} from "effect/cluster"
import { Rpc, RpcSerialization } from "effect/rpc"
import type * as SocketServer from "effect/socket/SocketServer"
import { SqlClient } from "effect/sql"
import * as Actor from "./Actor.ts"
import { ActorStopped, MailboxFull, RequestTimeout } from "./ActorError.ts"
import * as Capability from "./Capability.ts"
import * as Component from "./Component.ts"
import { GuestError, GuestExit, InstancePoisoned, LimitExceeded, Trap, WasmMemoryExhausted } from "./ComponentError.ts"
import { ClusterError } from "./internal/cluster/clusterError.ts"
import * as Store from "./internal/cluster/componentStore.ts"
import { RemoteDelivery } from "./internal/cluster/remoteDelivery.ts"
import * as DeadLetters from "./DeadLetters.ts"
import * as Linker from "./Linker.ts"
import * as Registry from "./Registry.ts"
import * as ResourceLimits from "./ResourceLimits.ts"
import * as Supervisor from "./Supervisor.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * The longest call timeout an in-process cluster guest may have: no longer than the 2 s a lock refresh
 * may take with `shardingDefaults` (a third of the 6 s expiry), so a runner blocked by a guest still
 * refreshes its locks in time.
 *
 * @since 0.1.0
 * @category models
 */
export const maxBlockingTimeout: Duration.Duration = Duration.seconds(2)

/**
 * A deployed version, as every runner reads it from the database.
 *
 * @since 0.1.0
 * @category models
 */
export class Spec extends Schema.Class<Spec>("airssys-wasm/Cluster/Spec")({
  name: Schema.String,
  version: Schema.String,
  /** sha-256 of the component's bytes, hex. */
  hash: Schema.String,
  limits: ResourceLimits.ResourceLimits,
  capabilities: Schema.Array(Capability.Capability),
  /** Passed to the guest's `lifecycle.init`. */
  config: Schema.Uint8Array
}) {}

/**
 * What `deploy` takes.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeployInput {
  readonly name: string
  readonly version: string
  readonly bytes: Uint8Array
  /** Required; see the module documentation. */
  readonly limits: ResourceLimits.ResourceLimits
  readonly capabilities?: ReadonlyArray<Capability.Capability> | undefined
  readonly config?: Uint8Array | undefined
  /**
   * Route the name to this version now (default `true`). `false` deploys it on standby (unless the name
   * has no route yet): switch later with `route`.
   */
  readonly route?: boolean | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface DeliveryOptions {
  readonly sender?: string | undefined
  /** The topic it was published on, which the guest sees (see `Router.publish`). */
  readonly topic?: string | undefined
  /**
   * Store the message in SQL before delivery: it survives its runner's death and is delivered at least
   * once. `key` deduplicates: a second message with the same key to the same actor is not handled again.
   */
  readonly persisted?: { readonly key: string } | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RequestOptions extends DeliveryOptions {
  /** Default 5 seconds: the call fails with `RequestTimeout` after it, wherever the actor is. */
  readonly timeout?: Duration.Input | undefined
  readonly correlationId?: bigint | undefined
}

/**
 * Where an actor runs and what it has done there.
 *
 * @since 0.1.0
 * @category models
 */
export class Placement extends Schema.Class<Placement>("airssys-wasm/Cluster/Placement")({
  id: Schema.String,
  /** The runner's address, `host:port`. */
  runner: Schema.String,
  /** `name@version` of the spec it runs. */
  component: Schema.String,
  handled: Schema.Number,
  incarnations: Schema.Number
}) {}

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * Why the cluster refused.
 *
 * - `UnknownComponent`: no version is deployed for the id's name.
 * - `LimitsRequired`: the spec's limits leave a guest free to block its runner (see the module doc).
 * - `ComponentMissing`, `ComponentCorrupt`: the spec's bytes are not in the database, or no longer hash
 *   to the spec's hash.
 * - `StartFailed`: the component did not load, link or start on the runner (the message says why).
 * - `InvalidSpec`: a stored spec does not decode.
 * - `Storage`: the database failed.
 * - `Unavailable`: the cluster could not deliver (no runner owns the shard, transport failure).
 * - `Defect`: the handler died unexpectedly; the message says how.
 *
 * @since 0.1.0
 * @category errors
 */
export { ClusterError } from "./internal/cluster/clusterError.ts"

/**
 * Everything a call to a cluster actor can fail with, as it crosses the wire.
 *
 * @since 0.1.0
 * @category errors
 */
export const CallFailure = Schema.Union([
  GuestError,
  Trap,
  LimitExceeded,
  InstancePoisoned,
  GuestExit,
  WasmMemoryExhausted,
  RequestTimeout,
  ActorStopped,
  MailboxFull,
  ClusterError
])

/**
 * @since 0.1.0
 * @category errors
 */
export type CallFailure = typeof CallFailure.Type

// -----------------------------------------------------------------------------
// the entity
// -----------------------------------------------------------------------------

const delivery = {
  payload: Schema.Uint8Array,
  sender: Schema.optional(Schema.String),
  topic: Schema.optional(Schema.String),
  correlationId: Schema.optional(Schema.BigInt)
}

const Request = Rpc.make("Request", {
  payload: { ...delivery, timeoutMillis: Schema.Number },
  success: Schema.NullOr(Schema.Uint8Array),
  error: CallFailure
})

const Send = Rpc.make("Send", { payload: delivery, error: CallFailure })

const RequestPersisted = Rpc.make("RequestPersisted", {
  payload: { ...delivery, key: Schema.String, timeoutMillis: Schema.Number },
  success: Schema.NullOr(Schema.Uint8Array),
  error: CallFailure,
  primaryKey: (payload) => payload.key
}).annotate(ClusterSchema.Persisted, true)

const SendPersisted = Rpc.make("SendPersisted", {
  payload: { ...delivery, key: Schema.String },
  error: CallFailure,
  primaryKey: (payload) => payload.key
}).annotate(ClusterSchema.Persisted, true)

const Where = Rpc.make("Where", { success: Placement, error: CallFailure })

/**
 * The entity every component actor is: one type for all deployed components, the id naming which.
 *
 * @since 0.1.0
 * @category models
 */
export const ComponentEntity = Entity.make("airssys/Component", [Request, Send, RequestPersisted, SendPersisted, Where])

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

const refuse = (reason: ClusterError["reason"], message: string) => new ClusterError({ reason, message })

/**
 * The component name an actor id belongs to: the part before the first `/`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const componentOf = (id: string): string => {
  const slash = id.indexOf("/")
  return slash === -1 ? id : id.slice(0, slash)
}

/**
 * Checks that limits bound every call (see the module documentation), as `deploy` and every runner do.
 *
 * @since 0.1.0
 * @category constructors
 */
export const checkLimits = (limits: ResourceLimits.ResourceLimits): Effect.Effect<ResourceLimits.Resolved, ClusterError> => {
  const resolved = ResourceLimits.resolve(limits)
  const problems: Array<string> = []
  if (limits.timeout === undefined || !Duration.isFinite(resolved.timeout)) problems.push("a finite `timeout`")
  if (resolved.isolation === "in-process") {
    if (limits.fuel === undefined || !Number.isFinite(resolved.fuel)) problems.push("a finite `fuel` (or `isolation: \"worker\"`)")
    if (Duration.isFinite(resolved.timeout) && Duration.isGreaterThan(resolved.timeout, maxBlockingTimeout)) {
      problems.push(`a \`timeout\` of at most ${Duration.format(maxBlockingTimeout)} in-process (or \`isolation: "worker"\`)`)
    }
  }
  if (!Number.isFinite(resolved.memoryBytes)) problems.push("a finite `memoryBytes`")
  return problems.length === 0
    ? Effect.succeed(resolved)
    : Effect.fail(refuse("LimitsRequired", `a cluster guest needs ${problems.join(", ")}: a call must not block its runner for long`))
}

const encodeLimits = Schema.encodeEffect(Schema.fromJsonString(ResourceLimits.ResourceLimits))
const decodeLimits = Schema.decodeEffect(Schema.fromJsonString(ResourceLimits.ResourceLimits))

/** A persisted message's key as the guest sees it: a correlation id a redelivery repeats. */
const correlationOfKey = (key: string): bigint => BigInt(`0x${Component.hashOf(new TextEncoder().encode(key)).slice(0, 16)}`)

const decodeSpec = (row: Store.SpecRow): Effect.Effect<Spec, ClusterError> =>
  Effect.gen(function*() {
    const limits = yield* decodeLimits(row.limits)
    const capabilities = yield* Capability.decode(JSON.parse(row.grants) as unknown)
    return new Spec({ name: row.name, version: row.version, hash: row.hash, limits, capabilities, config: row.config })
  }).pipe(Effect.catch((error) => Effect.fail(refuse("InvalidSpec", `the spec of ${row.name}@${row.version} does not decode: ${error.message}`))))

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------

class ComponentStore extends Context.Service<ComponentStore, Store.ComponentStore>()("airssys-wasm/Cluster/ComponentStore") {}

const storeLayer: Layer.Layer<ComponentStore, ClusterError, SqlClient.SqlClient> = Layer.effect(
  ComponentStore,
  Effect.gen(function*() {
    return yield* Store.make(yield* SqlClient.SqlClient)
  }).pipe(Effect.mapError((error) => refuse("Storage", `cannot create the cluster's tables: ${error.message}`)))
)

/**
 * Deploys components and calls actors, from a runner or a client-only process.
 *
 * @since 0.1.0
 * @category services
 */
export class Cluster extends Context.Service<Cluster, {
  /**
   * Stores the bytes (once per hash) and the version's spec, and routes the name to it: actors activated
   * from then on run it. Refuses limits that leave a call unbounded (`LimitsRequired`).
   */
  readonly deploy: (input: DeployInput) => Effect.Effect<Spec, ClusterError>
  /**
   * Blue-green: routes `name` to a deployed `version`. Each runner sees the switch within
   * `routePollInterval`; an actor of the old version then drains what its mailbox holds, stops, and its
   * next message is handled by the new version (a fresh instance: guest memory does not carry over).
   */
  readonly route: (name: string, version: string) => Effect.Effect<void, ClusterError>
  /** Sends and waits for the guest's reply (`undefined` for `none`), wherever the actor runs. */
  readonly request: (id: string, payload: Uint8Array, options?: RequestOptions) => Effect.Effect<Uint8Array | undefined, CallFailure>
  /**
   * Fire and forget: volatile sends complete once the actor's mailbox took the message; persisted ones
   * once it is stored.
   */
  readonly send: (id: string, payload: Uint8Array, options?: DeliveryOptions) => Effect.Effect<void, CallFailure>
  /** The actors subscribed to `topic` anywhere in the cluster, in subscription order. */
  readonly subscribers: (topic: string) => Effect.Effect<ReadonlyArray<string>, ClusterError>
  /** Where the actor runs (activating it if needed). */
  readonly where: (id: string, options?: { readonly timeout?: Duration.Input | undefined }) => Effect.Effect<Placement, CallFailure>
}>()("airssys-wasm/Cluster") {}

const callFailures: ReadonlyArray<abstract new(...args: never) => CallFailure> = CallFailure.members

// The cluster's own failures (its `MailboxFull`, `EntityNotAssignedToRunner`, a persistence error, a
// transport error) share tags with ours or none of them: `instanceof` tells ours apart.
const asCallFailure = (error: unknown): CallFailure =>
  callFailures.some((type) => error instanceof type)
    ? error as CallFailure
    : refuse("Unavailable", error instanceof Error ? error.message : String(error))

const defaultTimeout = Duration.seconds(5)
// A persisted message is handled as a request (so it counts as processed only once the guest handled
// it); this bounds that wait, as `Messaging.maxRequestTimeoutMillis` bounds a guest's own requests.
const persistedHandlingTimeout = Duration.seconds(60)

const makeCluster = Effect.gen(function*() {
  const store = yield* ComponentStore
  const clientFor = yield* ComponentEntity.client
  const storage = (error: { readonly message: string }) => refuse("Storage", error.message)

  const deploy = (input: DeployInput) =>
    Effect.gen(function*() {
      const resolved = yield* checkLimits(input.limits)
      // Loaded here too, so bad bytes are refused now, not on the first runner that activates them.
      yield* Effect.mapError(
        Component.fromBytes(input.bytes, { limits: resolved }),
        (error) => refuse("StartFailed", `${input.name}@${input.version} does not load: ${error.message}`)
      )
      const capabilities = input.capabilities ?? []
      const limits = yield* Effect.mapError(encodeLimits(input.limits), (error) => refuse("InvalidSpec", error.message))
      const hash = yield* Effect.mapError(store.putComponent(input.bytes), storage)
      const config = input.config ?? new Uint8Array()
      yield* Effect.mapError(
        store.putSpec({
          name: input.name,
          version: input.version,
          hash,
          limits,
          grants: JSON.stringify(Capability.encode(capabilities)),
          config
        }, input.route ?? true),
        storage
      )
      return new Spec({ name: input.name, version: input.version, hash, limits: input.limits, capabilities, config })
    })

  const bounded = <A>(id: string, timeout: Duration.Input | undefined, call: Effect.Effect<A, unknown>) => {
    const millis = Duration.toMillis(Duration.fromInputUnsafe(timeout ?? defaultTimeout))
    return call.pipe(
      Effect.mapError(asCallFailure),
      Effect.timeoutOrElse({
        duration: Duration.millis(millis),
        orElse: () => Effect.fail(new RequestTimeout({ actorId: id, timeoutMillis: millis }))
      })
    )
  }

  const request = (id: string, payload: Uint8Array, options?: RequestOptions) => {
    const timeoutMillis = Duration.toMillis(Duration.fromInputUnsafe(options?.timeout ?? defaultTimeout))
    const fields = { payload, sender: options?.sender, correlationId: options?.correlationId, timeoutMillis }
    const client = clientFor(id)
    const call = options?.persisted === undefined
      ? client.Request(fields)
      : client.RequestPersisted({ ...fields, key: options.persisted.key })
    return bounded(id, timeoutMillis, Effect.map(call, (reply) => reply ?? undefined))
  }

  const send = (id: string, payload: Uint8Array, options?: DeliveryOptions) => {
    const client = clientFor(id)
    const fields = { payload, sender: options?.sender, topic: options?.topic }
    return bounded(
      id,
      undefined,
      options?.persisted === undefined
        ? client.Send(fields)
        : client.SendPersisted({ ...fields, key: options.persisted.key }, { discard: true })
    )
  }

  const where = (id: string, options?: { readonly timeout?: Duration.Input | undefined }) =>
    bounded(id, options?.timeout, clientFor(id).Where())

  const subscribers = (topic: string) => Effect.mapError(store.subscribers(topic), storage)

  const route = (name: string, version: string) =>
    Effect.flatMap(Effect.mapError(store.route(name, version), storage), (found) =>
      found
        ? Effect.void
        : Effect.fail(refuse("UnknownComponent", `${JSON.stringify(name)} has no deployed version ${JSON.stringify(version)}`)))

  return Cluster.of({ deploy, route, request, send, where, subscribers })
})

// What the `Router` hands to the cluster: addresses no actor of this process holds, and topics.
//
// Publish/subscribe across processes is a table of subscriptions in the cluster's database and a fan-out
// by the publisher: one read per publish, then one volatile send per subscriber, straight to its entity.
// A topic entity was the alternative: every publish on a topic would take a hop through the one runner
// holding it, and its subscriber list would have to live in SQL anyway to survive its moves.
const remoteLayer: Layer.Layer<RemoteDelivery, never, Cluster | ComponentStore> = Layer.effect(
  RemoteDelivery,
  Effect.gen(function*() {
    const cluster = yield* Cluster
    const store = yield* ComponentStore
    const deadLetters = yield* DeadLetters.DeadLetters
    const clock = yield* Clock.Clock
    const scope = yield* Effect.scope
    const storage = (error: { readonly message: string }) => refuse("Storage", error.message)
    const handOver = (from: string, target: string, payload: Uint8Array, topic?: string) =>
      Effect.asVoid(Effect.forkIn(
        Effect.catch(cluster.send(target, payload, { sender: from, topic }), (error) =>
          Effect.sync(() =>
            deadLetters.offer({
              target,
              message: topic === undefined ? { sender: from, payload } : { sender: from, topic, payload },
              reason: error._tag === "ClusterError" && error.reason === "UnknownComponent"
                ? "UnknownTarget"
                : error._tag === "MailboxFull"
                ? "MailboxFull"
                : "Rejected",
              error: error.message,
              at: clock.currentTimeMillisUnsafe()
            })
          )),
        scope
      ))
    return RemoteDelivery.of({
      send: (from, target, payload) => handOver(from, target, payload),
      request: (from, target, payload, options) =>
        cluster.request(target, payload, { sender: from, timeout: options.timeout, correlationId: options.correlationId }),
      subscribe: (actorId, topic) =>
        Effect.asVoid(Effect.forkIn(
          Effect.catch(store.subscribe(topic, actorId), (error) =>
            Effect.logWarning(`the subscription of ${actorId} to ${topic} was not stored: ${error.message}`)),
          scope
        )),
      unsubscribe: (actorId, topic) => Effect.mapError(store.unsubscribe(topic, actorId), storage),
      publish: (from, topic, payload, delivered, wait) => {
        const fanOut = store.subscribers(topic).pipe(
          Effect.mapError(storage),
          Effect.flatMap((subscribers) => {
            const elsewhere = subscribers.filter((id) => !delivered.has(id))
            return Effect.as(Effect.forEach(elsewhere, (id) => handOver(from, id, payload, topic), { discard: true }), elsewhere.length)
          })
        )
        return wait ? fanOut : Effect.as(
          Effect.forkIn(
            Effect.catch(fanOut, (error) => Effect.logWarning(`publish on ${topic} reached no other process: ${error.message}`)),
            scope
          ),
          0
        )
      }
    })
  })
)

/**
 * How often a runner re-reads the routes: how long after `route` (or a `deploy`) its actors of the old
 * version take to switch.
 *
 * @since 0.1.0
 * @category models
 */
export const routePollInterval: Duration.Duration = Duration.seconds(1)

/** A runner's view of the routes, re-read every `routePollInterval`: one query for all names. */
class RouteWatch extends Context.Service<RouteWatch, {
  readonly versionOf: (name: string) => string | undefined
  /** Re-reads the routes now (when an actor's version differs from the view, which may be stale). */
  readonly refresh: Effect.Effect<void>
}>()("airssys-wasm/Cluster/RouteWatch") {}

const routeWatchLayer: Layer.Layer<RouteWatch, never, ComponentStore> = Layer.effect(
  RouteWatch,
  Effect.gen(function*() {
    const store = yield* ComponentStore
    let routes: ReadonlyMap<string, string> = new Map()
    const read = Effect.catch(
      Effect.map(store.routes, (latest) => void (routes = latest)),
      (error) => Effect.logWarning(`cannot read the routes: ${error.message}`)
    )
    yield* read
    yield* Effect.forkScoped(Effect.repeat(Effect.delay(read, routePollInterval), Schedule.forever))
    return RouteWatch.of({ versionOf: (name) => routes.get(name), refresh: read })
  })
)

/** One activation of a component actor on this runner, in a scope of its own under the entity's. */
interface Activated {
  readonly ref: Actor.ActorRef
  readonly scope: Scope.Closeable
  readonly component: string
  readonly version: string
}

const entityHandlers = Effect.gen(function*() {
  const address = yield* Entity.CurrentAddress
  const runner = yield* Entity.CurrentRunnerAddress
  const store = yield* ComponentStore
  const linker = Option.getOrUndefined(yield* Effect.serviceOption(Linker.Linker))
  const registry = Option.getOrUndefined(yield* Effect.serviceOption(Registry.Registry))
  const routes = yield* RouteWatch
  const entityScope = yield* Scope.Scope
  const id = address.entityId
  const name = componentOf(id)
  const runnerName = `${runner.host}:${runner.port}`
  const storage = (error: { readonly message: string }) => refuse("Storage", error.message)
  const startFailed = (error: { readonly message: string }) => refuse("StartFailed", `${id} did not start: ${error.message}`)

  const activate: Effect.Effect<Activated, ClusterError> = Effect.gen(function*() {
    const row = yield* Effect.mapError(store.routed(name), storage)
    if (row === undefined) return yield* refuse("UnknownComponent", `no component is deployed as ${JSON.stringify(name)} (for ${id})`)
    const spec = yield* decodeSpec(row)
    const limits = yield* checkLimits(spec.limits)
    const fetched = yield* Effect.mapError(store.getComponent(spec.hash), storage)
    if (fetched._tag === "Missing") return yield* refuse("ComponentMissing", `the bytes of ${spec.name}@${spec.version} (${spec.hash}) are not stored`)
    if (fetched._tag === "Corrupt") {
      return yield* refuse("ComponentCorrupt", `the bytes stored for ${spec.hash} hash to ${fetched.actual}: not loaded`)
    }
    const component = yield* Effect.mapError(Component.fromBytes(fetched.bytes, { limits }), startFailed)
    const grants = Capability.makeGrants(spec.capabilities)
    const scope = yield* Scope.fork(entityScope)
    return yield* Effect.gen(function*() {
      const imports = linker === undefined
        ? undefined
        : yield* Effect.mapError(linker.imports(component, { id, grants, denyUnlinked: true }), startFailed)
      const ref = yield* Actor.make(component, { id, imports, config: spec.config, hooks: registry?.hooks })
      // Under a supervisor of its own, as `Deployment` runs a version: a trap restarts the instance on
      // the same mailbox; when the supervisor gives up, the next call activates afresh.
      yield* Effect.mapError(Supervisor.start({ id, children: [Actor.child(ref, { restart: "Transient" })] }), startFailed)
      // In the runner's registry (when it has one) while it lives here: the runner's router checks its
      // `Messaging` grants when it sends, and reaches it without the cluster when it is the target.
      if (registry !== undefined) yield* Effect.mapError(registry.register(id, spec.version, ref, { grants }), startFailed)
      return { ref, scope, component: `${spec.name}@${spec.version}`, version: spec.version }
    }).pipe(Scope.provide(scope), Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause))))
  })

  // Activated on first use, again after its supervisor gave up, and after its name was routed to
  // another version (blue-green: the old actor drains its mailbox and stops first). A failed activation
  // is not kept, so a later deploy (or a database back up) is picked up by the next call.
  let current: Activated | undefined
  /** The current activation, while it runs and runs the routed version. */
  const serving = (): Activated | undefined => {
    if (current === undefined || current.ref.status === "Stopped") return undefined
    const routed = routes.versionOf(name)
    return routed === undefined || routed === current.version ? current : undefined
  }
  const actor = Effect.suspend((): Effect.Effect<Activated, ClusterError> => {
    const ready = serving()
    if (ready !== undefined) return Effect.succeed(ready)
    // The runner's view of the routes may be older than this activation: look again before switching.
    const confirmed = current === undefined || current.ref.status === "Stopped" ? Effect.void : routes.refresh
    return Effect.andThen(confirmed, () => {
      const still = serving()
      if (still !== undefined) return Effect.succeed(still)
      const stale = current
      current = undefined
      return Effect.andThen(
        stale === undefined ? Effect.void : Effect.andThen(stale.ref.stop(), Scope.close(stale.scope, Exit.void)),
        Effect.tap(activate, (activated) => Effect.sync(() => (current = activated)))
      )
    })
  })

  // A defect must not reach effect/cluster: its client would see an interrupt and the entity restart.
  const guarded = <A>(effect: Effect.Effect<A, CallFailure>): Effect.Effect<A, CallFailure> =>
    Effect.catchDefect(effect, (defect) => Effect.fail(refuse("Defect", `${id}: ${Cause.pretty(Cause.die(defect))}`)))

  const requestActor = (
    fields: {
      readonly payload: Uint8Array
      readonly sender?: string | undefined
      readonly topic?: string | undefined
      readonly correlationId?: bigint | undefined
    },
    timeout: Duration.Input
  ) =>
    guarded(Effect.flatMap(actor, ({ ref }) =>
      Effect.map(
        ref.request(new Uint8Array(fields.payload), {
          sender: fields.sender,
          topic: fields.topic,
          correlationId: fields.correlationId,
          timeout
        }),
        (reply) => reply ?? null
      )))

  return ComponentEntity.of({
    Request: ({ payload }) => requestActor(payload, Duration.millis(payload.timeoutMillis)),
    RequestPersisted: ({ payload }) =>
      requestActor(
        { ...payload, correlationId: payload.correlationId ?? correlationOfKey(payload.key) },
        Duration.millis(payload.timeoutMillis)
      ),
    SendPersisted: ({ payload }) =>
      Effect.asVoid(requestActor({ ...payload, correlationId: payload.correlationId ?? correlationOfKey(payload.key) }, persistedHandlingTimeout)),
    Send: ({ payload }) =>
      guarded(Effect.flatMap(actor, ({ ref }) =>
        ref.send(new Uint8Array(payload.payload), { sender: payload.sender, topic: payload.topic, correlationId: payload.correlationId })
      )),
    Where: () =>
      guarded(Effect.flatMap(actor, ({ component, ref }) =>
        Effect.map(ref.stats, (stats) =>
          new Placement({ id, runner: runnerName, component, handled: stats.handled, incarnations: stats.incarnations }))
      ))
  })
})

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * The timings runners and clients get unless told otherwise: a killed runner's shards move after its
 * 6 s locks expire (35 s is effect/cluster's default; locks are refreshed every 2 s, a third of it),
 * assignments and runners are re-read every second, and stored messages are polled every second (10 s by
 * default). See the module documentation for the trade-off.
 *
 * @since 0.1.0
 * @category layers
 */
export const shardingDefaults: Partial<ShardingConfig.ShardingConfig["Service"]> = {
  shardLockExpiration: Duration.seconds(6),
  refreshAssignmentsInterval: Duration.seconds(1),
  entityMessagePollInterval: Duration.seconds(1),
  runnerHealthCheckInterval: Duration.seconds(5)
}

/**
 * @since 0.1.0
 * @category layers
 */
export interface LayerOptions<ROut = never, E = never, RIn = never> {
  /** Overrides `shardingDefaults` (`shardsPerGroup` must be the same on every runner). */
  readonly sharding?: Partial<ShardingConfig.ShardingConfig["Service"]> | undefined
  /**
   * The process's own services, built on top of the cluster: a `Router` made here reaches the actors of
   * the whole cluster (addresses no local actor holds go to the cluster), and on a runner the `Linker`,
   * `Registry` and `Router` made here are the ones its actors are linked with, registered in and send
   * through. They may use `Cluster`.
   */
  readonly services?: Layer.Layer<ROut, E, RIn> | undefined
}

/**
 * @since 0.1.0
 * @category layers
 */
export interface RunnerOptions<ROut = never, E = never, RIn = never> extends LayerOptions<ROut, E, RIn> {
  /** The address other runners and clients reach this one at. */
  readonly host: string
  readonly port: number
  /** Where to listen, when not `host` (e.g. `0.0.0.0` behind NAT). */
  readonly listenHost?: string | undefined
}

// effect/cluster's Node socket transport over SQL storage, put together here rather than through
// `NodeClusterSocket.layer`, which also reads the runner's configuration from the environment
// (`HOST`, `PORT`, ...): a library's runner is configured by its caller only.
const storage = (config: ShardingConfig.ShardingConfig["Service"]) =>
  Layer.mergeAll(
    SqlMessageStorage.layer.pipe(Layer.provide(NodeCrypto.layerDigest)),
    Layer.orDie(SqlRunnerStorage.layer)
  ).pipe(Layer.provideMerge(ShardingConfig.layer(config)))

const serialization = RpcSerialization.layerSchemaBinary()

const runnerTransport = (config: ShardingConfig.ShardingConfig["Service"]) =>
  SocketRunner.layer.pipe(
    Layer.provide(RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(NodeClusterSocket.layerClientProtocol))),
    Layer.provide([NodeClusterSocket.layerSocketServer, NodeClusterSocket.layerClientProtocol]),
    Layer.provide(storage(config)),
    Layer.provide(serialization)
  )

const clientTransport = (config: ShardingConfig.ShardingConfig["Service"]) =>
  SocketRunner.layerClientOnly.pipe(
    Layer.provide(NodeClusterSocket.layerClientProtocol),
    Layer.provide(storage(config)),
    Layer.provide(serialization)
  )

const configOf = (options: { readonly sharding?: LayerOptions["sharding"] } | undefined, address: Partial<ShardingConfig.ShardingConfig["Service"]>) => ({
  ...ShardingConfig.defaults,
  ...shardingDefaults,
  ...options?.sharding,
  ...address
})

/**
 * A runner: hosts the component actors whose shards it holds (activating them from the database), and
 * provides `Cluster` to call and deploy. Links components with the `Linker` in its environment, when there
 * is one (deny stubs for what their grants do not cover); without one, only components that import
 * nothing start.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRunner = <ROut = never, E = never, RIn = never>(
  options: RunnerOptions<ROut, E, RIn>
): Layer.Layer<
  Cluster | Sharding.Sharding | ROut,
  ClusterError | SocketServer.SocketServerError | E,
  SqlClient.SqlClient | Exclude<RIn, Cluster | Sharding.Sharding>
> => {
  const config = configOf(options, {
    runnerAddress: Option.some(RunnerAddress.make(options.host, options.port)),
    runnerListenAddress: options.listenHost === undefined
      ? Option.none()
      : Option.some(RunnerAddress.make(options.listenHost, options.port))
  })
  const entities = ComponentEntity.toLayer(entityHandlers, { disableFatalDefects: true })
  const services = (options.services ?? Layer.empty) as Layer.Layer<ROut, E, RIn>
  // The cast only says what TypeScript cannot see through a generic `Exclude`: everything but the SQL
  // client and the caller's own requirements is provided here.
  return entities.pipe(
    Layer.provideMerge(services),
    Layer.provide([remoteLayer, routeWatchLayer]),
    Layer.provideMerge(Layer.effect(Cluster, makeCluster)),
    Layer.provideMerge(storeLayer),
    Layer.provideMerge(runnerTransport(config))
  ) as Layer.Layer<
    Cluster | Sharding.Sharding | ROut,
    ClusterError | SocketServer.SocketServerError | E,
    SqlClient.SqlClient | Exclude<RIn, Cluster | Sharding.Sharding>
  >
}

/**
 * A process that calls and deploys but hosts no actor: it finds each actor's runner through the
 * database, as runners do.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = <ROut = never, E = never, RIn = never>(
  options?: LayerOptions<ROut, E, RIn>
): Layer.Layer<Cluster | Sharding.Sharding | ROut, ClusterError | E, SqlClient.SqlClient | Exclude<RIn, Cluster | Sharding.Sharding>> =>
  // As in `layerRunner`, the cast is only for the generic `Exclude`.
  ((options?.services ?? Layer.empty) as Layer.Layer<ROut, E, RIn>).pipe(
    Layer.provide(remoteLayer),
    Layer.provideMerge(Layer.effect(Cluster, makeCluster)),
    Layer.provideMerge(storeLayer),
    Layer.provideMerge(clientTransport(configOf(options, { runnerAddress: Option.none() })))
  ) as Layer.Layer<Cluster | Sharding.Sharding | ROut, ClusterError | E, SqlClient.SqlClient | Exclude<RIn, Cluster | Sharding.Sharding>>
