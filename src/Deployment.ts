/**
 * Hot deploy: versions of a named component run as actors side by side, the name's route switches
 * between them (blue-green), the old version drains and stops, a switch can be rolled back, and a
 * component can be unloaded — all while the host keeps serving everything else.
 *
 * ```ts
 * const deployment = yield* Deployment.Deployment
 * yield* deployment.deploy("greeter", "1", v1, { grants })   // first version: the name routes to it
 * yield* deployment.deploy("greeter", "2", v2, { grants })   // registered while v1 serves
 * yield* deployment.promote("greeter", "2")                  // route to v2; v1 drains and stops
 * yield* deployment.rollback("greeter")                      // v1 again (a fresh instance); v2 drains and stops
 * yield* deployment.unload("greeter")                        // gone; the host serves on
 * ```
 *
 * Each version is an actor with the id `name@version`, registered in the `Registry` (so the `Router`
 * reaches it by id, `name@version` and, when routed, `name`) and run by a supervisor of its own (a trap
 * restarts it with backoff on the same mailbox), inside a scope of its own: unloading closes that
 * scope, not the host's.
 *
 * **No message is lost in a switch.** The route switches in one step, so every message sent by name after
 * it goes to the new version; messages already in the old version's mailbox are handled by it, because it
 * stops gracefully (`ActorRef.stop`: it takes no more, handles what it has, calls the guest's
 * `lifecycle.shutdown`). A sender that was waiting for room in the old mailbox is refused by the stopping
 * actor, and the router hands its message to the new route instead. Only a drain that outlives
 * `drainTimeout` (default 5 s) leaves messages behind, and those go to dead letters.
 *
 * **Linking.** A version's host imports are `options.imports` when given; otherwise, when a `Linker` is
 * in the environment, the component is linked by it with the version's id and grants (deny stubs for
 * what the grants do not cover); otherwise it gets none. A version that cannot start (a link error, a
 * failing `init`) is not deployed and changes no route.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Exit, Layer, Option, Schema, Scope, Semaphore } from "effect"
import * as Actor from "./Actor.ts"
import * as Capability from "./Capability.ts"
import type * as Component from "./Component.ts"
import type { HostImports } from "./internal/host/hostBridge.ts"
import * as Linker from "./Linker.ts"
import * as Registry from "./Registry.ts"
import * as Supervisor from "./Supervisor.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface DeployOptions {
  /** The version's capabilities: its `Messaging` grants for the router, all of them for the Linker. */
  readonly grants?: Capability.Grants | undefined
  /** Host imports to use instead of linking with the `Linker` in the environment. */
  readonly imports?: HostImports | undefined
  readonly mailbox?: { readonly capacity?: number | undefined } | undefined
  /** Passed to the guest's `lifecycle.init`. */
  readonly config?: Uint8Array | undefined
  /** Restarts allowed to the version's supervisor before it gives up. Default `Supervisor`'s (3 in 5 s). */
  readonly intensity?: Supervisor.Intensity | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SwitchOptions {
  /** How long the retired version may take to handle what it has queued. Default 5 seconds. */
  readonly drainTimeout?: Duration.Input | undefined
}

/**
 * `Serving`: running, and the name routes to it. `Standby`: running, not routed (deployed beside the
 * serving version). `Retired`: stopped after a switch; kept so that `rollback` can bring it back.
 *
 * @since 0.1.0
 * @category models
 */
export type VersionStatus = "Serving" | "Standby" | "Retired"

/**
 * Plain-data view of one deployed version.
 *
 * @since 0.1.0
 * @category models
 */
export interface Version {
  readonly name: string
  readonly version: string
  readonly id: string
  readonly status: VersionStatus
  /** Messages its current actor handled; 0 when retired. */
  readonly handled: number
}

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * Why a deployment operation was refused.
 *
 * - `UnknownName`, `UnknownVersion`: nothing deployed under that name or version.
 * - `AlreadyDeployed`: that version is running already.
 * - `NoPreviousVersion`: `rollback` has no earlier serving version to go back to.
 * - `StartFailed`: the version's actor could not start (the `message` says why); nothing changed.
 *
 * @since 0.1.0
 * @category errors
 */
