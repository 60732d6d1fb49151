/**
 * Hot deploy: version 2 of a component is registered while version 1 serves, the name's route
 * switches (blue-green) under traffic without losing a message, version 1 drains its mailbox and stops
 * gracefully, the switch is rolled back, and the component is unloaded — the host never restarts.
 *
 *   guests/greeter-v1.wat answers "hello, <payload>"
 *   guests/greeter-v2.wat answers "welcome back, <payload>"
 *
 * Run: node scripts/build-guests.ts greeter-v1 greeter-v2 && node examples/hot-deploy.ts
 */
import { Console, Effect, Fiber, Layer, Stream } from "effect"
import * as path from "node:path"
import { Audit, Component, DeadLetters, Deployment, Registry, Router } from "../src/index.ts"

const build = path.resolve(import.meta.dirname, "..", "build")
// Our own guests: memory cap as by default, but no fuel metering (a binaryen pass on first load). An
// untrusted plugin keeps `ResourceLimits.defaults`.
const trusted = { fuel: Infinity }
const encoder = new TextEncoder()
const decoder = new TextDecoder()

// The router records every message it refuses for lack of a grant: a memory audit keeps the latest.
const HostLive = Layer.mergeAll(Router.Router.layer, Deployment.Deployment.layer).pipe(
  Layer.provideMerge(Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 1000 })))
)

const load = (guest: string) =>
  Component.fromFile(path.join(build, "guests", `${guest}.wasm`), { cacheDirectory: path.join(build, "cache"), limits: trusted })

const program = Effect.gen(function*() {
  const deployment = yield* Deployment.Deployment
  const router = yield* Router.Router
  const registry = yield* Registry.Registry

  // Print the registry's lifecycle events as they happen.
  yield* Effect.forkScoped(
    Stream.runForEach(registry.events, (event) => Console.log(`    event: ${event._tag} ${event.entry.id}`)),
    { startImmediately: true }
  )
  const greet = (who: string) =>
    router.request("host", "greeter", encoder.encode(who)).pipe(
      Effect.map((reply) => decoder.decode(reply!)),
      Effect.catch((error) => Effect.succeed(`(${error._tag})`)),
      Effect.flatMap((answer) => Console.log(`greeter answers ${who}: ${answer}`))
    )
  const versions = Effect.flatMap(deployment.versions("greeter"), (vs) =>
    Console.log(`versions: ${vs.map((v) => `${v.version} ${v.status} (handled ${v.handled})`).join(", ") || "none"}`))

  yield* Console.log("deploy greeter v1")
  const blue = yield* deployment.deploy("greeter", "1", yield* load("greeter-v1"), { mailbox: { capacity: 8 } })
  yield* greet("ann")

  yield* Console.log("deploy greeter v2 beside it")
  const green = yield* deployment.deploy("greeter", "2", yield* load("greeter-v2"), { mailbox: { capacity: 8 } })
  yield* greet("bob")
  yield* versions

  yield* Console.log("switch to v2 while 500 messages are being sent to \"greeter\"")
  const before = [(yield* blue.ref.stats).handled, (yield* green.ref.stats).handled]
  const traffic = yield* Effect.forkChild(
    Effect.forEach(Array.from({ length: 500 }, (_, i) => i), (i) => router.send("host", "greeter", encoder.encode(`m${i}`)), {
      discard: true
    }),
    { startImmediately: true }
  )
  yield* deployment.promote("greeter", "2")
  yield* Fiber.join(traffic)
  yield* greet("cy") // v2 answers in order: everything sent before has been handled
  const handled1 = (yield* blue.ref.stats).handled - before[0]!
  const handled2 = (yield* green.ref.stats).handled - before[1]! - 1
  const letters = yield* (yield* DeadLetters.DeadLetters).letters
  yield* Console.log(
    `of 500 sent: v1 handled ${handled1} (then drained and stopped: ${blue.ref.status}), v2 ${handled2}; lost: ${500 - handled1 - handled2}; dead letters: ${letters.length}`
  )

  yield* Console.log("roll back to v1")
  yield* deployment.rollback("greeter")
  yield* greet("dee")
  yield* versions

  yield* Console.log("unload greeter")
  yield* deployment.unload("greeter")
  yield* greet("eve")
  yield* versions
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(HostLive))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
