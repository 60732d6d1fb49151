/**
 * Instantiating a loaded component: the host functions bound (before any guest code runs, so a start
 * function may already call them), a warm pool's prepared instance taken when there is one, the start
 * code metered, and the failure named. `Component.instantiate` is the public way in; an actor's (re)start
 * calls `instantiateUnsafe` directly, in its own fiber step.
 *
 * @internal
 */
import { Clock, Context, Duration, Effect, type Scope } from "effect"
import type { Audit } from "../../Audit.ts"
import type { Resolved } from "../../ResourceLimits.ts"
import { LimitExceeded, LinkError, Trap, WasmMemoryExhausted } from "../componentError.ts"
import { type HostImports, linkedIdOf, makeBinding } from "../host/hostBridge.ts"
import * as Jco from "../jco.ts"
import type { Component } from "../load/component.ts"
import { unversioned } from "../witName.ts"
import { type FuelHost, makeFuelHost } from "./fuelMeter.ts"
import { bind, type InstanceInternal, make } from "./instance.ts"
import * as Pool from "./instancePool.ts"
import { makeIsolated } from "./isolatedInstance.ts"

/** How instantiating can fail (see `Component.InstantiateError`). */
export type InstantiateError = LinkError | Trap | LimitExceeded | WasmMemoryExhausted

/**
 * `Component.instantiate`, with the instance's internal interface. `audit`, when given, hears of the
 * instance's first trap or limit kill.
 */
export const instantiate = <R>(
  component: Component,
  hostImports: HostImports<R>,
  audit: Audit["Service"] | undefined
): Effect.Effect<InstanceInternal, InstantiateError, Scope.Scope | R> =>
  Effect.contextWith((context: Context.Context<R>) => {
    const made = instantiateUnsafe(component, hostImports, context, audit)
    if (made === undefined) return makeIsolated(component, hostImports, auditPoisoning(component, audit, context, hostImports))
    if (isInstantiateError(made)) return Effect.fail(made)
    return Effect.acquireRelease(Effect.succeed(made), (instance) => Effect.sync(() => instance.close()))
  })

/** Whether `instantiateUnsafe`'s answer is a failure. */
export const isInstantiateError = (made: unknown): made is InstantiateError =>
  made instanceof LinkError || made instanceof Trap || made instanceof LimitExceeded || made instanceof WasmMemoryExhausted

/**
 * The fuel host of one instantiation: `instantiateFuel`, and the timeout read from `clock`
 * (an unmetered component's core modules never ask it for fuel).
 */
export const instantiateFuelHost = (limits: Resolved, clock: Clock.Clock): FuelHost => {
  const timeoutMillis = Duration.toMillis(limits.timeout)
  if (!Number.isFinite(timeoutMillis)) return makeFuelHost({ units: limits.instantiateFuel })
  // The clock is read from the first refill on, which is where start code begins (the fuel globals start
  // at 0): a component without start code never reads it.
  let deadline: number | undefined
  return makeFuelHost({
    units: limits.instantiateFuel,
    expired: () => {
      const now = clock.currentTimeMillisUnsafe()
      deadline ??= now + timeoutMillis
      return now > deadline
    }
  })
}

/** What the start code's failure was: a limit when the instantiate budget stopped it. */
const instantiateFailure = (
  component: Component,
  fuel: FuelHost,
  failure: Jco.Failure
): LimitExceeded | Trap | WasmMemoryExhausted => {
  if (failure._tag === "Exhausted") {
    return new WasmMemoryExhausted({ componentHash: component.hash, function: "instantiate", cause: failure.message })
  }
  const stopped = fuel.instantiateStopped()
  if (stopped === "fuel") {
    return new LimitExceeded({
      limit: "fuel",
      componentHash: component.hash,
      phase: "instantiate",
      allowed: component.limits.instantiateFuel
    })
  }
  if (stopped === "timeout") {
    return new LimitExceeded({
      limit: "timeout",
      componentHash: component.hash,
      phase: "instantiate",
      allowed: Duration.toMillis(component.limits.timeout)
    })
  }
  return new Trap({ componentHash: component.hash, function: "instantiate", message: failureMessage(failure) })
}


