/**
 * What a host interface is, for the Linker: its functions, the capability gating them, and the refusal
 * an implementation may answer with. Here rather than in `Linker` so that the Linker's machinery and the
 * host interfaces under `internal/host/` can use them without importing the public module; `Linker`
 * re-exports them.
 *
 * @internal
 */
import { type Effect, Schema } from "effect"
import type * as Capability from "../../Capability.ts"
import type { HostRefusal } from "../componentError.ts"
import { unversioned } from "../witName.ts"
import type { ResourceType } from "./hostBridge.ts"

/**
 * The component a host interface is being linked for.
 *
 * @since 0.1.0
 * @category models
 */
export interface Target {
  /** The component's id, as audit events and host services see it. */
  readonly componentId: string
  readonly grants: Capability.Grants
  /** The interface as the component imports it, with its version when it has one. */
  readonly interface: string
}

/**
 * One function of a host interface, as the Linker wraps it. `request` names what a call asks for
 * (checked against the grants and audited before `run`); without one the function is ungated (no
 * check, no audit). Arguments are the guest's, as jco lifts them.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostFunction {
  readonly request?: ((...args: never) => Capability.Request) | undefined
  readonly run: (...args: never) => Effect.Effect<unknown, HostRefusal | Refused>
  /**
   * Whether `run` may wait (I/O): the component must have this import lowered as suspending
   * (`Component.SuspendingImports`), or linking fails with `LinkError` rather than trapping the guest
   * on its first call.
   */
  readonly suspends?: boolean | undefined
}

/**
 * A host interface's functions by name (camelCase, as jco names them: `listKeys` for `list-keys`).
 *
 * @since 0.1.0
 * @category models
 */
export type HostFunctions = Readonly<Record<string, HostFunction>>

/**
 * How a WIT interface the host implements is linked: which capability gates it, and its functions
 * for one component. `make` runs once, when the `Linker` is built: it reads the services the
 * interface needs (its `R`) and returns the per-component binder.
 *
 * @since 0.1.0
 * @category models
 */
export interface HostInterface<R = never> {
  /** The WIT interface, without version: `airssys:component/storage`. */
  readonly name: string
  /** The capability the interface's calls are checked against; none for an ungated interface. */
  readonly capability: Capability.Kind | undefined
  /** Whether the grants allow linking the interface at all. `iface` is the imported name, versioned. */
  readonly linkable: (grants: Capability.Grants, iface: string) => boolean
  /**
   * The resource types the interface implements, by class name as jco names them (`Descriptor` for
   * `descriptor`). Their methods are not wrapped: they check and audit what they do themselves (see
   * `Filesystem`).
   */
  readonly resources?: Readonly<Record<string, ResourceType>> | undefined
  readonly make: Effect.Effect<(target: Target) => HostFunctions, never, R>
}

/**
 * The services a list of host interfaces needs.
 *
 * @since 0.1.0
 * @category models
 */
export type Services<I> = I extends HostInterface<infer R> ? R : never

/**
 * A host function's own refusal after the capability check passed (a quota, a policy). The Linker
 * audits it as `denied` and answers the guest with `err(message)`.
 *
 * @since 0.1.0
 * @category errors
 */
export class Refused extends Schema.TaggedError<Refused>()("Refused", {
  /** Short and stable, for audit details: `QuotaExceeded`, `Denied`, ... */
  reason: Schema.String,
  message: Schema.String,
  /** What was refused, when more precise than the request's resource (e.g. `namespace/key`). */
  resource: Schema.optionalKey(Schema.String)
}) {}

/**
 * A host interface. Without `linkable`, a gated interface links when the grants hold any grant of
 * its capability.
 *
 * @since 0.1.0
 * @category constructors
 */
export const hostInterface = <R = never>(options: {
  readonly name: string
  readonly capability?: Capability.Kind | undefined
  readonly linkable?: ((grants: Capability.Grants, iface: string) => boolean) | undefined
  readonly resources?: Readonly<Record<string, ResourceType>> | undefined
  readonly make: Effect.Effect<(target: Target) => HostFunctions, never, R>
}): HostInterface<R> => {
  const capability = options.capability
  return {
    name: unversioned(options.name),
    capability,
    linkable: options.linkable ??
      (capability === undefined
        ? () => true
        : (grants) => grants.capabilities.some((grant) => grant._tag === capability)),
    resources: options.resources,
    make: options.make
  }
}
