/**
 * How-to: publish-subscribe (docs/how-to/pub-sub.md).
 *
 * Run from the repository root, after `node scripts/build-guests.ts`:
 *   node_modules/.bin/node docs/how-to/code/pub-sub.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import * as path from "node:path"
import { Actor, Audit, Capability, Component, DeadLetters, Linker, Logging, Messaging, Registry, Router } from "airssys-wasm"

const guest = (name: string) => path.resolve(import.meta.dirname, "..", "..", "..", "build", "guests", `${name}.wasm`)
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const decode = (bytes: Uint8Array | undefined): string => new TextDecoder().decode(bytes)

// #region layers
// The router (with an audit log for its denials), the messaging host interface over it, and guests'
// log lines printed with their component id.
const Routing = Router.Router.layer.pipe(
  Layer.provideMerge(Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 100 })))
)
const PrintedLogs = Layer.succeed(
  Logging.Logging,
  Logging.Logging.of({ log: (component, level, message) => Console.log(`  [${component} ${level}] ${message}`) })
)
const Host = Linker.layer([Logging.hostInterface, Messaging.hostInterface]).pipe(
  Layer.provideMerge(Layer.merge(Messaging.layer, PrintedLogs)),
  Layer.provideMerge(Routing)
)
// #endregion layers

// #region subscribers
// guests/messenger.wat drives the messaging imports from its payload: "u" TOPIC subscribes, "p" TOPIC
// PAYLOAD publishes (each field prefixed by its length). It logs every topic message it gets (the topic
// at debug, the payload at info) and answers with it.
const command = (op: "p" | "u", ...fields: ReadonlyArray<string>) =>
  new Uint8Array([op.charCodeAt(0), ...fields.flatMap((field) => [field.length, ...text(field)])])

// A guest linked and registered as `id`, with Messaging grants on `patterns`: the Linker links the
// messaging interface because it holds one, and the router checks each message against them.
const messenger = (id: string, patterns: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const registry = yield* Registry.Registry
    const component = yield* Component.fromFile(guest("messenger"))
    const grants = yield* Capability.decodeGrants(patterns.map((pattern) => ({ type: "Messaging", pattern })))
    const imports = yield* Linker.imports(component, { id, grants })
    const ref = yield* Actor.spawn(component, { id, imports, hooks: registry.hooks })
    yield* registry.register(id, "1", ref, { grants })
    return ref
  })

// Tell a guest what to do; its answer, or its `err`, as text.
const tell = (ref: Actor.ActorRef, payload: Uint8Array) =>
  ref.request(payload).pipe(
    Effect.map(decode),
    Effect.catch((error) => Effect.succeed(error._tag === "GuestError" ? `err ${String(error.payload)}` : error._tag))
  )
// #endregion subscribers

// #region publish
const program = Effect.gen(function*() {
  const router = yield* Router.Router
  const eur = yield* messenger("eur-desk", ["prices.eur"])
  const all = yield* messenger("all-desks", ["prices.*"])
  const news = yield* messenger("news-desk", ["news.**"])
  const feed = yield* messenger("feed", ["prices.*"])

  // Guests subscribe themselves, under their own grants.
  yield* Console.log(`eur-desk subscribes prices.eur: ${yield* tell(eur, command("u", "prices.eur"))}`)
  yield* Console.log(`all-desks subscribes prices.eur: ${yield* tell(all, command("u", "prices.eur"))}`)
  yield* Console.log(`all-desks subscribes prices.usd: ${yield* tell(all, command("u", "prices.usd"))}`)
  yield* Console.log(`news-desk subscribes prices.eur: ${yield* tell(news, command("u", "prices.eur"))}`)
  yield* Console.log(`subscribers of prices.eur: ${(yield* router.subscribers("prices.eur")).join(", ")}`)

  // A guest publishes; so can the host, which learns how many subscribers got it.
  yield* Console.log(`feed publishes on prices.eur: ${yield* tell(feed, command("p", "prices.eur", "1.08"))}`)
  yield* Console.log(`news-desk publishes on prices.eur: ${yield* tell(news, command("p", "prices.eur", "0.00"))}`)
  yield* Console.log(`host publishes on prices.usd: ${yield* router.publish("host", "prices.usd", text("0.92"))} subscriber(s)`)

  // Delivery is a send into each subscriber's mailbox: wait until they have handled it.
  for (const ref of [eur, all]) yield* ref.request(text("done"))

  // A subscriber that stops leaves the registry (its hooks), and the router drops its subscriptions.
  yield* eur.stop()
  yield* Console.log(`after eur-desk stopped: ${yield* router.publish("host", "prices.eur", text("1.09"))} subscriber(s)`)
  yield* all.request(text("done"))
  const letters = yield* DeadLetters.DeadLetters.use((store) => store.letters)
  yield* Console.log(`subscribers of prices.eur: ${(yield* router.subscribers("prices.eur")).join(", ")}; dead letters: ${letters.length}`)

  for (const event of yield* Audit.events) {
    if (event.decision === "denied") yield* Console.log(`audit: ${event.component} ${event.capability} ${event.resource} ${event.decision}`)
  }
})
// #endregion publish

NodeRuntime.runMain(program.pipe(Effect.scoped, Effect.provide(Host)))