export class DeploymentError extends Schema.TaggedError<DeploymentError>()("DeploymentError", {
  reason: Schema.Literals(["UnknownName", "UnknownVersion", "AlreadyDeployed", "NoPreviousVersion", "StartFailed"]),
  name: Schema.String,
  version: Schema.optional(Schema.String),
  message: Schema.String
}) {}

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category services
 */
export class Deployment extends Context.Service<Deployment, {
  /**
   * Starts `component` as version `version` of `name` and registers it. The first version of a name is
   * routed at once; later ones wait on standby until `promote`. A retired version may be deployed again.
   */
  readonly deploy: (
    name: string,
    version: string,
    component: Component.Component,
    options?: DeployOptions
  ) => Effect.Effect<Registry.Entry, DeploymentError | Registry.RegistrationError>
  /**
   * Blue-green switch: routes `name` to `version` (deployed and running), then retires the version that
   * served before it: it drains its mailbox and stops gracefully.
   */
  readonly promote: (name: string, version: string, options?: SwitchOptions) => Effect.Effect<Registry.Entry, DeploymentError>
  /**
   * Back to the version that served before the last `promote` (started again, with a fresh instance, if it
   * was retired); the version serving now drains and stops.
   */
  readonly rollback: (name: string, options?: SwitchOptions) => Effect.Effect<Registry.Entry, DeploymentError>
  /**
   * Stops a version (or, without `version`, every version of the name) gracefully and forgets it. The
   * rest of the host is untouched; messages to an unloaded name go to dead letters as `UnknownTarget`.
   */
  readonly unload: (name: string, version?: string, options?: SwitchOptions) => Effect.Effect<void, DeploymentError>
  /** The versions of `name`, in deployment order. */
  readonly versions: (name: string) => Effect.Effect<ReadonlyArray<Version>>
  /** Every deployed name, in the order of first deployment. */
  readonly names: Effect.Effect<ReadonlyArray<string>>
  /** The supervisors of the running versions (one per version, id `name@version`), for observers. */
  readonly supervisors: Effect.Effect<ReadonlyArray<Supervisor.SupervisorRef>>
}>()("airssys-wasm/Deployment") {
  /**
   * Deployments into the `Registry` in the environment, linked by the `Linker` when one is provided.
   * Everything deployed stops when the layer's scope closes.
   *
   * @since 0.1.0
   * @category layers
   */
  static readonly layer: Layer.Layer<Deployment, never, Registry.Registry> = Layer.effect(
    Deployment,
    Effect.suspend(() => make)
  )
}

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

interface Running {
  readonly ref: Actor.ActorRef
  readonly entry: Registry.Entry
  readonly scope: Scope.Closeable
  readonly supervisor: Supervisor.SupervisorRef
}

interface VersionRecord {
  readonly version: string
  readonly component: Component.Component
  readonly options: DeployOptions | undefined
  running: Running | undefined
}

interface NameRecord {
  readonly versions: Map<string, VersionRecord>
  /** Versions that served before the current one, most recent last. */
  readonly history: Array<string>
  serving: string | undefined
}

const maxHistory = 32

