/**
 * The Linker's machinery: link decisions, the per-call guard (check → audit → implementation) and
 * deny stubs.
 *
 * @internal
 */
import { Cause, Clock, Context, Effect } from "effect"
import type * as Audit from "../../Audit.ts"
import type * as Capability from "../../Capability.ts"
import { fastPathOf } from "../audit/auditRecorder.ts"
import { HostRefusal, LinkError } from "../componentError.ts"
import type { Component } from "../load/component.ts"
import { camelCase, kebabCase, unversioned } from "../witName.ts"
import * as Check from "./capabilityCheck.ts"
import {
  HostFailure,
  type HostImports,
  linkedAs,
  type ResourceType,
  specialize,
  type Specialized
} from "./hostBridge.ts"
import type { HostFunction, HostFunctions, Refused, Target } from "./hostInterface.ts"

type AuditService = Audit.Audit["Service"]

/**
 * @since 0.1.0
 * @category models
 */
export interface LinkOptions {
  /** The component's id: audit events and services (storage quotas, log annotations) use it. */
  readonly id: string
  readonly grants: Capability.Grants
  /**
   * Link what the grants or the host cannot satisfy to deny stubs (every call audited and answered
   * with `err`; a function without a `result`, and a WASI function, whose `err` is a typed code, trap the
   * guest, the trap carrying the refusal's message)
   * instead of failing with `LinkError`.
   */
  readonly denyUnlinked?: boolean | undefined
}

/** A host interface whose services were resolved when the Linker was built. */
export interface BoundInterface {
  readonly name: string
  readonly capability: Capability.Kind | undefined
  readonly linkable: (grants: Capability.Grants, iface: string) => boolean
  readonly resources: Readonly<Record<string, ResourceType>>
  readonly bind: (target: Target) => HostFunctions
}

