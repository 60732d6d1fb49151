/**
 * A host with real wasm actors and an observer, for the observer's HTTP and browser tests: a deployed
 * `flaky` (traps on a payload starting with "trap"), a `messenger` granted messaging to `flaky` only (so
 * asking it to reach `storage` is an audited denial), and a `greeter` with two versions.
 */
import { Effect, Layer } from "effect"
import { Audit, Capability, Component, DeadLetters, Deployment, Linker, Logging, Messaging, Registry, Router } from "../src/index.ts"
import { Observer } from "../src/observer/index.ts"
import { guestPath, text } from "./fixtures.ts"

export const load = (name: string) => Component.fromFile(guestPath(name), { limits: { fuel: 10_000_000 } })

/** Observer over a fresh registry, router, deployments, linker and in-memory audit. */
export const hostLayer = (options?: Observer.Options) =>
  Observer.layer(options).pipe(
    Layer.provideMerge(Deployment.Deployment.layer),
    Layer.provideMerge(Linker.layer([Messaging.hostInterface, Logging.hostInterface])),
    Layer.provideMerge(Layer.mergeAll(Messaging.layer, Logging.layer)),
    Layer.provideMerge(Router.Router.layer),
    Layer.provideMerge(Layer.mergeAll(Registry.Registry.layer, Audit.layerMemory({ capacity: 1000 })))
  )

/** Runs `f` on a fresh host (own dead letters) with an observer made with `options`. */
export const withHost = <A, E, R>(f: Effect.Effect<A, E, R>, options?: Observer.Options) =>
  f.pipe(
    Effect.provide(hostLayer(options)),
    Effect.provideService(DeadLetters.DeadLetters, DeadLetters.makeStore())
  )

/** A messenger command: an op byte, then fields each prefixed by one length byte. */
export const command = (op: string, ...fields: Array<string>) =>
  text(op + fields.map((field) => String.fromCharCode(field.length) + field).join(""))

/** Deploys flaky@1, messenger@1 (may message flaky only) and greeter@1, and runs a few messages through. */
export const deployDemo = Effect.gen(function*() {
  const deployment = yield* Deployment.Deployment
  const router = yield* Router.Router
  yield* deployment.deploy("flaky", "1", yield* load("flaky"), {
    grants: Capability.makeGrants([new Capability.Custom({ interface: Logging.interfaceName, scope: "*" })])
  })
  yield* deployment.deploy("messenger", "1", yield* load("messenger"), {
    grants: Capability.makeGrants([new Capability.Messaging({ pattern: "flaky" })])
  })
  yield* deployment.deploy("greeter", "1", yield* load("greeter-v1"))
  for (const who of ["ann", "bob", "cy"]) yield* router.request("host", "greeter", text(who))
  yield* router.request("host", "flaky", text("hello"))
})

/** Makes flaky trap on one message (it goes to dead letters; its supervisor restarts it). */
export const trapFlaky = Router.Router.use((router) => router.send("host", "flaky", text("trap: poison")))

/** Asks messenger to send to `storage`, which it was not granted: a denied, audited capability check. */
export const denyMessenger = Router.Router.use((router) =>
  Effect.flip(router.request("host", "messenger", command("s", "storage", "9:EVIL")))
)