/**
 * A deployment manager over the `Registry` in the environment; versions live in scopes forked from the
 * one it is made in.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Deployment["Service"], never, Registry.Registry | Scope.Scope> = Effect.gen(function*() {
  const registry = yield* Registry.Registry
  const linker = Option.getOrUndefined(yield* Effect.serviceOption(Linker.Linker))
  const root = yield* Effect.scope
  const names = new Map<string, NameRecord>()
  // One operation at a time per name: a switch and a rollback of the same name must not interleave,
  // while a long drain of one name does not hold up the others.
  const locks = new Map<string, Semaphore.Semaphore>()
  const serialized = <A, E>(name: string, effect: Effect.Effect<A, E>) =>
    Effect.suspend(() => {
      let lock = locks.get(name)
      if (lock === undefined) locks.set(name, lock = Semaphore.makeUnsafe(1))
      return Semaphore.withPermit(lock, effect)
    })

  const refuse = (reason: DeploymentError["reason"], name: string, version: string | undefined, message: string) =>
    Effect.fail(new DeploymentError({ reason, name, ...(version === undefined ? {} : { version }), message }))

  /** Starts one version: link, spawn, check it runs, register. On any failure nothing is left behind. */
  const start = (name: string, record: VersionRecord): Effect.Effect<Running, DeploymentError | Registry.RegistrationError> =>
    Effect.gen(function*() {
      const id = `${name}@${record.version}`
      const grants = record.options?.grants ?? Capability.emptyGrants
      const scope = yield* Scope.fork(root)
      const started = yield* Effect.gen(function*() {
        const imports = record.options?.imports ??
          (linker === undefined
            ? undefined
            : yield* Effect.mapError(
              linker.imports(record.component, { id, grants, denyUnlinked: true }),
              (error) => new DeploymentError({ reason: "StartFailed", name, version: record.version, message: error.message })
            ))
        // Set once an incarnation got its instance (`preStart` runs after instantiating, before `init`).
        let instantiated = false
        const registryHooks = registry.hooks
        const ref = yield* Actor.make(record.component, {
          id,
          imports,
          mailbox: record.options?.mailbox,
          config: record.options?.config,
          hooks: {
            preStart: (self) => Effect.andThen(Effect.sync(() => (instantiated = true)), registryHooks.preStart!(self)),
            postStop: registryHooks.postStop
          }
        })
        // Under its own supervisor: a trap restarts it (with backoff) on the same mailbox; a graceful stop
        // (Transient) does not. The first start runs up to the guest's first suspension before `start`
        // returns, so a link error or a failing `init` shows by now.
        let crashed: string | undefined
        const child = Actor.child(ref, { restart: "Transient" })
        const supervisor = yield* Supervisor.start({
          id,
          intensity: record.options?.intensity,
          children: [{ ...child, start: Effect.tapError(child.start, (error) => Effect.sync(() => (crashed = error.message))) }]
        }).pipe(Effect.mapError((error) =>
          new DeploymentError({
            reason: "StartFailed",
            name,
            version: record.version,
            message: `${id} did not start: ${crashed ?? error.message}`
          })
        ))
        if (!instantiated || ref.status === "Crashed") {
          return yield* new DeploymentError({
            reason: "StartFailed",
            name,
            version: record.version,
            message: `${id} did not start: ${crashed ?? "it stopped at once"}`
          })
        }
        const entry = yield* registry.register(name, record.version, ref, { grants })
        return { ref, entry, scope, supervisor }
      }).pipe(Scope.provide(scope), Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause))))
      return started
    })

  /** Graceful stop of a running version: drain, shutdown, then close its scope. */
  const retire = (record: VersionRecord, options: SwitchOptions | undefined): Effect.Effect<void> =>
    Effect.suspend(() => {
      const running = record.running
      if (running === undefined) return Effect.void
      record.running = undefined
      return running.ref.stop(options?.drainTimeout).pipe(Effect.andThen(Scope.close(running.scope, Exit.void)))
    })

  const nameRecord = (name: string) => {
    const record = names.get(name)
    return record === undefined ? refuse("UnknownName", name, undefined, `nothing is deployed as ${JSON.stringify(name)}`) : Effect.succeed(record)
  }

  const versionRecord = (name: string, named: NameRecord, version: string) => {
    const record = named.versions.get(version)
    return record === undefined
      ? refuse("UnknownVersion", name, version, `${JSON.stringify(name)} has no version ${JSON.stringify(version)}`)
      : Effect.succeed(record)
  }

  const deploy = (name: string, version: string, component: Component.Component, options?: DeployOptions) =>
    serialized(name, Effect.gen(function*() {
      let named = names.get(name)
      const existing = named?.versions.get(version)
      if (existing?.running !== undefined) {
        return yield* refuse("AlreadyDeployed", name, version, `${name}@${version} is already running`)
      }
      const record: VersionRecord = { version, component, options, running: undefined }
      record.running = yield* start(name, record)
      if (named === undefined) {
        named = { versions: new Map(), history: [], serving: undefined }
        names.set(name, named)
      }
      named.versions.set(version, record)
      // The registry routes a name to its first registered version; keep the same view here.
      if (registry.resolveUnsafe(name) === record.running.entry) named.serving = version
      return record.running.entry
    }))

  /** Routes `name` to `target` (started if needed) and retires what served before. */
  const switchTo = (
    name: string,
    named: NameRecord,
    target: VersionRecord,
    options: SwitchOptions | undefined
  ): Effect.Effect<Registry.Entry, DeploymentError> =>
    Effect.gen(function*() {
      if (target.running === undefined) {
        target.running = yield* start(name, target).pipe(
          Effect.mapError((error) =>
            error._tag === "DeploymentError"
              ? error
              : new DeploymentError({ reason: "StartFailed", name, version: target.version, message: error.message })
          )
        )
      }
      const entry = target.running.entry
      yield* Effect.orDie(registry.route(name, target.version))
      const previous = named.serving === undefined ? undefined : named.versions.get(named.serving)
      named.serving = target.version
      if (previous !== undefined && previous !== target) yield* retire(previous, options)
      return entry
    })

  const promote = (name: string, version: string, options?: SwitchOptions) =>
    serialized(name, Effect.gen(function*() {
      const named = yield* nameRecord(name)
      const target = yield* versionRecord(name, named, version)
      if (target.running === undefined) {
        return yield* refuse("UnknownVersion", name, version, `${name}@${version} is not running: deploy it first`)
      }
      if (named.serving !== undefined && named.serving !== version) {
        named.history.push(named.serving)
        if (named.history.length > maxHistory) named.history.shift()
      }
      return yield* switchTo(name, named, target, options)
    }))

  const rollback = (name: string, options?: SwitchOptions) =>
    serialized(name, Effect.gen(function*() {
      const named = yield* nameRecord(name)
      while (named.history.length > 0) {
        const target = named.versions.get(named.history.pop()!)
        if (target !== undefined && target.version !== named.serving) return yield* switchTo(name, named, target, options)
      }
      return yield* refuse("NoPreviousVersion", name, undefined, `${JSON.stringify(name)} has no earlier version to roll back to`)
    }))

  const unload = (name: string, version?: string, options?: SwitchOptions) =>
    serialized(name, Effect.gen(function*() {
      const named = yield* nameRecord(name)
      const records = version === undefined ? Array.from(named.versions.values()) : [yield* versionRecord(name, named, version)]
      for (const record of records) {
        named.versions.delete(record.version)
        if (named.serving === record.version) named.serving = undefined
        yield* retire(record, options)
      }
      if (named.versions.size === 0) names.delete(name)
      else if (named.serving === undefined) {
        // The registry fell back to another running version (if any): follow it.
        const routed = registry.resolveUnsafe(name)
        named.serving = routed?.name === name ? routed.version : undefined
      }
    }))

  const versions = (name: string) =>
    Effect.gen(function*() {
      const named = names.get(name)
      if (named === undefined) return []
      const out: Array<Version> = []
      for (const record of named.versions.values()) {
        const running = record.running
        out.push({
          name,
          version: record.version,
          id: `${name}@${record.version}`,
          status: running === undefined ? "Retired" : named.serving === record.version ? "Serving" : "Standby",
          handled: running === undefined ? 0 : (yield* running.ref.stats).handled
        })
      }
      return out
    })

  const supervisors = Effect.sync(() => {
    const out: Array<Supervisor.SupervisorRef> = []
    for (const named of names.values()) {
      for (const record of named.versions.values()) if (record.running !== undefined) out.push(record.running.supervisor)
    }
    return out
  })

  return Deployment.of({ deploy, promote, rollback, unload, versions, names: Effect.sync(() => Array.from(names.keys())), supervisors })
})
