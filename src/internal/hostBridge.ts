/**
 * The one place where a guest's call into the host enters an Effect runtime.
 *
 * Each host function is an Effect run synchronously in the context captured at instantiate. A
 * `HostRefusal` becomes the import's `err` value for the guest; anything else (a defect, an interruption,
 * an effect that is not synchronous) throws through the guest, which the calling `Instance` then reports
 * as a `Trap` and poisons.
 *
 * @internal
 */
import { Cause, Context, Effect, Exit } from "effect"
import type { HostRefusal } from "../ComponentError.ts"
import { unversioned } from "./witWorld.ts"

/**
 * A host function: guest arguments in (as jco lifts them), an Effect out. Fail with `HostRefusal` to
 * answer the guest with `err(payload)`.
 *
 * @since 0.1.0
 */
export type HostFunction<R = never> = (...args: never) => Effect.Effect<unknown, HostRefusal, R>

/**
 * Host functions by interface (`airssys:component/logging`, version optional) and function name.
 *
 * @since 0.1.0
 */
export type HostImports<R = never> = Readonly<Record<string, Readonly<Record<string, HostFunction<R>>>>>

/** Thrown through the guest when a host function fails other than by refusing. */
export class HostFailure extends Error {
  override readonly name = "HostFailure"
}

type Callable<R> = (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, HostRefusal, R>

const bridgeFunction = <R>(name: string, fn: Callable<R>, context: Context.Context<R>) => {
  const run = Effect.runSyncExitWith(context)
  return (...args: ReadonlyArray<unknown>): unknown => {
    const exit = run(fn(...args))
    if (Exit.isSuccess(exit)) return exit.value
    const refusal = Cause.findErrorOption(exit.cause)
    if (refusal._tag === "Some") throw { payload: refusal.value.payload }
    throw new HostFailure(`host function ${name} failed: ${Cause.pretty(exit.cause)}`)
  }
}

/** An import function the component asked for at instantiate that nobody provides. */
export interface Unlinked {
  readonly interface: string
  readonly function: string
}

/**
 * Builds jco's imports object. jco reads each import function once, at instantiate: a read of a function
 * nobody provides is recorded in `unlinked` (so the caller can fail with a `LinkError` naming it) and
 * answered with a function that traps if ever called.
 */
export const bridgeImports = <R>(
  imports: HostImports<R>,
  context: Context.Context<R>
): { readonly imports: object; readonly unlinked: ReadonlyArray<Unlinked> } => {
  const bridged: Record<string, Record<string, unknown>> = {}
  const unlinked: Array<Unlinked> = []
  for (const [iface, functions] of Object.entries(imports)) {
    const name = unversioned(iface)
    const target: Record<string, unknown> = {}
    for (const [fnName, fn] of Object.entries(functions)) {
      target[fnName] = bridgeFunction(`${name}.${fnName}`, fn as unknown as Callable<R>, context)
    }
    bridged[name] = new Proxy(target, {
      get: (target, key) => {
        if (typeof key !== "string" || key in target) return Reflect.get(target, key)
        const missing = { interface: name, function: kebabCase(key) }
        unlinked.push(missing)
        return () => {
          throw new HostFailure(`${missing.interface}.${missing.function} is not linked`)
        }
      }
    })
  }
  return { imports: bridged, unlinked }
}

const kebabCase = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
