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
import { suspendingImports } from "./jco.ts"
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

// What the guest sees of an exit: the value, `err(payload)` for a refusal, a trap for anything else.
const settle = (name: string, exit: Exit.Exit<unknown, HostRefusal>): unknown => {
  if (Exit.isSuccess(exit)) return exit.value
  const refusal = Cause.findErrorOption(exit.cause)
  if (refusal._tag === "Some") throw { payload: refusal.value.payload }
  throw new HostFailure(`host function ${name} failed: ${Cause.pretty(exit.cause)}`)
}

const bridgeFunction = <R>(name: string, fn: Callable<R>, context: Context.Context<R>) => {
  // A suspending import (JSPI) returns a promise the guest's stack waits on; every other import runs
  // synchronously, as the guest's stack cannot wait for it.
  if (suspendingImports.includes(name)) {
    const runAsync = Effect.runPromiseExitWith(context)
    return (...args: ReadonlyArray<unknown>): Promise<unknown> =>
      runAsync(fn(...args)).then((exit) => settle(name, exit))
  }
  const run = Effect.runSyncExitWith(context)
  return (...args: ReadonlyArray<unknown>): unknown => settle(name, run(fn(...args)))
}

/** An import function the component asked for at instantiate that nobody provides. */
export interface Unlinked {
  readonly interface: string
  readonly function: string
}

/**
 * The host side of one instance's imports, bound separately from instantiation. jco reads each import
 * function once, at instantiate, and keeps it: so it gets a trampoline that calls whatever is bound. That
 * is what lets an instance be prepared ahead (a warm pool) and linked when it is taken, and what will let
 * a capability be revoked while an instance lives.
 */
export interface Binding {
  /** jco's imports object: one entry per interface the component imports. */
  readonly imports: object
  /** Links host functions (replacing any bound before). */
  bind<R>(imports: HostImports<R>, context: Context.Context<R>): void
  /** The first function jco asked for that nothing bound provides. */
  unlinked(): Unlinked | undefined
}

type Target = Record<string, (...args: ReadonlyArray<unknown>) => unknown>

export const makeBinding = (interfaces: ReadonlyArray<string>): Binding => {
  const wanted: Array<Unlinked> = []
  const targets = new Map<string, Target>()
  const imports: Record<string, object> = {}
  for (const iface of interfaces) {
    const target: Target = {}
    targets.set(iface, target)
    const trampolines: Record<string, unknown> = {}
    imports[iface] = new Proxy(trampolines, {
      get: (cache, key) => {
        if (typeof key !== "string") return undefined
        let trampoline = cache[key]
        if (trampoline === undefined) {
          const name = key
          const want = { interface: iface, function: kebabCase(name) }
          wanted.push(want)
          trampoline = cache[key] = (...args: ReadonlyArray<unknown>) => {
            const fn = target[name]
            if (fn === undefined) throw new HostFailure(`${want.interface}#${want.function} is not linked`)
            return fn(...args)
          }
        }
        return trampoline
      }
    })
  }
  return {
    imports,
    bind: <R>(provided: HostImports<R>, context: Context.Context<R>) => {
      for (const [name, functions] of Object.entries(provided)) {
        const target = targets.get(unversioned(name))
        if (target === undefined) continue
        for (const [fnName, fn] of Object.entries(functions)) {
          target[fnName] = bridgeFunction(`${unversioned(name)}#${kebabCase(fnName)}`, fn as unknown as Callable<R>, context)
        }
      }
    },
    unlinked: () => wanted.find((want) => targets.get(want.interface)?.[camelCase(want.function)] === undefined)
  }
}

const kebabCase = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
const camelCase = (name: string): string => name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())
