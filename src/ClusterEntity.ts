/**
 * The effect/cluster entity every component actor is: one entity type for all deployed components, the
 * id naming which (`counter/42` is an actor of `counter`). Its handlers activate the actor on the runner
 * that holds the id's shard (spec and bytes read from the database, linked, started under a supervisor
 * of its own), hand it each message, and map everything a call can fail with into `CallFailure`, the
 * RPCs' error schema, so errors cross the wire typed. Re-exported by `Cluster`.
 *
 * @since 0.1.0
 */
import { Cause, Duration, Effect, Exit, Option, Schema, Scope } from "effect"
import { ClusterSchema, Entity } from "effect/cluster"
import { Rpc } from "effect/rpc"
import * as Actor from "./Actor.ts"
import { ActorStopped, MailboxFull, RequestTimeout } from "./ActorError.ts"
import * as Capability from "./Capability.ts"
import * as Storage from "./capability/Storage.ts"
import type { DeliverySettings } from "./ClusterDelivery.ts"
import { checkLimits, componentOf, fromRow } from "./ClusterSpec.ts"
import * as Component from "./Component.ts"
import { GuestError, GuestExit, InstancePoisoned, LimitExceeded, Trap, WasmMemoryExhausted } from "./ComponentError.ts"
import { ClusterError, refuse } from "./internal/cluster/clusterError.ts"
import { ComponentStore } from "./internal/cluster/componentStore.ts"
import { lacking, needsOf } from "./internal/cluster/hosting.ts"
import { RouteWatch } from "./internal/cluster/routeWatch.ts"
import { RunnerTree } from "./internal/cluster/runnerTree.ts"
import { CurrentNode } from "./internal/node.ts"
import * as Linker from "./Linker.ts"
import * as Registry from "./Registry.ts"
import * as Supervisor from "./Supervisor.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

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

// Persisted RPCs ignore their caller's interrupts (`Uninterruptible` "client"): a caller that gives up at
// its timeout must not cancel a stored message, whose stored reply would then be an interrupt that every
// later call with the same key receives. The message is handled as if it had waited.
const RequestPersisted = Rpc.make("RequestPersisted", {
  payload: { ...delivery, key: Schema.String, timeoutMillis: Schema.Number },
  success: Schema.NullOr(Schema.Uint8Array),
  error: CallFailure,
  primaryKey: (payload) => payload.key
}).annotate(ClusterSchema.Persisted, true).annotate(ClusterSchema.Uninterruptible, "client")

const SendPersisted = Rpc.make("SendPersisted", {
  payload: { ...delivery, key: Schema.String },
  error: CallFailure,
  primaryKey: (payload) => payload.key
}).annotate(ClusterSchema.Persisted, true).annotate(ClusterSchema.Uninterruptible, "client")

const Where = Rpc.make("Where", { success: Placement, error: CallFailure })

/**
 * The entity every component actor is: one type for all deployed components, the id naming which.
 *
 * @since 0.1.0
 * @category models
 */
export const ComponentEntity = Entity.make("airssys/Component", [Request, Send, RequestPersisted, SendPersisted, Where])

// -----------------------------------------------------------------------------
// handlers
// -----------------------------------------------------------------------------

/** A persisted message's key as the guest sees it: a correlation id a redelivery repeats. */
const correlationOfKey = (key: string): bigint => BigInt(`0x${Component.hashOf(new TextEncoder().encode(key)).slice(0, 16)}`)


/** One activation of a component actor on this runner, in a scope of its own under the entity's. */
interface Activated {
  readonly ref: Actor.ActorRef
  readonly scope: Scope.Closeable
  readonly component: string
  readonly version: string
}

