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
 * **Runner groups.** A runner serves the groups in `RunnerOptions.groups` (default `default`); a spec
 * runs in its `group` (fixed for the name once deployed), on effect/cluster's shard groups. `deploy`
 * refuses (`Unsatisfiable`) a spec whose grants need a host interface (a file grant the filesystem, a
 * `Custom` grant its interface) that no runner of its group links, as runners advertise in the database;
 * a runner that lacks it refuses at activation, typed.
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
 * correlation id (the first 8 bytes of its sha-256), so it can tell a redelivery. Every call, `send`
 * included, is bounded by its timeout (`Delivery`'s `requestTimeout` unless it gives one): to an actor
 * whose runner is gone it fails with `RequestTimeout` rather than waiting for the shard to move. A
 * persisted message is not cancelled by its caller's timeout: it is still delivered, and its key later
 * returns its reply. Timeouts, passivation and mailboxes are set by `Delivery` (see `ClusterDelivery`).
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
import { Cause, Clock, Context, Duration, Effect, Layer, Option } from "effect"
import { ClusterSchema, ClusterError as EntityErrors, RunnerAddress, type Sharding, ShardingConfig } from "effect/cluster"
import type * as SocketServer from "effect/socket/SocketServer"
import type { SqlClient } from "effect/sql"
import { MailboxFull, RequestTimeout } from "./ActorError.ts"
import * as ClusterDelivery from "./ClusterDelivery.ts"
import * as ClusterEntity from "./ClusterEntity.ts"
import { CallFailure } from "./ClusterEntity.ts"
import * as ClusterSnapshot from "./ClusterSnapshot.ts"
import * as ClusterSpec from "./ClusterSpec.ts"
import * as Component from "./Component.ts"
import * as Storage from "./capability/Storage.ts"
import { type ClusterError, refuse } from "./internal/cluster/clusterError.ts"
import * as ComponentStore from "./internal/cluster/componentStore.ts"
import { withDeadline } from "./internal/cluster/deadline.ts"
import * as Groups from "./internal/cluster/groups.ts"
import * as Hosting from "./internal/cluster/hosting.ts"
import { RemoteDelivery } from "./internal/cluster/remoteDelivery.ts"
import * as RouteWatch from "./internal/cluster/routeWatch.ts"
import * as RunnerTree from "./internal/cluster/runnerTree.ts"
import * as Transport from "./internal/cluster/transport.ts"
import * as DeadLetters from "./DeadLetters.ts"
import * as Linker from "./Linker.ts"
import * as Node from "./Node.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

export {
  /**
   * The longest call timeout an in-process cluster guest may have (see the module documentation).
   *
   * @since 0.1.0
   * @category models
   */
  maxBlockingTimeout,
  /**
   * A deployed version, as every runner reads it from the database.
   *
   * @since 0.1.0
   * @category models
   */
  Spec,
  /**
   * What `deploy` takes.
   *
   * @since 0.1.0
   * @category models
   */
  type DeployInput,
  /**
   * The component name an actor id belongs to: the part before the first `/`.
   *
   * @since 0.1.0
   * @category constructors
   */
  componentOf,
  /**
   * Checks that limits bound every call, as `deploy` and every runner do.
   *
   * @since 0.1.0
   * @category constructors
   */
  checkLimits
} from "./ClusterSpec.ts"

export {
  /**
   * The settings the layers are built with (see `ClusterDelivery`'s module documentation for the
   * trade-offs): `deliveryDefaults` unless a layer provides others.
   *
   * @since 0.1.0
   * @category services
   */
  Delivery,
  /**
   * @since 0.1.0
   * @category models
   */
  type DeliverySettings,
  /**
   * Call timeout 5 s, persisted handling 60 s, passivation after 1 minute idle, 4,096 calls queued per
   * actor.
   *
   * @since 0.1.0
   * @category models
   */
  deliveryDefaults,
  /**
   * The settings from the `CLUSTER_*` configuration names.
   *
   * @since 0.1.0
   * @category config
   */
  deliveryConfig,
  /**
   * Provides `Delivery` read from configuration (`deliveryConfig` unless another `Config` is given).
   *
   * @since 0.1.0
   * @category layers
   */
  layerDeliveryConfig
} from "./ClusterDelivery.ts"

export {
  /**
   * Where an actor runs and what it has done there.
   *
   * @since 0.1.0
   * @category models
   */
  Placement,
  /**
   * The entity every component actor is: one type for all deployed components, the id naming which.
   *
   * @since 0.1.0
   * @category models
   */
  ComponentEntity,
  /**
   * Everything a call to a cluster actor can fail with, as it crosses the wire.
   *
   * @since 0.1.0
   * @category errors
   */
  CallFailure
} from "./ClusterEntity.ts"

export {
  /**
   * What `Cluster.snapshot` returns: every runner and what it hosts.
   *
   * @since 0.1.0
   * @category models
   */
  Snapshot,
  /**
   * One runner's hosted actors, each with its supervision tree.
   *
   * @since 0.1.0
   * @category models
   */
  RunnerSnapshot,
  /**
   * One hosted actor in a `RunnerSnapshot`.
   *
   * @since 0.1.0
   * @category models
   */
  HostedActor
} from "./ClusterSnapshot.ts"

/**
 * How often a runner re-reads the routes: how long after `route` (or a `deploy`) its actors of the old
 * version take to switch.
 *
 * @since 0.1.0
 * @category models
 */
export const routePollInterval: Duration.Duration = RouteWatch.routePollInterval

/**
 * Why the cluster refused.
 *
 * - `UnknownComponent`: no version is deployed for the id's name.
 * - `LimitsRequired`: the spec's limits leave a guest free to block its runner (see the module doc).
 * - `ComponentMissing`, `ComponentCorrupt`: the spec's bytes are not in the database, or no longer hash
 *   to the spec's hash.
 * - `StartFailed`: the component did not load, link or start on the runner (the message says why).
 * - `InvalidSpec`: a stored spec does not decode, or a group name is not one.
 * - `Storage`: the database failed.
 * - `Unavailable`: the cluster could not deliver (no runner owns the shard, transport failure).
 * - `Defect`: the handler died unexpectedly; the message says how.
 * - `Unsatisfiable`: no runner of the spec's group links what its grants need (from `deploy`), or this
 *   runner does not (when it activates an actor).
 * - `GroupChanged`: a name's group is fixed once deployed.
 *
 * @since 0.1.0
 * @category errors
 */
export { ClusterError } from "./internal/cluster/clusterError.ts"

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
  /**
   * Default `requestTimeout` (5 seconds): the call fails with `RequestTimeout` after it, wherever the
   * actor is. A `send` waits until the actor's mailbox took the message (volatile) or it is stored
   * (persisted).
   */
  readonly timeout?: Duration.Input | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RequestOptions extends DeliveryOptions {
  readonly correlationId?: bigint | undefined
}

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------


/**
 * Deploys components and calls actors, from a runner or a client-only process.
 *
 * @since 0.1.0
 * @category services
 */
export class Cluster extends Context.Service<Cluster, {
  /**
   * Stores the bytes (once per hash) and the version's spec, and routes the name to it: actors activated
   * from then on run it. Refuses limits that leave a call unbounded (`LimitsRequired`), bytes that are no
   * actor component (`StartFailed`), grants no runner of the spec's group can satisfy (`Unsatisfiable`)
   * and a group other than the name's (`GroupChanged`), storing nothing then.
   */
  readonly deploy: (input: ClusterSpec.DeployInput) => Effect.Effect<ClusterSpec.Spec, ClusterError>
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
  readonly where: (id: string, options?: { readonly timeout?: Duration.Input | undefined }) => Effect.Effect<ClusterEntity.Placement, CallFailure>
  /**
   * Every runner's hosted actors with their supervision trees (each names its runner as `node`), asked
   * of the runners themselves; `timeout` (default 2 s) bounds each request (see `ClusterSnapshot`).
   */
  readonly snapshot: (options?: { readonly timeout?: Duration.Input | undefined }) => Effect.Effect<ClusterSnapshot.Snapshot>
}>()("airssys-wasm/Cluster") {}

const callFailures: ReadonlyArray<abstract new(...args: never) => CallFailure> = CallFailure.members

// The cluster's own failures (its `MailboxFull`, `EntityNotAssignedToRunner`, a persistence error, a
// transport error) share tags with ours or none of them: `instanceof` tells ours apart. Its full entity
// mailbox is ours too, with the capacity this process was configured with (the runners' should match).
const asCallFailure = (mailboxCapacity: number) => (error: unknown): CallFailure =>
  callFailures.some((type) => error instanceof type)
    ? error as CallFailure
    : error instanceof EntityErrors.MailboxFull
    ? new MailboxFull({ actorId: error.address.entityId, capacity: mailboxCapacity })
    : refuse("Unavailable", error instanceof Error ? error.message : String(error))

// A cluster actor is driven through its handler: a component without one would trap on every message.
const actorEntryPoints = ["airssys:component/handler"]

const makeCluster = (overrides: Partial<ClusterDelivery.DeliverySettings> | undefined) => Effect.gen(function*() {
  const settings = ClusterDelivery.resolve(yield* ClusterDelivery.Delivery, overrides)
  const defaultTimeout = settings.requestTimeout
  const store = yield* ComponentStore.ComponentStore
  const groups = yield* Groups.Groups
  // This layer's own entity: its ids' shard groups come from this layer's view of the names' groups.
  const clientFor = yield* ClusterEntity.ComponentEntity.annotate(ClusterSchema.ShardGroup, groups.shardGroupOf).client
  const snapshot = yield* ClusterSnapshot.make
  const storage = (error: { readonly message: string }) => refuse("Storage", error.message)

  const deploy = (input: ClusterSpec.DeployInput) =>
    Effect.gen(function*() {
      const group = yield* Groups.checkGroup(input.group ?? Groups.defaultGroup, `the group of ${input.name}`)
      yield* ClusterSpec.checkLimits(input.limits)
      // The world is read here (no transpile, no compile: a client hosts nothing), so bad bytes are
      // refused now, not on the first runner that activates them, and what the grants need is known.
      const world = yield* Effect.mapError(
        Component.worldOf(input.bytes, { entryPoints: actorEntryPoints }),
        (error) => refuse("StartFailed", `${input.name}@${input.version} does not load: ${error.message}`)
      )
      const capabilities = input.capabilities ?? []
      const why = Hosting.unsatisfied(Hosting.needsOf(world.imports, capabilities), group, yield* groups.runners)
      if (why !== undefined) return yield* refuse("Unsatisfiable", `${input.name}@${input.version} cannot be hosted: ${why}`)
      // Encoded before anything is stored, so a spec that does not encode stores nothing.
      const row = yield* ClusterSpec.toRow({ ...input, group }, Component.hashOf(input.bytes))
      yield* groups.pin(
        input.name,
        group,
        Effect.andThen(
          Effect.mapError(store.putComponent(input.bytes), storage),
          Effect.mapError(store.putSpec(row, input.route ?? true), storage)
        )
      )
      return yield* ClusterSpec.fromRow(row)
    })

  // The client of an id, once this layer knows the group of the id's name: the entity's shard group
  // is read synchronously, when the client is made.
  const addressed = <A, E>(id: string, use: (client: ReturnType<typeof clientFor>) => Effect.Effect<A, E>) =>
    Effect.andThen(groups.ensure(id), () => use(clientFor(id)))

  const bounded = <A>(id: string, timeout: Duration.Input | undefined, call: Effect.Effect<A, unknown>) => {
    const millis = Duration.toMillis(Duration.fromInputUnsafe(timeout ?? defaultTimeout))
    return withDeadline(
      call.pipe(
        Effect.mapError(asCallFailure(settings.mailboxCapacity)),
        // effect/cluster may end a call with a bare interrupt (seen once, a persisted request during a
        // SIGTERM hand-off under load): typed, it is a transient failure the caller can retry. The call's
        // own interruption (by its timeout, or the caller's) comes once its outcome is settled: unseen.
        Effect.catchCause((cause) =>
          Cause.hasInterruptsOnly(cause)
            ? Effect.fail(refuse("Unavailable", `the cluster abandoned the call to ${id} (interrupted)`))
            : Effect.failCause(cause)
        )
      ),
      millis,
      () => new RequestTimeout({ actorId: id, timeoutMillis: millis })
    )
  }

  const request = (id: string, payload: Uint8Array, options?: RequestOptions) => {
    const timeoutMillis = Duration.toMillis(Duration.fromInputUnsafe(options?.timeout ?? defaultTimeout))
    const fields = { payload, sender: options?.sender, correlationId: options?.correlationId, timeoutMillis }
    const call = addressed(id, (client) =>
      options?.persisted === undefined
        ? client.Request(fields)
        : client.RequestPersisted({ ...fields, key: options.persisted.key }))
    return bounded(id, timeoutMillis, Effect.map(call, (reply) => reply ?? undefined))
  }

  const send = (id: string, payload: Uint8Array, options?: DeliveryOptions) => {
    const fields = { payload, sender: options?.sender, topic: options?.topic }
    return bounded(
      id,
      options?.timeout,
      addressed(id, (client) =>
        options?.persisted === undefined
          ? client.Send(fields)
          : client.SendPersisted({ ...fields, key: options.persisted.key }, { discard: true }))
    )
  }

  const where = (id: string, options?: { readonly timeout?: Duration.Input | undefined }) =>
    bounded(id, options?.timeout, addressed(id, (client) => client.Where()))

  const subscribers = (topic: string) => Effect.mapError(store.subscribers(topic), storage)

  const route = (name: string, version: string) =>
    Effect.flatMap(Effect.mapError(store.route(name, version), storage), (found) =>
      found
        ? Effect.void
        : Effect.fail(refuse("UnknownComponent", `${JSON.stringify(name)} has no deployed version ${JSON.stringify(version)}`)))

  return Cluster.of({ deploy, route, request, send, where, subscribers, snapshot })
})

// What the `Router` hands to the cluster: addresses no actor of this process holds, and topics.
//
// Publish/subscribe across processes is a table of subscriptions in the cluster's database and a fan-out
// by the publisher: one read per publish, then one volatile send per subscriber, straight to its entity.
// A topic entity was the alternative: every publish on a topic would take a hop through the one runner
// holding it, and its subscriber list would have to live in SQL anyway to survive its moves.
const remoteLayer: Layer.Layer<RemoteDelivery, never, Cluster | ComponentStore.ComponentStore> = Layer.effect(
  RemoteDelivery,
  Effect.gen(function*() {
    const cluster = yield* Cluster
    const store = yield* ComponentStore.ComponentStore
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
  /** Overrides the `Delivery` settings (timeouts, passivation, mailbox) for this layer. */
  readonly delivery?: Partial<ClusterDelivery.DeliverySettings> | undefined
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
  /**
   * The runner groups it serves (default `["default"]`): it takes the shards of these groups only, so
   * hosts the actors of the names deployed in them. Serve `default` on at least one runner:
   * effect/cluster runs its runner health check there.
   */
  readonly groups?: ReadonlyArray<string> | undefined
  /** The address other runners and clients reach this one at. */
  readonly host: string
  readonly port: number
  /** Where to listen, when not `host` (e.g. `0.0.0.0` behind NAT). */
  readonly listenHost?: string | undefined
  /**
   * The actors' durable state: by default `Storage.layerSql` on the cluster's database (these are its
   * options: the quota), under `services`, so a `Linker` there with `Storage.hostInterface` links it
   * and every runner reads what another wrote. Each actor holds a grant on its own id as a namespace.
   * `false`: none (provide your own `Storage` in `services`).
   */
  readonly storage?: Storage.Options | false | undefined
}

// The actors' durable state on the cluster's database (see `RunnerOptions.storage`).
const storageLayer = (options: Storage.Options | undefined): Layer.Layer<Storage.Storage, ClusterError, SqlClient.SqlClient> =>
  Storage.layerSql(options).pipe(
    Layer.catchTag("StorageError", (error) =>
      Layer.effect(Storage.Storage, Effect.fail(refuse("Storage", `cannot create the storage table: ${error.message}`))))
  )

const configOf = (options: { readonly sharding?: LayerOptions["sharding"] } | undefined, address: Partial<ShardingConfig.ShardingConfig["Service"]>) => ({
  ...ShardingConfig.defaults,
  ...shardingDefaults,
  ...options?.sharding,
  ...address
})

// What a runner can host, in the database while it runs: `deploy` refuses a spec that no runner of its
// group can satisfy.
const advertise = (address: string, groups: ReadonlyArray<string>): Layer.Layer<never, ClusterError, Groups.Groups> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const linker = yield* Effect.serviceOption(Linker.Linker)
    const interfaces = Option.match(linker, { onNone: () => [], onSome: (found) => found.interfaces })
    yield* (yield* Groups.Groups).advertise({ address, groups, interfaces })
  }))

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
  SqlClient.SqlClient | Exclude<RIn, Cluster | Sharding.Sharding | Storage.Storage>
