/**
 * How-to: publish-subscribe (docs/how-to/pub-sub.md).
 *
 * Run from the repository root, after `node scripts/build-guests.ts`:
 *   node_modules/.bin/node docs/how-to/code/pub-sub.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import * as path from "node:path"
import { Actor, Audit, Capability, Component, DeadLetters, Registry, Router } from "airssys-wasm"

const guest = (name: string) => path.resolve(import.meta.dirname, "..", "..", "..", "build", "guests", `${name}.wasm`)
const text = (s: string): Uint8Array => new TextEncoder().encode(s)

// #region subscribers
// guests/flaky.wat logs every payload it gets (through the logging import) and answers with it.
const subscriber = (id: string, patterns: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const registry = yield* Registry.Registry
    const router = yield* Router.Router
    const ref = yield* Actor.spawn(yield* Component.fromFile(guest("flaky")), {
      id,
      imports: {
        "airssys:component/logging": {
          log: (_level: string, message: string) => Console.log(`  ${id} got ${message}`)
        }
      }
    })
    yield* registry.register(id, "1", ref, {
      grants: yield* Capability.decodeGrants(patterns.map((pattern) => ({ type: "Messaging", pattern })))
    })
    return ref
  })
// #endregion subscribers

// #region publish
const program = Effect.gen(function*() {
  const router = yield* Router.Router
  const eur = yield* subscriber("eur-desk", ["prices.eur"])
  const all = yield* subscriber("all-desks", ["prices.*"])
  const other = yield* subscriber("other", ["news.**"])

  yield* router.subscribe("eur-desk", "prices.eur")
  yield* router.subscribe("all-desks", "prices.eur")
  yield* router.subscribe("all-desks", "prices.usd")
  const refused = yield* Effect.flip(router.subscribe("other", "prices.eur"))
  yield* Console.log(`other may not subscribe: ${refused.message}`)

  yield* Console.log(`prices.eur → ${yield* router.publish("host", "prices.eur", text("1.08"))} subscribers`)
  yield* Console.log(`prices.usd → ${yield* router.publish("host", "prices.usd", text("0.92"))} subscribers`)
  yield* Console.log(`prices.gbp → ${yield* router.publish("host", "prices.gbp", text("1.27"))} subscribers`)

  // An actor publishes under its own grants.
  const denied = yield* Effect.flip(router.publish("other", "prices.eur", text("0.00")))
  yield* Console.log(`other may not publish: ${denied.message}`)

  // Delivery is a send into each subscriber's mailbox: wait until they have handled it.
  for (const ref of [eur, all, other]) yield* ref.request(text("sync"))

  // A subscriber that has stopped gets a dead letter instead.
  yield* eur.stop()
  yield* Console.log(`after eur-desk stopped: ${yield* router.publish("host", "prices.eur", text("1.09"))} subscriber`)
  const letters = yield* DeadLetters.DeadLetters.use((store) => store.letters)
  for (const letter of letters) yield* Console.log(`dead letter for ${letter.target} on ${letter.message.topic}: ${letter.reason}`)

  for (const event of yield* Audit.events) {
    yield* Console.log(`audit: ${event.component} ${event.capability} ${event.resource} ${event.decision}`)
  }
})
// #endregion publish

// #region layers
const Messaging = Router.Router.layer.pipe(
  Layer.provideMerge(Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 100 })))
)
// #endregion layers

NodeRuntime.runMain(program.pipe(Effect.scoped, Effect.provide(Messaging)))