// A persisted send is handled as a request (so it counts as processed only once the guest handled it);
// `persistedHandlingTimeout` bounds that wait, as `Messaging.maxRequestTimeoutMillis` bounds a guest's
// own requests.
const entityHandlers = (persistedHandlingTimeout: Duration.Duration) => Effect.gen(function*() {
  const address = yield* Entity.CurrentAddress
  const runner = yield* Entity.CurrentRunnerAddress
  const store = yield* ComponentStore
  const linker = Option.getOrUndefined(yield* Effect.serviceOption(Linker.Linker))
  const registry = Option.getOrUndefined(yield* Effect.serviceOption(Registry.Registry))
  const routes = yield* RouteWatch
  const tree = Option.getOrUndefined(yield* Effect.serviceOption(RunnerTree))
  const entityScope = yield* Scope.Scope
  const id = address.entityId
  const name = componentOf(id)
  const runnerName = `${runner.host}:${runner.port}`
  const storage = (error: { readonly message: string }) => refuse("Storage", error.message)
  const startFailed = (error: { readonly message: string }) => refuse("StartFailed", `${id} did not start: ${error.message}`)

  const activate: Effect.Effect<Activated, ClusterError> = Effect.gen(function*() {
    const row = yield* Effect.mapError(store.routed(name), storage)
    if (row === undefined) return yield* refuse("UnknownComponent", `no component is deployed as ${JSON.stringify(name)} (for ${id})`)
    const spec = yield* fromRow(row)
    const limits = yield* checkLimits(spec.limits)
    const fetched = yield* Effect.mapError(store.getComponent(spec.hash), storage)
    if (fetched._tag === "Missing") return yield* refuse("ComponentMissing", `the bytes of ${spec.name}@${spec.version} (${spec.hash}) are not stored`)
    if (fetched._tag === "Corrupt") {
      return yield* refuse("ComponentCorrupt", `the bytes stored for ${spec.hash} hash to ${fetched.actual}: not loaded`)
    }
    const component = yield* Effect.mapError(Component.fromBytes(fetched.bytes, { limits }), startFailed)
    // Its group's runners should all link what its grants need; one that does not refuses, typed.
    const missing = lacking(needsOf(component.world.imports, spec.capabilities), linker?.interfaces ?? [])
    if (missing.length > 0) {
      return yield* refuse(
        "Unsatisfiable",
        `${id}: runner ${runnerName} cannot host ${spec.name}@${spec.version}: its grants need ${missing.join(", ")}, which this runner does not link`
      )
    }
    // Its spec's grants, and its own id as a storage namespace: state that survives a move (an id that
    // is not a valid namespace — a `*`, a space — gets none).
    const grants = Capability.makeGrants(
      Storage.isNamespace(id) ? [...spec.capabilities, new Capability.Storage({ namespace: id })] : spec.capabilities
    )
    const scope = yield* Scope.fork(entityScope)
    return yield* Effect.gen(function*() {
      const imports = linker === undefined
        ? undefined
        : yield* Effect.mapError(linker.imports(component, { id, grants, denyUnlinked: true }), startFailed)
      const ref = yield* Actor.make(component, { id, imports, config: spec.config, hooks: registry?.hooks })
      // Under a supervisor of its own, as `Deployment` runs a version: a trap restarts the instance on
      // the same mailbox; when the supervisor gives up, the next call activates afresh.
      const supervisor = yield* Effect.mapError(Supervisor.start({ id, intensity: spec.intensity, children: [Actor.child(ref, { restart: "Transient" })] }), startFailed)
      // Listed for `Cluster.snapshot` while this activation lives.
      if (tree !== undefined) yield* tree.add({ id, component: `${spec.name}@${spec.version}`, supervisor })
      // In the runner's registry (when it has one) while it lives here: the runner's router checks its
      // `Messaging` grants when it sends, and reaches it without the cluster when it is the target.
      if (registry !== undefined) yield* Effect.mapError(registry.register(id, spec.version, ref, { grants }), startFailed)
      return { ref, scope, component: `${spec.name}@${spec.version}`, version: spec.version }
    }).pipe(
      // The runner names the node: its supervisor's snapshot and the actor's metric series say so.
      Effect.provideService(CurrentNode, runnerName),
      Scope.provide(scope),
      Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
    )
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
 * The entity on a runner: its handlers, with the `ComponentStore` and route view the runner provides,
 * and the `Linker` and `Registry` of the runner's own services when there are. Idle for `maxIdleTime`,
 * an actor is passivated: the entity's scope closes, and with it the activation's (instance, supervisor,
 * registration).
 *
 * @internal
 */
export const layer = (settings: DeliverySettings) =>
  ComponentEntity.toLayer(entityHandlers(settings.persistedHandlingTimeout), {
    disableFatalDefects: true,
    maxIdleTime: settings.maxIdleTime,
    mailboxCapacity: settings.mailboxCapacity
  })
