/**
 * Builds one component's host imports from its grants and the host-interface services in the
 * environment: the Linker of the design (wasmtime's `Linker`, in Effect terms).
 *
 * **Capabilities enter as Layers.** Each host interface (`Logging`, `Storage`, a game's own
 * `game:api/weapons`, ...) is a service with its layers (`layer`, `layerMemory`, `layerDeny`) plus a
 * `HostInterface` that says how the guest's functions map onto the service and which capability each
 * call needs. `Linker.layer([...])` resolves those services once; which implementation a component
 * gets is decided by the Layer provided, what it may do with it by its `Grants`.
 *
 * ```ts
 * const HostLive = Linker.layer([Logging.hostInterface, Storage.hostInterface]).pipe(
 *   Layer.provide([Logging.layer, Storage.layer({ filename: "state.db" }), Audit.layerJsonl("audit.jsonl")])
 * )
 * const instance = yield* Linker.instantiate(component, { id: "plugin-a", grants })
 * ```
 *
 * **Every call is wrapped once**, when the component is linked: capability check (`Capability.check`
 * on the request the call makes) → audit event (`granted` or `denied`, with the resource) →
 * implementation. A denied call never reaches the implementation: the guest gets `err(message)`
 * (a `HostRefusal`) and the audit log a `denied` event. An implementation may refuse on its own after
 * the grant (a quota, a policy) by failing with `Refused`: audited as `denied` too. The grants are
 * fixed for the life of a link, so each function decides a resource once (the decision, its audit
 * entry, its refusal) and answers later calls on it from a Map; with batching sinks (see `Audit`)
 * the audit event is an O(1) append, sealed into the hash chain at the end of the tick. A guest's
 * call takes a path made for the instance's context when it is bound: check and append (stamped
 * from that context's `Clock`) before the implementation's own Effect runs, no extra fiber, and a
 * `Refused` turned into `err` only when the call failed; the same decisions and events as calling
 * the function by itself.
 *
 * **Linking.** For each interface the component imports: a host interface whose capability the
 * grants hold at all (any `Storage` grant for storage, a `Custom` grant naming the interface for a
 * custom one) is linked; ungated interfaces (logging) always are. Anything else is a `LinkError` naming
 * the interface, audited as a `denied` link decision, or, with `denyUnlinked`, a deny stub whose every
 * call is audited and answered with `err`. Link decisions are audited with `detail: "link"`.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, type Scope } from "effect"
import * as Audit from "./Audit.ts"
import * as Capability from "./Capability.ts"
import * as Component from "./Component.ts"
import type { HostRefusal, LinkError, Trap } from "./ComponentError.ts"
import type { HostImports, ImportFunction, ResourceType } from "./internal/host/hostBridge.ts"
import { deniedMessage } from "./internal/host/capabilityCheck.ts"
import {
  type HostFunction,
  type HostFunctions,
  type HostInterface,
  hostInterface,
  Refused,
  type Services,
  type Target
} from "./internal/host/hostInterface.ts"
import * as Impl from "./internal/host/linker.ts"
import { kebabCase, unversioned } from "./internal/witName.ts"
import type * as Instance from "./Instance.ts"

// The models, `Refused` and `hostInterface` live beside the Linker's machinery (documented there), so
// that host interfaces under `internal/host/` need not import this module.
export type { HostFunction, HostFunctions, HostInterface, Services, Target }
export { hostInterface, Refused }

/**
 * How to link one component: its `id`, its `grants`, and `denyUnlinked` (fields documented where defined).
 *
 * @since 0.1.0
 * @category models
 */
export type LinkOptions = Impl.LinkOptions