> => {
  const config = configOf(options, {
    runnerAddress: Option.some(RunnerAddress.make(options.host, options.port)),
    runnerListenAddress: options.listenHost === undefined
      ? Option.none()
      : Option.some(RunnerAddress.make(options.listenHost, options.port))
  })
  // The runner names the node for its services: an `Audit` built there stamps its events with it.
  const services = ((options.services ?? Layer.empty) as Layer.Layer<ROut, E, RIn>).pipe(
    Layer.provide(Node.layer(`${options.host}:${options.port}`))
  )
  const groups = options.groups ?? [Groups.defaultGroup]
  // Its groups are registered before effect/cluster starts: their shard groups' names depend on it.
  const sharding = Layer.unwrap(Effect.map(Groups.runnerShardGroups(groups), (shardGroups) => {
    const grouped = { ...config, availableShardGroups: shardGroups.available, assignedShardGroups: shardGroups.assigned }
    return Transport.runner(grouped).pipe(Layer.provideMerge(ShardingConfig.layer(grouped)))
  }))
  // The cast only says what TypeScript cannot see through a generic `Exclude`: everything but the SQL
  // client and the caller's own requirements is provided here.
  const entity = Layer.unwrap(Effect.gen(function*() {
    return ClusterEntity.layer(ClusterDelivery.resolve(yield* ClusterDelivery.Delivery, options.delivery))
  }))
  return Layer.mergeAll(entity, ClusterSnapshot.layer, advertise(`${options.host}:${options.port}`, groups)).pipe(
    Layer.provide(RunnerTree.layer),
    Layer.provideMerge(services),
    // Merged, not only provided: the entity loads components where `SuspendingImports` names storage.
    Layer.provideMerge(options.storage === false ? Layer.empty : storageLayer(options.storage)),
    Layer.provide([remoteLayer, RouteWatch.layer]),
    Layer.provideMerge(Layer.effect(Cluster, makeCluster(options?.delivery))),
    Layer.provideMerge(Layer.merge(ComponentStore.layer, Groups.layer)),
    Layer.provideMerge(sharding)
  ) as Layer.Layer<
    Cluster | Sharding.Sharding | ROut,
    ClusterError | SocketServer.SocketServerError | E,
    SqlClient.SqlClient | Exclude<RIn, Cluster | Sharding.Sharding | Storage.Storage>
  >
}

// A client's transport, its `availableShardGroups` the groups registered when it starts.
const clientSharding = (config: ShardingConfig.ShardingConfig["Service"]) =>
  Layer.unwrap(Effect.map(Groups.knownShardGroups, (available) => {
    const grouped = { ...config, availableShardGroups: available }
    return Transport.client(grouped).pipe(Layer.provideMerge(ShardingConfig.layer(grouped)))
  }))

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
    Layer.provideMerge(Layer.effect(Cluster, makeCluster(options?.delivery))),
    Layer.provideMerge(Layer.merge(ComponentStore.layer, Groups.layer)),
    Layer.provideMerge(clientSharding(configOf(options, { runnerAddress: Option.none() })))
  ) as Layer.Layer<Cluster | Sharding.Sharding | ROut, ClusterError | E, SqlClient.SqlClient | Exclude<RIn, Cluster | Sharding.Sharding>>