/**
 * `instantiate` now, in the caller's stack and without a scope (the caller closes the
 * instance): what an actor's (re)start does, with no effect machinery between it and a warm pool's
 * prepared instance. `undefined` for a worker-isolated component, which only `instantiate` makes.
 */
export const instantiateUnsafe = <R>(
  component: Component,
  hostImports: HostImports<R>,
  context: Context.Context<R>,
  audit: Audit["Service"] | undefined
): InstanceInternal | InstantiateError | undefined => {
  if (component.loaded.imports.length > 0) {
    const provided = new Set(Object.keys(hostImports).map(unversioned))
    const missingInterface = component.loaded.imports.find((required) => !provided.has(required))
    if (missingInterface !== undefined) {
      return new LinkError({
        interface: missingInterface,
        message: `component imports ${missingInterface} but no implementation was found`
      })
    }
  }
  if (component.limits.isolation === "worker") return undefined
  const pooled = Pool.take(component.loaded, Pool.limitsKey(component.limits))
  if (pooled !== undefined) {
    // Nothing of the guest runs here: the pool already instantiated it.
    pooled.binding.bind(hostImports, context)
    return linked(component, pooled, context, hostImports, audit)
  }
  const fuel = instantiateFuelHost(component.limits, Context.get(context, Clock.Clock))
  return Jco.attempt(
    (): Pool.Prepared => {
      // Bound before instantiating, so a start function may already call its imports.
      const binding = makeBinding(component.loaded.imports, component.loaded.suspending)
      binding.bind(hostImports, context)
      const instantiated = Jco.instantiate(component.loaded, binding.imports, fuel)
      return { binding, instantiated, bound: bind(component.loaded, instantiated) }
    },
    (prepared): InstanceInternal | InstantiateError => linked(component, prepared, context, hostImports, audit),
    (failure) => instantiateFailure(component, fuel, failure)
  )
}

const linked = <R>(
  component: Component,
  prepared: Pool.Prepared,
  context: Context.Context<R>,
  hostImports: HostImports<R>,
  audit: Audit["Service"] | undefined
): InstanceInternal | LinkError => {
  const missing = prepared.binding.unlinked()
  if (missing === undefined) {
    return make(
      component,
      prepared.instantiated,
      Context.get(context, Clock.Clock),
      prepared.bound,
      prepared.binding.abort,
      prepared.binding.endCall,
      prepared.binding.watch,
      auditPoisoning(component, audit, context, hostImports)
    )
  }
  return new LinkError({
    interface: missing.interface,
    function: missing.function,
    message: `component imports ${missing.interface}#${missing.function} but no implementation was found`
  })
}

/**
 * With an `Audit`, an instance's first trap or limit kill (which poisons it) is a
 * lifecycle event: `trapped` (the trap's message), or `limit-exceeded` with the limit and its value.
 * The component is named by the id the Linker linked it as, else by its hash.
 */
const auditPoisoning = <R>(
  component: Component,
  audit: Audit["Service"] | undefined,
  context: Context.Context<R>,
  hostImports: HostImports<R>
): ((error: Trap | LimitExceeded) => void) | undefined => {
  if (audit === undefined) return undefined
  const id = linkedIdOf(hostImports) ?? `component:${component.hash.slice(0, 12)}`
  const run = Effect.runForkWith(context)
  return (error) => {
    run(audit.record(
      error._tag === "LimitExceeded"
        ? { kind: "lifecycle", component: id, action: "limit-exceeded", limit: error.limit, value: error.allowed, detail: `${error.function}: ${error.message}` }
        : { kind: "lifecycle", component: id, action: "trapped", detail: `${error.function}: ${error.message}` }
    ))
  }
}

const failureMessage = (failure: Jco.Failure): string =>
  failure._tag === "GuestErr"
    ? `start function returned an error: ${String(failure.payload)}`
    : failure._tag === "Exit"
    ? `the guest exited with code ${failure.code} while it was instantiated`
    : failure.message

