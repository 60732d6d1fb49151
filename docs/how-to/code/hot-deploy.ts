/**
 * How-to: hot deploy (docs/how-to/hot-deploy.md).
 *
 * Run from the repository root, after `node scripts/build-guests.ts`:
 *   node_modules/.bin/node docs/how-to/code/hot-deploy.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Fiber, Layer, Stream } from "effect"
import * as path from "node:path"
import { Audit, Component, DeadLetters, Deployment, Registry, Router } from "airssys-wasm"

const guest = (name: string) => path.resolve(import.meta.dirname, "..", "..", "..", "build", "guests", `${name}.wasm`)
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const decode = (bytes: Uint8Array | undefined): string => new TextDecoder().decode(bytes)

// #region layers
// A deployment manager over the registry; the router reaches what it deploys by name and records what it
// refuses in the audit log.
const Host = Layer.mergeAll(Router.Router.layer, Deployment.Deployment.layer).pipe(
  Layer.provideMerge(Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 1000 })))
)
// #endregion layers

// #region helpers
// guests/greeter-v1.wat answers "hello, <payload>"; guests/greeter-v2.wat "welcome back, <payload>".
const greet = (who: string) =>
  Router.Router.use((router) => router.request("host", "greeter", text(who))).pipe(
    Effect.map(decode),
    Effect.catch((error) => Effect.succeed(`(${error._tag})`)),
    Effect.flatMap((answer) => Console.log(`greeter answers ${who}: ${answer}`))
  )

const versions = Deployment.Deployment.use((deployment) => deployment.versions("greeter")).pipe(
  Effect.flatMap((all) => Console.log(`versions: ${all.map((v) => `${v.version} ${v.status}`).join(", ") || "none"}`))
)

// The registry's lifecycle events, printed as they happen.
const watchEvents = Effect.gen(function*() {
  const registry = yield* Registry.Registry
  yield* Effect.forkScoped(
    Stream.runForEach(registry.events, (event) => Console.log(`  event: ${event._tag} ${event.entry.id}`)),
    { startImmediately: true }
  )
})
// #endregion helpers

// #region deploy
const program = Effect.gen(function*() {
  const deployment = yield* Deployment.Deployment
  const router = yield* Router.Router
  yield* watchEvents

  // The first version of a name is routed at once.
  const v1 = yield* deployment.deploy("greeter", "1", yield* Component.fromFile(guest("greeter-v1")), { mailbox: { capacity: 8 } })
  yield* greet("ann")

  // A later version starts beside it, on standby: reachable as greeter@2, not by name.
  const v2 = yield* deployment.deploy("greeter", "2", yield* Component.fromFile(guest("greeter-v2")), { mailbox: { capacity: 8 } })
  yield* greet("bob")
  yield* versions

  // Switch under traffic: 300 messages are being sent by name while the route changes.
  const before = [(yield* v1.ref.stats).handled, (yield* v2.ref.stats).handled]
  const traffic = yield* Effect.forkChild(
    Effect.forEach(Array.from({ length: 300 }, (_, i) => i), (i) => router.send("host", "greeter", text(`m${i}`)), { discard: true }),
    { startImmediately: true }
  )
  yield* deployment.promote("greeter", "2")
  yield* Fiber.join(traffic)
  yield* greet("cy") // v2 answers in order: everything sent before has been handled
  const handled1 = (yield* v1.ref.stats).handled - before[0]!
  const handled2 = (yield* v2.ref.stats).handled - before[1]! - 1 // not "cy"
  const letters = yield* DeadLetters.DeadLetters.use((store) => store.letters)
  // How the 300 split between v1 and v2 depends on timing; the sum does not.
  yield* Console.log(`of 300 sent: ${handled1 + handled2} handled by v1 or v2; dead letters: ${letters.length}; v1 is ${v1.ref.status}`)
  yield* versions

  // Back to v1 (a fresh instance); v2 drains and stops.
  yield* deployment.rollback("greeter")
  yield* greet("dee")
  yield* versions
})
// #endregion deploy

// #region failures
const failures = Effect.gen(function*() {
  const deployment = yield* Deployment.Deployment
  // messenger imports logging and messaging; this host links neither, so it cannot start.
  const failed = yield* Effect.flip(deployment.deploy("greeter", "3", yield* Component.fromFile(guest("messenger"))))
  yield* Console.log(`deploy v3: ${failed._tag === "DeploymentError" ? failed.reason : failed._tag}`)
  yield* greet("eve") // still served by v1
  const again = yield* Effect.flip(deployment.rollback("greeter"))
  yield* Console.log(`rollback again: ${again.reason}`)

  // Unload: the name is gone; messages to it are dead letters (UnknownTarget). The host serves on.
  yield* deployment.unload("greeter")
  yield* greet("fay")
  yield* versions
})
// #endregion failures

NodeRuntime.runMain(Effect.andThen(program, failures).pipe(Effect.scoped, Effect.provide(Host)))