// What `imports` makes (and `Component.instantiate` / `Actor.make` take), and the resource types a
// `HostInterface` implements: public in signatures, so public here (documented in `internal/host/hostBridge`).
export type { HostImports, ImportFunction, ResourceType }

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * A request the component's grants do not cover, from `authorize`: `Capability.CapabilityDenied` (the
 * same class as `Router.CapabilityDenied`). A guest gets its `message` as the `err` of the call.
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

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * A user-defined host interface gated by `Custom({ interface, scope })` grants: it links for a
 * component holding a `Custom` grant that names the interface (with or without its version), and
 * each call is checked in the scope `scope` gives it (e.g. the weapon's name for `fire(weapon)`).
 *
 * ```ts
 * const weapons = Linker.custom({
 *   interface: "game:api/weapons",
 *   scope: (_fn, [weapon]) => String(weapon),
 *   make: Effect.gen(function*() {
 *     const service = yield* Weapons
 *     return (componentId) => ({ fire: (weapon: string) => service.fire(componentId, weapon) })
 *   })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const custom = <R = never>(options: {
  /** The WIT interface, e.g. `game:api/weapons` (a version here is ignored: grants say which versions). */
  readonly interface: string
  /** The scope a call is checked in, from the function's WIT name and the guest's arguments. */
  readonly scope: (fn: string, args: ReadonlyArray<unknown>) => string
  readonly make: Effect.Effect<
    (componentId: string) => Readonly<Record<string, (...args: never) => Effect.Effect<unknown, HostRefusal | Refused>>>,
    never,
    R
  >
}): HostInterface<R> => {
  const name = unversioned(options.interface)
  return hostInterface({
    name,
    capability: "Custom",
    linkable: (grants, iface) =>
      grants.capabilities.some((grant) => grant._tag === "Custom" && (grant.interface === iface || grant.interface === name)),
    make: Effect.map(options.make, (bind) => (target: Target): HostFunctions => {
      const functions: Record<string, HostFunction> = {}
      for (const [fn, run] of Object.entries(bind(target.componentId))) {
        const witName = kebabCase(fn)
        functions[fn] = {
          request: (...args: ReadonlyArray<unknown>): Capability.Request => ({
            _tag: "Custom",
            interface: target.interface,
            scope: options.scope(witName, args)
          }),
          run
        }
      }
      return functions
    })
  })
}

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------

/**
 * Links components against a fixed set of host interfaces, resolved when the service is built.
 *
 * @since 0.1.0
 * @category services
 */
export class Linker extends Context.Service<Linker, {
  /** The interfaces it can link, unversioned. */
  readonly interfaces: ReadonlyArray<string>
  /** The host imports for one component (see the module doc for the rules). */
  readonly imports: (component: Component.Component, options: LinkOptions) => Effect.Effect<HostImports, LinkError>
}>()("airssys-wasm/Linker") {}

// Built once per layer: a span of its own, like linking (see `Impl.link`).
const build = Effect.fn("Linker.make")(function*(interfaces: ReadonlyArray<HostInterface<unknown>>) {
  const audit = yield* Audit.Audit
  const hosts = new Map<string, Impl.BoundInterface>()
  for (const host of interfaces) {
    const bind = yield* host.make
    hosts.set(host.name, {
      name: host.name,
      capability: host.capability,
      linkable: host.linkable,
      resources: host.resources ?? {},
      bind
    })
  }
  return Linker.of({
    interfaces: Array.from(hosts.keys()),
    imports: (component, options) => Impl.link(hosts, audit, component, options)
  })
})

/**
 * A `Linker` over the given host interfaces: reads their services (and `Audit`) once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <const Interfaces extends ReadonlyArray<HostInterface<unknown>>>(
  interfaces: Interfaces
): Effect.Effect<Linker["Service"], never, Audit.Audit | Services<Interfaces[number]>> =>
  build(interfaces) as Effect.Effect<Linker["Service"], never, Audit.Audit | Services<Interfaces[number]>>

/**
 * The host imports for one component, from the `Linker` in the environment.
 *
 * @since 0.1.0
 * @category combinators
 */
export const imports = (
  component: Component.Component,
  options: LinkOptions
): Effect.Effect<HostImports, LinkError, Linker> => Linker.use((linker) => linker.imports(component, options))

/**
 * Links and instantiates a component: `imports`, then `Component.instantiate`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const instantiate = (
  component: Component.Component,
  options: LinkOptions
): Effect.Effect<Instance.Instance, Component.InstantiateError, Linker | Scope.Scope> =>
  Effect.flatMap(imports(component, options), (linked) => Component.instantiate(component, { imports: linked }))

/**
 * Checks one request against a component's grants and audits the decision, for host code acting on
 * a component's behalf (a router delivering its message, a tool call it asked for).
 *
 * @since 0.1.0
 * @category combinators
 */
export const authorize = (
  componentId: string,
  grants: Capability.Grants,
  request: Capability.Request,
  /** Recorded with the decision: what the request was for. */
  detail?: string | undefined
): Effect.Effect<void, CapabilityDenied, Audit.Audit> =>
  Audit.Audit.use((audit) => {
    const resource = Capability.resourceOf(request)
    const decision = Capability.check(grants, request)
    const recorded = audit.record(
      detail === undefined
        ? { kind: "capability", component: componentId, capability: request._tag, resource, decision }
        : { kind: "capability", component: componentId, capability: request._tag, resource, decision, detail }
    )
    if (decision === "granted") return recorded
    return Effect.flatMap(recorded, () =>
      Effect.fail(
        new CapabilityDenied({
          component: componentId,
          capability: request._tag,
          resource,
          ...(detail === undefined ? {} : { detail }),
          message: deniedMessage(componentId, request._tag, resource)
        })
      ))
  })

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * The `Linker` over the given host interfaces, needing their services and `Audit`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <const Interfaces extends ReadonlyArray<HostInterface<unknown>>>(
  interfaces: Interfaces
): Layer.Layer<Linker, never, Audit.Audit | Services<Interfaces[number]>> => Layer.effect(Linker, make(interfaces))
