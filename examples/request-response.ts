/**
 * Request-response between the host and component actors, and between actors, through the Router:
 * correlation ids, replies, timeouts, unknown targets and messaging capabilities.
 *
 * guests/lifecycle.wat counts the messages it handles and replies with the count. guests/asker.wat asks
 * another component from inside wasm: its handler calls the `messaging.request` import (the guest's stack
 * is suspended while the host waits for the reply) and answers with what it got.
 *
 * Run: node scripts/build-guests.ts lifecycle asker && node examples/request-response.ts
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect, Layer } from "effect"
import * as path from "node:path"
import { Actor, Audit, Capability, Component, ComponentError, Registry, Router } from "../src/index.ts"

const guest = (name: string) => path.resolve(import.meta.dirname, "..", "build", "guests", `${name}.wasm`)
const text = (s: string) => new TextEncoder().encode(s)
const u32 = (bytes: Uint8Array | undefined) => bytes === undefined ? -1 : new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true)
const describe = (error: { readonly _tag: string; readonly message: string }) => `${error._tag}: ${error.message}`

const program = Effect.gen(function*() {
  const registry = yield* Registry.Registry
  const router = yield* Router.Router

  // A counter actor, registered as version 1 of "counter".
  const counter = yield* Actor.spawn(yield* Component.fromFile(guest("lifecycle")), { id: "counter-1" })
  yield* registry.register("counter", "1", counter)

  yield* Console.log("1. The host asks the counter; each request gets its own correlation id and its own reply")
  for (let i = 0; i < 3; i++) {
    const reply = yield* router.request(Registry.hostAddress, "counter", text("how many?"))
    yield* Console.log(`   host → counter: count = ${u32(reply)}`)
  }

  yield* Console.log("\n2. A component asks another one from inside wasm (messaging.request)")
  // The asker's messaging import goes through the router, as the asker: its grants are checked there.
  const messaging = (self: string) => ({
    "airssys:component/messaging": {
      request: (target: string, payload: Uint8Array, timeoutMs: number) =>
        router.request(self, target, payload, { timeout: timeoutMs }).pipe(
          Effect.map((reply) => reply ?? new Uint8Array()),
          Effect.mapError((error) => new ComponentError.HostRefusal({ payload: describe(error) }))
        ),
      send: () => Effect.void,
      publish: () => Effect.void,
      subscribe: () => Effect.void
    }
  })
  const asker = yield* Actor.spawn(yield* Component.fromFile(guest("asker")), { id: "asker-1", imports: messaging("asker-1") })
  // The asker may message "counter" and nothing else.
  yield* registry.register("asker", "1", asker, { grants: Capability.makeGrants([new Capability.Messaging({ pattern: "counter" })]) })
  // asker's payload names whom to ask.
  const answer = yield* router.request(Registry.hostAddress, "asker", text("counter"))
  yield* Console.log(`   host → asker → counter: count = ${u32(answer)}`)
  const refused = yield* Effect.flip(router.request(Registry.hostAddress, "asker", text("billing")))
  yield* Console.log(`   host → asker → billing: ${describe(refused)}`)

  yield* Console.log("\n3. What can go wrong, as typed errors")
  const unknown = yield* Effect.flip(router.request(Registry.hostAddress, "nobody", text("hello?")))
  yield* Console.log(`   request to an unknown target → ${unknown._tag}`)
  // An actor that is registered but not running: the request waits in its mailbox, then times out.
  const sleepy = yield* Actor.make(yield* Component.fromFile(guest("lifecycle")), { id: "sleepy-1" })
  yield* registry.register("sleepy", "1", sleepy)
  const late = yield* Effect.flip(router.request(Registry.hostAddress, "sleepy", text("late"), { timeout: "200 millis" }))
  yield* Console.log(`   request with a 200 ms timeout to an actor that is not running → ${describe(late)}`)
})

// The router records every message it refuses for lack of a grant: a memory audit keeps the latest.
const HostLive = Router.Router.layer.pipe(
  Layer.provideMerge(Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 1000 })))
)

NodeRuntime.runMain(Effect.scoped(program).pipe(Effect.provide(HostLive)))