/** What the Linker puts in the imports: an `ImportFunction`, called with the guest's arguments. */
type Linked = (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, HostRefusal>
type Run = (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, HostRefusal | Refused>

/** Verdicts kept per guarded function (by resource); past this many, the cache starts over. */
const maxCachedVerdicts = 256

/** Capability name audited for an interface no host implements. */
const unimplemented = "Import"

/** The name the component's world imports `iface` (unversioned) under: with its version, if it has one. */
const importedName = (component: Component, iface: string): string =>
  component.world.imports.find((item) => unversioned(item.name) === iface)?.name ?? iface

/**
 * The functions a component imports from `iface` (camelCase), read from its core modules' import
 * sections: wit-component names a lowered import by its interface and function.
 */
export const importedFunctions = (component: Component, iface: string): ReadonlyArray<string> => {
  const names = new Set<string>()
  for (const module of component.loaded.modules.values()) {
    for (const item of WebAssembly.Module.imports(module)) {
      if (item.kind !== "function" || unversioned(item.module) !== iface || item.name.startsWith("[")) continue
      names.add(camelCase(item.name))
    }
  }
  return Array.from(names)
}

/** What one resource gets from a guarded function: fixed for the life of the link, as the grants are. */
interface Verdict {
  readonly capability: Capability.Kind
  readonly entry: Audit.Entry
  /** The refusal for a denied resource; `undefined` when granted. */
  readonly failed: Effect.Effect<never, HostRefusal> | undefined
  readonly onFailure: (cause: Cause.Cause<HostRefusal | Refused>) => Effect.Effect<never, HostRefusal>
  readonly recover: (cause: Cause.Cause<unknown>) => Effect.Effect<never, HostRefusal> | undefined
}

/**
 * Wraps one host function: the request is checked and audited before the implementation runs; a
 * denial never reaches it. Everything constant per function is computed here, once; everything
 * constant per resource (the decision, the audit entry, the refusal) on its first call.
 *
 * Two paths, one behaviour. The function itself (for any caller) does the check and audit in a
 * `withFiber` and maps a `Refused` with `catchCause`. The host bridge instead takes its
 * specialisation for the instance's context (`hostBridge.specialize`): the check is a Map hit, the
 * audit an O(1) append stamped from the context's `Clock`, both done before the bridge runs the
 * implementation's own Effect, unwrapped; only a failed call goes through `recover` (a `Refused`
 * audited and turned into `err`). When the audit cannot take the append that way (a full batch, a
 * failure kept, an audit without the fast path), the call takes the first path.
 */
const guard = (
  audit: AuditService,
  componentId: string,
  grants: Capability.Grants,
  capability: string,
  detail: string,
  spec: HostFunction
): Linked => {
  const run = spec.run as unknown as Run
  const toRequest = spec.request as ((...args: ReadonlyArray<unknown>) => Check.Request) | undefined
  const refused = (resource: string) => (refusal: Refused) =>
    Effect.flatMap(
      audit.record({
        kind: "capability",
        component: componentId,
        capability,
        resource: refusal.resource ?? resource,
        decision: "denied",
        detail: `${detail}: ${refusal.reason}`
      }),
      () => Effect.fail(new HostRefusal({ payload: refusal.message }))
    )
  // The audited refusal for a failure that is a `Refused`; `undefined` for any other.
  const recoverFor = (resource: string) => {
    const onRefused = refused(resource)
    return (cause: Cause.Cause<unknown>): Effect.Effect<never, HostRefusal> | undefined => {
      const error = Cause.findErrorOption(cause as Cause.Cause<HostRefusal | Refused>)
      return error._tag === "Some" && error.value._tag === "Refused" ? onRefused(error.value) : undefined
    }
  }
  // `catchCause` with a handler made once: `catch` / `catchTag` build a filter and a closure per call.
  const onFailureFor = (resource: string) => {
    const recover = recoverFor(resource)
    return (cause: Cause.Cause<HostRefusal | Refused>): Effect.Effect<never, HostRefusal> =>
      recover(cause) ?? Effect.failCause(cause as Cause.Cause<HostRefusal>)
  }
  if (toRequest === undefined) {
    const onFailure = onFailureFor(detail)
    const ungated: Linked = (...args) => Effect.catchCause(run(...args), onFailure)
    const recover = recoverFor(detail)
    return specializable(ungated, () => ({ call: (args) => run(...args), recover }))
  }
  const verdicts = new Map<string, Verdict>()
  const verdictOf = (request: Check.Request): Verdict => {
    const resource = Check.resourceOf(request)
    let verdict = verdicts.get(resource)
    if (verdict === undefined || verdict.capability !== request._tag) {
      if (verdicts.size >= maxCachedVerdicts) verdicts.clear()
      const decision = Check.check(grants, request)
      verdict = {
        capability: request._tag,
        // Frozen: the audit may keep its encoding for the next events of this verdict.
        entry: Object.freeze({ kind: "capability", component: componentId, capability: request._tag, resource, decision, detail }),
        // An error costs microseconds to construct (its stack trace): a guest repeating a denied
        // call gets the same refusal again.
        failed: decision === "denied"
          ? Effect.fail(new HostRefusal({ payload: Check.deniedMessage(componentId, request._tag, resource) }))
          : undefined,
        onFailure: onFailureFor(resource),
        recover: recoverFor(resource)
      }
      verdicts.set(resource, verdict)
    }
    return verdict
  }
  // An audit `Audit.make` built has a fast path (an append without an Effect); any other is `record`ed.
  const fast = fastPathOf(audit)
  const guarded: Linked = fast === undefined
    ? (...args) =>
      Effect.suspend(() => {
        const verdict = verdictOf(toRequest(...args))
        return Effect.flatMap(audit.record(verdict.entry), () => verdict.failed ?? Effect.catchCause(run(...args), verdict.onFailure))
      })
    : (...args) =>
      Effect.withFiber((fiber) => {
        const verdict = verdictOf(toRequest(...args))
        fast.recordUnsafe(verdict.entry, fiber)
        return verdict.failed ?? Effect.catchCause(run(...args), verdict.onFailure)
      })
  const recordAt = fast?.recordAtUnsafe
  if (recordAt === undefined) return guarded
  return specializable(guarded, (context) => {
    const clock = Context.get(context, Clock.Clock)
    return {
      call: (args, now) => {
        const verdict = verdictOf(toRequest(...args))
        // `now`: the bridge's reading for the call's deadline, when it took one.
        if (!recordAt(verdict.entry, now === now ? now : clock.currentTimeMillisUnsafe())) return guarded(...args)
        return verdict.failed ?? run(...args)
      },
      // Only a call that failed gets here, its verdict cached (unless the cache has started over since).
      recover: (cause, args) => verdictOf(toRequest(...args)).recover(cause)
    }
  })
}

const specializable = (
  fn: Linked,
  make: (context: Context.Context<never>) => Specialized
): Linked => Object.assign(fn, { [specialize]: make })

/**
 * A function nobody may call: every call is audited as denied and answered with `err(message)`. A WASI
 * function's `err` is a typed code (an `error-code` enum, a variant), which a message cannot be, so a
 * denied WASI call traps the guest with the message instead (as a call with no `result` does).
 */
const denyStub = (
  audit: AuditService,
  componentId: string,
  capability: string,
  iface: string,
  fn: string
): Linked => {
  const detail = `${iface}#${kebabCase(fn)}`
  const payload = capability === unimplemented
    ? `capability denied: ${iface} is not available to ${componentId}`
    : Check.deniedMessage(componentId, capability, iface)
  const typedErrors = iface.startsWith("wasi:")
  let failed: Effect.Effect<never, HostRefusal> | undefined
  return () =>
    Effect.flatMap(
      audit.record({ kind: "capability", component: componentId, capability, resource: iface, decision: "denied", detail }),
      () => failed ??= typedErrors ? Effect.die(new HostFailure(payload)) : Effect.fail(new HostRefusal({ payload }))
    )
}

const denyStubs = (
  audit: AuditService,
  component: Component,
  componentId: string,
  capability: string,
  required: string,
  iface: string,
  into: Record<string, Linked | ResourceType>
): Record<string, Linked | ResourceType> => {
  for (const fn of importedFunctions(component, required)) {
    if (into[fn] === undefined) into[fn] = denyStub(audit, componentId, capability, iface, fn)
  }
  return into
}

/** The host imports for one component: a span of its own, as linking is a cold path. */
export const link: (
  hosts: ReadonlyMap<string, BoundInterface>,
  audit: AuditService,
  component: Component,
  options: LinkOptions
) => Effect.Effect<HostImports, LinkError> = Effect.fn("Linker.link")(
  function*(hosts: ReadonlyMap<string, BoundInterface>, audit: AuditService, component: Component, options: LinkOptions) {
    const { grants, id } = options
    const denyUnlinked = options.denyUnlinked === true
    const imports: Record<string, Record<string, Linked | ResourceType>> = {}
    for (const required of component.loaded.imports) {
      const iface = importedName(component, required)
      const host = hosts.get(required)
      if (host === undefined) {
        yield* audit.record({
          kind: "capability",
          component: id,
          capability: unimplemented,
          resource: iface,
          decision: "denied",
          detail: "link: no host implementation"
        })
        if (!denyUnlinked) {
          return yield* new LinkError({
            interface: required,
            message: `component ${id} imports ${iface} but no implementation was found`
          })
        }
        imports[required] = denyStubs(audit, component, id, unimplemented, required, iface, {})
        continue
      }
      const capability = host.capability ?? iface
      const granted = host.linkable(grants, iface)
      if (host.capability !== undefined) {
        yield* audit.record({
          kind: "capability",
          component: id,
          capability,
          resource: iface,
          decision: granted ? "granted" : "denied",
          detail: "link"
        })
      }
      if (!granted) {
        if (!denyUnlinked) {
          return yield* new LinkError({
            interface: required,
            message: `component ${id} imports ${iface} but holds no ${capability} grant for it`
          })
        }
        imports[required] = denyStubs(audit, component, id, capability, required, iface, {})
        continue
      }
      const functions: Record<string, Linked | ResourceType> = { ...host.resources }
      for (const [fn, spec] of Object.entries(host.bind({ componentId: id, grants, interface: iface }))) {
        // A host function that waits cannot answer glue that calls it synchronously.
        const qualified = `${required}#${kebabCase(fn)}`
        if (spec.suspends === true && !component.loaded.suspending.includes(qualified) && importedFunctions(component, required).includes(fn)) {
          return yield* new LinkError({
            interface: required,
            function: kebabCase(fn),
            message: `component ${id} was loaded with ${qualified} synchronous, but this host's implementation waits: ` +
              `load it where the host's layer is provided (Component.SuspendingImports), or with LoadOptions.suspending`
          })
        }
        functions[fn] = guard(audit, id, grants, capability, `${iface}#${kebabCase(fn)}`, spec)
      }
      imports[required] = denyUnlinked
        ? denyStubs(audit, component, id, capability, required, iface, functions)
        : functions
    }
    // Not enumerable: the imports object stays a map of interfaces.
    Object.defineProperty(imports, linkedAs, { value: id })
    return imports
  }
)
