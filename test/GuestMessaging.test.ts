import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Actor, Component, ComponentError } from "../src/index.ts"
import { decode, guestPath, text } from "./fixtures.ts"

const load = (name: string) => Component.fromFile(guestPath(name))

/** The WIT `messaging` interface over a map of actors: enough to drive guest requests end to end. */
const messagingOver = (peers: Map<string, Actor.ActorRef>, self: string) => ({
  "airssys:component/messaging": {
    request: (target: string, payload: Uint8Array, timeoutMs: number) => {
      const peer = peers.get(target)
      if (peer === undefined) return Effect.fail(new ComponentError.HostRefusal({ payload: `unknown target ${target}` }))
      return peer.request(payload, { sender: self, timeout: timeoutMs }).pipe(
        Effect.map((reply) => reply ?? new Uint8Array()),
        Effect.mapError((error) => new ComponentError.HostRefusal({ payload: `${error._tag}: ${error.message}` }))
      )
    },
    send: () => Effect.void,
    publish: () => Effect.void,
    subscribe: () => Effect.void
  }
})

describe("guest-side messaging (JSPI)", () => {
  it.effect("a guest's request waits for another actor's reply, computed by a real wasm call", () =>
    Effect.gen(function*() {
      const peers = new Map<string, Actor.ActorRef>()
      const asker = yield* Actor.spawn(yield* load("asker"), { id: "asker", imports: messagingOver(peers, "asker") })
      const counter = yield* Actor.spawn(yield* load("lifecycle"), { id: "counter" })
      peers.set("asker", asker).set("counter", counter)
      // asker asks `counter` (the payload names the target); counter answers with its count.
      const reply = yield* asker.request(text("counter"), { sender: "host" })
      assert.strictEqual(new DataView(reply!.buffer, reply!.byteOffset).getUint32(0, true), 1)
      const again = yield* asker.request(text("counter"), { sender: "host" })
      assert.strictEqual(new DataView(again!.buffer, again!.byteOffset).getUint32(0, true), 2)
    }))

  it.effect("an unknown target reaches the guest as err, and the guest answers with it", () =>
    Effect.gen(function*() {
      const peers = new Map<string, Actor.ActorRef>()
      const asker = yield* Actor.spawn(yield* load("asker"), { id: "asker", imports: messagingOver(peers, "asker") })
      const error = yield* Effect.flip(asker.request(text("nobody")))
      assert.strictEqual(error._tag, "GuestError")
      assert.strictEqual(error._tag === "GuestError" && error.payload, "unknown target nobody")
    }))

  it.effect("a request cycle (A asks B, B asks A) ends in a timeout error, never a hang", () =>
    Effect.gen(function*() {
      const peers = new Map<string, Actor.ActorRef>()
      const component = yield* load("asker")
      const a = yield* Actor.spawn(component, { id: "a", imports: messagingOver(peers, "a") })
      const b = yield* Actor.spawn(component, { id: "b", imports: messagingOver(peers, "b") })
      peers.set("a", a).set("b", b)
      // A gets "b" from sender "a": it asks B with payload "a", so B asks A — which is busy waiting on B.
      const pending = yield* Effect.forkChild(a.request(text("b"), { sender: "a", timeout: "10 seconds" }), {
        startImmediately: true
      })
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(pending))
      assert.strictEqual(error._tag, "GuestError")
      assert.include(error._tag === "GuestError" ? String(error.payload) : "", "RequestTimeout")
      // Both actors serve again afterwards.
      assert.strictEqual(a.status, "Running")
      assert.strictEqual(b.status, "Running")
    }))

  it.effect("while a guest waits on a request, its other messages queue behind it, in order", () =>
    Effect.gen(function*() {
      const peers = new Map<string, Actor.ActorRef>()
      const logged: Array<string> = []
      const slow = yield* Actor.spawn(yield* load("flaky"), {
        id: "slow",
        imports: { "airssys:component/logging": { log: (_: string, m: string) => Effect.sync(() => void logged.push(m)) } }
      })
      const asker = yield* Actor.spawn(yield* load("asker"), { id: "asker", imports: messagingOver(peers, "asker") })
      peers.set("slow", slow)
      const first = yield* Effect.forkChild(asker.request(text("slow"), { sender: "one" }), { startImmediately: true })
      const second = yield* Effect.forkChild(asker.request(text("slow"), { sender: "two" }), { startImmediately: true })
      assert.strictEqual(decode((yield* Fiber.join(first))!), "one")
      assert.strictEqual(decode((yield* Fiber.join(second))!), "two")
      assert.deepStrictEqual(logged, ["one", "two"])
    }))
})
