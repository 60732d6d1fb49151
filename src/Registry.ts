/**
 * Where actors are found: component id → actor, names with versions, the route of each name, and the
 * lifecycle of everything registered as a `Stream` of events.
 *
 * An actor is registered under a name and a version inside a `Scope`; it leaves when that scope closes
 * (or when it stops for good, see `hooks`). One actor is reachable at three addresses: its id, `name@version`,
 * and `name` — the last one follows the name's route. The route starts at the first version registered,
 * `route` points it elsewhere (blue-green: register v2 while v1 serves, then switch), `rollback` undoes
 * the last switch. When the routed version leaves, the route falls back to the last routed version still
 * registered, else to the newest one.
 *
 * Addresses share one namespace, so one string never means two actors: registering fails when the id,
 * `name@version` or `name` is already taken by something else. An id equal to its own `name@version` is
 * fine (the recommended convention for versioned actors), and so is an id equal to its name, which then
 * follows the name's route like any name. `"host"` is reserved for the host, which the router trusts.
 *
 * Reads used on every message (`lookupUnsafe`, `resolveUnsafe`) are one `Map.get` with no allocation.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Layer, Option, PubSub, Schema, type Scope, Stream } from "effect"
import type * as Actor from "./Actor.ts"
import * as Capability from "./Capability.ts"
import * as Live from "./internal/run/registryLive.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * One registered actor.
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  /** The actor's id (`ref.id`). */
  readonly id: string
  readonly name: string
  readonly version: string
  readonly ref: Actor.ActorRef
  /** What the actor may address when it sends (its `Messaging` capabilities); none by default. */
  readonly grants: Capability.Grants
  /** Clock time of registration, in milliseconds. */
  readonly registeredAt: number
}

/**
 * What happened to a registered actor.
 *
 * - `Registered`, `Unregistered`: it joined or left the registry.
 * - `Started`, `Restarted`, `Crashed`, `Stopped`: its incarnations (reported by `hooks`): its first one
 *   began (e.g. a supervisor's `startChild`), a later one began, one crashed. `Stopped` is the final,
 *   graceful stop; `Unregistered` follows it.
 * - `Routed`: its name now routes to it (`route`, `rollback`, or a fallback when the routed version left).
 *
 * @since 0.1.0
 * @category models
 */
export type EventKind = "Registered" | "Started" | "Restarted" | "Crashed" | "Stopped" | "Unregistered" | "Routed"

/**
 * @since 0.1.0
 * @category models
 */
