/**
 * `wasi:cli/environment` for guests: the environment variables, arguments and initial working
 * directory a program reads at start (Rust's `std::env`, wasi-libc's `environ` and `argv`, QuickJS's
 * and componentize-js's runtimes, all of them during their initialisation).
 *
 * Deny by default, without breaking the guest: a component with no `Environment` grant sees an empty
 * environment and no arguments (the interface links, so toolchain-built components instantiate; the
 * functions have no `result` to refuse with). An `Environment` grant (`Capability.Environment`, or
 * `{ "type": "Environment", "variables": { ... }, "arguments": [...] }` in config) gives exactly the
 * variables and arguments it spells out; the host's own environment is never read. Every call is
 * audited under the capability `Environment`: `granted` with what was handed out, `denied` (and
 * answered empty) without a grant. `initial-cwd` is always `none`.
 *
 * `layer` answers from the grants; `layerDeny` answers empty whatever the grants say.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import * as Audit from "../Audit.ts"
import * as Capability from "../Capability.ts"
import * as Linker from "../Linker.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * The WIT interface this module implements.
 *
 * @since 0.1.0
 * @category models
 */
export const interfaceName = "wasi:cli/environment"

/**
 * What one component sees.
 *
 * @since 0.1.0
 * @category models
 */
export interface View {
  readonly variables: ReadonlyArray<readonly [string, string]>
  readonly arguments: ReadonlyArray<string>
  /** Whether an `Environment` grant gave it (audited `granted`), or it is the empty default (`denied`). */
  readonly granted: boolean
}

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------

/**
 * What each component sees of its environment.
 *
 * @since 0.1.0
 * @category services
 */
export class Environment extends Context.Service<Environment, {
  readonly view: (component: string, grants: Capability.Grants) => View
}>()("airssys-wasm/Environment") {}

// -----------------------------------------------------------------------------
// host interface
// -----------------------------------------------------------------------------

const holdsGrant = (grants: Capability.Grants): boolean =>
  grants.capabilities.some((grant) => grant._tag === "Environment")

/**
 * How the Linker links `wasi:cli/environment` to the `Environment` service. Ungated at link time (a
 * component without a grant gets empty answers); each call is checked and audited here.
 *
 * @since 0.1.0
 * @category models
 */
export const hostInterface: Linker.HostInterface<Environment | Audit.Audit> = Linker.hostInterface({
  name: interfaceName,
  make: Effect.gen(function*() {
    const environment = yield* Environment
    const audit = yield* Audit.Audit
    return (target) => {
      const view = environment.view(target.componentId, target.grants)
      const answer = <A>(fn: string, resource: string, value: A, empty: A, count: number) =>
        Effect.as(
          audit.record({
            kind: "capability",
            component: target.componentId,
            capability: "Environment",
            resource,
            decision: view.granted ? "granted" : "denied",
            detail: `${target.interface}#${fn}: ${view.granted ? `${count} given` : "no Environment grant, answered empty"}`
          }),
          view.granted ? value : empty
        )
      const variables = view.variables.map(([name, value]) => [name, value])
      return {
        getEnvironment: {
          run: () => Effect.suspend(() => answer("get-environment", "variables", variables.map((pair) => [...pair]), [], variables.length))
        },
        getArguments: {
          run: () => Effect.suspend(() => answer("get-arguments", "arguments", [...view.arguments], [], view.arguments.length))
        },
        initialCwd: { run: () => Effect.succeed(undefined) }
      }
    }
  })
})

/**
 * Everything `wasi:cli/environment` needs (for symmetry with the other modules' `hostInterfaces`).
 *
 * @since 0.1.0
 * @category models
 */
export const hostInterfaces: ReadonlyArray<Linker.HostInterface<Environment | Audit.Audit>> = [hostInterface]

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * Each component sees what its `Environment` grants give (`Capability.environmentOf`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Environment> = Layer.succeed(
  Environment,
  Environment.of({
    view: (_component, grants) => ({ ...Capability.environmentOf(grants), granted: holdsGrant(grants) })
  })
)

/**
 * Every component sees an empty environment and no arguments, whatever its grants (audited `denied`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDeny: Layer.Layer<Environment> = Layer.succeed(
  Environment,
  Environment.of({ view: () => ({ variables: [], arguments: [], granted: false }) })
)
