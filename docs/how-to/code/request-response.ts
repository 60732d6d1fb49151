/**
 * How-to: request-response (docs/how-to/request-response.md).
 *
 * Run from the repository root, after `node scripts/build-guests.ts`:
 *   node_modules/.bin/node docs/how-to/code/request-response.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import * as path from "node:path"
import { Actor, Audit, Capability, Component, DeadLetters, Linker, Messaging, Registry, Router } from "airssys-wasm"

const guest = (name: string) => path.resolve(import.meta.dirname, "..", "..", "..", "build", "guests", `${name}.wasm`)
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const u32 = (bytes: Uint8Array | undefined): number => new DataView(bytes!.buffer, bytes!.byteOffset).getUint32(0, true)

// #region actor
// guests/lifecycle.wat answers every message with how many it has handled (u32, little-endian).
const askAnActor = Effect.gen(function*() {
  const counter = yield* Actor.spawn(yield* Component.fromFile(guest("lifecycle")), { id: "counter" })
  const reply = yield* counter.request(text("hi"), { timeout: "2 seconds", sender: "me" })
  yield* Console.log(`counter answered ${u32(reply)}`)
})
// #endregion actor

// #region timeout
const timeout = Effect.gen(function*() {
  // Made but not running yet: nobody will answer in time.
  const late = yield* Actor.make(yield* Component.fromFile(guest("lifecycle")), { id: "late" })
  const error = yield* Effect.flip(late.request(text("anyone?"), { timeout: "100 millis" }))
  yield* Console.log(`${error._tag}: ${error.message}`)

  // When the actor does start, the expired request is not handled: it is a dead letter.
  yield* Effect.forkScoped(late.run, { startImmediately: true })
  yield* Console.log(`next reply: ${u32(yield* late.request(text("now?")))}`)
  const letters = yield* DeadLetters.DeadLetters.use((store) => store.letters)
  yield* Console.log(`dead letters: ${letters.map((letter) => `${letter.target} ${letter.reason}`).join(", ")}`)
})
// #endregion timeout

// #region router
const throughTheRouter = Effect.gen(function*() {
  const registry = yield* Registry.Registry
  const router = yield* Router.Router
  const component = yield* Component.fromFile(guest("lifecycle"))

  const counter = yield* Actor.spawn(component, { id: "counter@1" })
  yield* registry.register("counter", "1", counter)
  // An actor that may message the counter, and one that may not.
  const client = yield* Actor.spawn(component, { id: "client" })
  yield* registry.register("client", "1", client, {
    grants: yield* Capability.decodeGrants([{ type: "Messaging", pattern: "counter" }])
  })
  const stranger = yield* Actor.spawn(component, { id: "stranger" })
  yield* registry.register("stranger", "1", stranger)

  yield* Console.log(`host → counter: ${u32(yield* router.request("host", "counter", text("x")))}`)
  yield* Console.log(`client → counter: ${u32(yield* router.request("client", "counter", text("x")))}`)
  const denied = yield* Effect.flip(router.request("stranger", "counter", text("x")))
  yield* Console.log(`stranger → counter: ${denied._tag}: ${denied.message}`)
  const nobody = yield* Effect.flip(router.request("host", "nobody", text("x")))
  yield* Console.log(`host → nobody: ${nobody._tag}: ${nobody.message}`)
})
// #endregion router

// #region guest
// guests/asker.wat calls messaging.request(target = its payload, payload = its sender, 1000 ms) and
// answers with the reply. The Linker links its messaging import to the router with the asker's id as
// the sender, so the router checks the asker's own Messaging grants.
const aGuestAsks = Effect.gen(function*() {
  const registry = yield* Registry.Registry
  const router = yield* Router.Router
  const component = yield* Component.fromFile(guest("asker"))
  const grants = yield* Capability.decodeGrants([{ type: "Messaging", pattern: "counter" }])
  const asker = yield* Actor.spawn(component, { id: "asker", imports: yield* Linker.imports(component, { id: "asker", grants }) })
  yield* registry.register("asker", "1", asker, { grants })
  // The host asks the asker, which asks the counter (registered above) while its stack is suspended.
  yield* Console.log(`asker relays: ${u32(yield* router.request("host", "asker", text("counter")))}`)
  const refused = yield* Effect.flip(router.request("host", "asker", text("stranger")))
  yield* Console.log(`asker → stranger: ${refused._tag}: ${refused.message}`)
  // Without a Messaging grant the messaging interface does not link at all: deny by default.
  const unlinked = yield* Effect.flip(Linker.imports(component, { id: "nobody", grants: Capability.emptyGrants }))
  yield* Console.log(`no grant: ${unlinked._tag}: ${unlinked.message}`)
})
// #endregion guest

const step = <E, R>(title: string, effect: Effect.Effect<void, E, R>) =>
  Effect.andThen(Console.log(`\n== ${title}`), effect)

const program = Effect.gen(function*() {
  yield* step("an actor", askAnActor)
  yield* step("a timeout", timeout)
  yield* step("through the router", throughTheRouter)
  yield* step("a guest asks", aGuestAsks)
})

// #region layers
// The router records every message it refuses for lack of a grant in the audit log.
const Routing = Router.Router.layer.pipe(
  Layer.provideMerge(Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 100 })))
)
// #endregion layers

// #region host
// For guests that ask: the messaging host interface over the router; the Linker records its decisions in
// the same audit log.
const Host = Linker.layer([Messaging.hostInterface]).pipe(
  Layer.provideMerge(Messaging.layer),
  Layer.provideMerge(Routing)
)
// #endregion host

NodeRuntime.runMain(program.pipe(Effect.scoped, Effect.provide(Host)))