export interface Event {
  readonly _tag: EventKind
  readonly entry: Entry
  /** Clock time, in milliseconds. */
  readonly at: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RegisterOptions {
  /** The actor's capabilities; the router checks its `Messaging` grants. Default: none (deny all). */
  readonly grants?: Capability.Grants | undefined
}

/**
 * The address the router treats as the trusted host. No actor can take it.
 *
 * @since 0.1.0
 * @category models
 */
export const hostAddress = "host"

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * Why a registration was refused.
 *
 * - `Duplicate`: the id, `name@version` or `name` is already another actor's address.
 * - `Reserved`: the address is `"host"`.
 * - `InvalidName`: an empty name or version, or a name with `@`.
 *
 * @since 0.1.0
 * @category errors
 */
export class RegistrationError extends Schema.TaggedError<RegistrationError>()("RegistrationError", {
  reason: Schema.Literals(["Duplicate", "Reserved", "InvalidName"]),
  address: Schema.String
}) {
  override get message(): string {
    switch (this.reason) {
      case "Duplicate":
        return `${JSON.stringify(this.address)} is already registered`
      case "Reserved":
        return `${JSON.stringify(this.address)} is reserved for the host`
      case "InvalidName":
        return `invalid name or version ${JSON.stringify(this.address)}: both must be non-empty, and a name has no "@"`
    }
  }
}

/**
 * Why a route could not be switched.
 *
 * - `UnknownName`: nothing is registered under the name.
 * - `UnknownVersion`: the name has no such version registered.
 * - `NoPreviousRoute`: `rollback` found no earlier routed version still registered.
 *
 * @since 0.1.0
 * @category errors
 */
export class RouteError extends Schema.TaggedError<RouteError>()("RouteError", {
  reason: Schema.Literals(["UnknownName", "UnknownVersion", "NoPreviousRoute"]),
  name: Schema.String,
  version: Schema.optional(Schema.String)
}) {
  override get message(): string {
    switch (this.reason) {
      case "UnknownName":
        return `no actor is registered under the name ${JSON.stringify(this.name)}`
      case "UnknownVersion":
        return `${JSON.stringify(this.name)} has no version ${JSON.stringify(this.version)}`
      case "NoPreviousRoute":
        return `${JSON.stringify(this.name)} has no earlier routed version to roll back to`
    }
  }
}

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category services
 */
export class Registry extends Context.Service<Registry, {
  /**
   * Registers `ref` as version `version` of `name` until the scope closes. The first version of a name
   * becomes its route. Fails when one of its addresses (id, `name@version`, `name`) means another actor.
   */
  readonly register: (
    name: string,
    version: string,
    ref: Actor.ActorRef,
    options?: RegisterOptions
  ) => Effect.Effect<Entry, RegistrationError, Scope.Scope>
  /** Removes the actor now (its scope's finalizer then does nothing). False when it was not registered. */
  readonly unregister: (id: string) => Effect.Effect<boolean>
  /** By component id. */
  readonly lookup: (id: string) => Effect.Effect<Option.Option<Entry>>
  /** By component id, synchronously: one `Map.get`, no allocation. For per-message paths. */
  readonly lookupUnsafe: (id: string) => Entry | undefined
  /** By address: an id, `name@version`, or `name` (its routed version). */
  readonly resolve: (address: string) => Effect.Effect<Option.Option<Entry>>
  /** `resolve`, synchronously: one `Map.get`, no allocation. For per-message paths. */
  readonly resolveUnsafe: (address: string) => Entry | undefined
  /** The versions registered under `name`, in registration order (empty when none). */
  readonly versions: (name: string) => Effect.Effect<ReadonlyArray<string>>
  /** Everything registered, in registration order. */
  readonly list: Effect.Effect<ReadonlyArray<Entry>>
  /** Points `name` at `version` (blue-green switch). Messages already queued stay where they are. */
  readonly route: (name: string, version: string) => Effect.Effect<Entry, RouteError>
  /** Points `name` back at the version routed before the last switch. */
  readonly rollback: (name: string) => Effect.Effect<Entry, RouteError>
  /**
   * Lifecycle events from the moment the stream starts running (each run subscribes anew). Nothing is
   * dropped for a subscriber that falls behind.
   */
  readonly events: Stream.Stream<Event>
  /**
   * Host hooks that report `Started`, `Restarted`, `Crashed` and `Stopped` for registered actors; give them to
   * `Actor.make` / `Actor.spawn`. A final stop — `ref.stop`, its supervisor's `terminateChild`, or its
   * supervisor stopping for good — also unregisters the actor. An incarnation interrupted to be started
   * again (a supervisor's group restart) or whose scope closes reports nothing itself.
   */
  readonly hooks: Actor.Hooks
}>()("airssys-wasm/Registry") {
  /**
   * @since 0.1.0
   * @category layers
   */
  static readonly layer: Layer.Layer<Registry> = Layer.effect(Registry, Effect.suspend(() => make))
}

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

interface NameRecord {
  readonly name: string
  /** The routed version. */
  current: Entry | undefined
  /** Registration order. */
  readonly versions: Map<string, Entry>
  /** Versions routed before the current one, most recent last. */
  readonly history: Array<string>
}

const maxHistory = 32

const validName = (name: string, version: string): boolean =>
  name.length > 0 && version.length > 0 && !name.includes("@")

/**
 * A registry that lives as long as the scope (its event hub shuts down with it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<Registry["Service"], never, Scope.Scope> = Effect.gen(function*() {
  const clock = yield* Clock.Clock
  const hub = yield* Effect.acquireRelease(PubSub.unbounded<Event>(), PubSub.shutdown)
  const byId = new Map<string, Entry>()
  // One lookup for any address, straight to the entry: a name maps to its routed version (rewritten on
  // every switch), so resolving never takes a second hop.
  const addresses = new Map<string, Entry>()
  const names = new Map<string, NameRecord>()

  const emit = (kind: EventKind, entry: Entry) => {
    PubSub.publishUnsafe(hub, { _tag: kind, entry, at: clock.currentTimeMillisUnsafe() })
  }

  const setRoute = (record: NameRecord, entry: Entry | undefined) => {
    if (record.current === entry) return
    record.current = entry
    if (entry === undefined) addresses.delete(record.name)
    else {
      addresses.set(record.name, entry)
      emit("Routed", entry)
    }
  }

  const remove = (entry: Entry): boolean => {
    if (byId.get(entry.id) !== entry) return false
    byId.delete(entry.id)
    Live.unmark(entry)
    if (entry.id !== entry.name) addresses.delete(entry.id)
    addresses.delete(`${entry.name}@${entry.version}`)
    const record = names.get(entry.name)!
    record.versions.delete(entry.version)
    if (record.versions.size === 0) {
      names.delete(entry.name)
      setRoute(record, undefined)
    } else if (record.current === entry) {
      // Fall back to the last routed version still here, else the newest.
      let fallback: Entry | undefined
      while (fallback === undefined && record.history.length > 0) fallback = record.versions.get(record.history.pop()!)
      if (fallback === undefined) fallback = Array.from(record.versions.values()).at(-1)
      setRoute(record, fallback)
    }
    emit("Unregistered", entry)
    return true
  }

  // The span covers the checks and the insertion. The finalizer is added outside it: a finalizer keeps the
  // context it was added in, and with the span in it every registered actor kept its span alive (~1 KB
  // each, measured, and objects between the entries the router touches per message).
  const insert = Effect.fn("Registry.register")(
    function*(name: string, version: string, ref: Actor.ActorRef, options?: RegisterOptions) {
      if (!validName(name, version)) return yield* new RegistrationError({ reason: "InvalidName", address: `${name}@${version}` })
      const versioned = `${name}@${version}`
      const id = ref.id
      const refuse = (reason: RegistrationError["reason"], address: string) =>
        Effect.fail(new RegistrationError({ reason, address }))
      if (id === hostAddress || name === hostAddress) return yield* refuse("Reserved", hostAddress)
      // One namespace: an id, a `name@version` and a name never mean two different things.
      if (byId.has(id) || (id !== name && addresses.has(id))) return yield* refuse("Duplicate", id)
      if (versioned !== id && addresses.has(versioned)) return yield* refuse("Duplicate", versioned)
      const record = names.get(name)
      if (record === undefined && addresses.has(name)) return yield* refuse("Duplicate", name)
      const entry: Entry & Live.Marked = {
        id: ref.id,
        name,
        version,
        ref,
        grants: options?.grants ?? Capability.emptyGrants,
        registeredAt: clock.currentTimeMillisUnsafe(),
        ...Live.fields(ref)
      }
      byId.set(entry.id, entry)
      // An id equal to the name is the name's address: it follows the route.
      if (id !== name) addresses.set(id, entry)
      addresses.set(versioned, entry)
      let named = record
      if (named === undefined) {
        named = { name, current: undefined, versions: new Map(), history: [] }
        names.set(name, named)
      }
      named.versions.set(version, entry)
      emit("Registered", entry)
      if (named.current === undefined) setRoute(named, entry)
      return entry
    }
  )
  const register = (name: string, version: string, ref: Actor.ActorRef, options?: RegisterOptions) =>
    Effect.uninterruptible(
      Effect.tap(insert(name, version, ref, options), (entry) => Effect.addFinalizer(() => Effect.sync(() => remove(entry))))
    )

  const route = (name: string, version: string) =>
    Effect.suspend(() => {
      const record = names.get(name)
      if (record === undefined) return Effect.fail(new RouteError({ reason: "UnknownName", name, version }))
      const entry = record.versions.get(version)
      if (entry === undefined) return Effect.fail(new RouteError({ reason: "UnknownVersion", name, version }))
      const current = record.current
      if (current !== undefined && current !== entry) {
        record.history.push(current.version)
        if (record.history.length > maxHistory) record.history.shift()
      }
      setRoute(record, entry)
      return Effect.succeed(entry)
    })

  const rollback = (name: string) =>
    Effect.suspend(() => {
      const record = names.get(name)
      if (record === undefined) return Effect.fail(new RouteError({ reason: "UnknownName", name }))
      while (record.history.length > 0) {
        const entry = record.versions.get(record.history.pop()!)
        if (entry !== undefined && entry !== record.current) {
          setRoute(record, entry)
          return Effect.succeed(entry)
        }
      }
      return Effect.fail(new RouteError({ reason: "NoPreviousRoute", name }))
    })

  const lookupUnsafe = (id: string) => byId.get(id)
  const resolveUnsafe = (address: string) => addresses.get(address)

  const registeredAs = (ref: Actor.ActorRef): Entry | undefined => {
    const entry = byId.get(ref.id)
    return entry !== undefined && entry.ref === ref ? entry : undefined
  }

  const hooks: Actor.Hooks = {
    preStart: (ref) =>
      Effect.flatMap(ref.stats, (stats) =>
        Effect.sync(() => {
          const entry = registeredAs(ref)
          if (entry !== undefined) emit(stats.incarnations > 1 ? "Restarted" : "Started", entry)
        })),
    postStop: (ref) =>
      Effect.sync(() => {
        const entry = registeredAs(ref)
        if (entry === undefined) return
        switch (ref.status) {
          case "Stopping":
          case "Stopped":
            emit("Stopped", entry)
            remove(entry)
            return
          case "Crashed":
          case "Starting":
            emit("Crashed", entry)
            return
        }
      })
  }

  return Registry.of({
    register,
    unregister: (id) =>
      Effect.sync(() => {
        const entry = byId.get(id)
        return entry !== undefined && remove(entry)
      }),
    lookup: (id) => Effect.sync(() => Option.fromUndefinedOr(byId.get(id))),
    lookupUnsafe,
    resolve: (address) => Effect.sync(() => Option.fromUndefinedOr(resolveUnsafe(address))),
    resolveUnsafe,
    versions: (name) => Effect.sync(() => Array.from(names.get(name)?.versions.keys() ?? [])),
    list: Effect.sync(() => Array.from(byId.values())),
    route,
    rollback,
    events: Stream.fromPubSub(hub),
    hooks
  })
})
