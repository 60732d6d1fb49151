import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { TestClock } from "effect/testing"
import { Actor, Component, DeadLetters, Supervisor } from "../src/index.ts"
import { decode, guestBytes, text } from "./fixtures.ts"

const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer)

describe("resource limits, with real guests", () => {
  it.effect("fuel - an infinite loop ends in LimitExceeded(fuel) and poisons the instance", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromBytes(guestBytes("loop"), { limits: { fuel: 100_000 } })
      const instance = yield* Component.instantiate(component)
      const error = yield* Effect.flip(instance.process(text("anything")))
      assert.strictEqual(error._tag, "LimitExceeded")
      assert.strictEqual(error._tag === "LimitExceeded" && error.limit, "fuel")
      assert.strictEqual((yield* Effect.flip(instance.process(text("again"))))._tag, "InstancePoisoned")
    }))

  it.effect("fuel - the allowance is per call: many small calls never run dry", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromBytes(guestBytes("echo"), { limits: { fuel: 50 } })
      const instance = yield* Component.instantiate(component)
      for (let i = 0; i < 100; i++) assert.strictEqual(decode(yield* instance.process(text(`m${i}`))), `m${i}`)
    }))

  it.effect("memory - growth past the cap is refused; the guest reports its own error", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromBytes(guestBytes("grow"), { limits: { memoryBytes: 4 * 1024 * 1024 } })
      const instance = yield* Component.instantiate(component)
      const grown = yield* instance.process(u32(10))
      assert.strictEqual(new DataView(grown.buffer).getUint32(0, true), 11)
      const refused = yield* Effect.flip(instance.process(u32(100)))
      assert.strictEqual(refused._tag === "GuestError" && refused.payload, "memory.grow refused")
      // Growing 16 pages at a time until refused stops below the cap: 4 MiB = 64 pages.
      const atCap = yield* Effect.flip(instance.process(new Uint8Array()))
      const pages = Number(/refused at (\d+) pages/.exec(atCap._tag === "GuestError" ? String(atCap.payload) : "")?.[1])
      assert.isTrue(pages > 64 - 16 && pages <= 64, `stopped at ${pages} pages`)
    }))

  it.effect("memory - a guest that traps at its cap is LimitExceeded(memory)", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromBytes(guestBytes("spinner"), { limits: { memoryBytes: 2 * 1024 * 1024 } })
      const instance = yield* Component.instantiate(component)
      const error = yield* Effect.flip(instance.handleMessage({ sender: "t", payload: text("grow") }))
      assert.strictEqual(error._tag === "LimitExceeded" && error.limit, "memory")
    }))

  it.effect("memory - an initial memory above the cap fails at load", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Component.fromBytes(guestBytes("echo-js"), { limits: { memoryBytes: 1024 * 1024, fuel: Infinity } }))
      assert.strictEqual(error.reason, "ExceedsLimits")
    }))

  it.effect("stack overflow - deep recursion is a Trap, not a host crash", () =>
    Effect.gen(function*() {
      const instance = yield* Component.instantiate(yield* Component.fromBytes(guestBytes("spinner"), { limits: { fuel: Infinity } }))
      const error = yield* Effect.flip(instance.handleMessage({ sender: "t", payload: text("deep") }))
      assert.strictEqual(error._tag, "Trap")
      assert.isTrue(instance.poisoned)
    }))

  it.effect("supervised - a looping guest runs out of fuel, is restarted, and serves again", () => {
    const store = DeadLetters.makeStore()
    return Effect.gen(function*() {
      const component = yield* Component.fromBytes(guestBytes("spinner"), { limits: { fuel: 1_000_000 } })
      const actor = yield* Actor.make(component, { id: "spinner" })
      yield* Supervisor.start({ id: "limits", backoff: Schedule.spaced("10 millis"), children: [Actor.child(actor)] })
      yield* TestClock.adjust("10 millis")
      const error = yield* Effect.flip(actor.request(text("loop")))
      assert.strictEqual(error._tag === "LimitExceeded" && error.limit, "fuel")
      yield* TestClock.adjust("10 millis")
      yield* TestClock.adjust("10 millis")
      assert.strictEqual(decode((yield* actor.request(text("tick")))!), "tock")
      assert.strictEqual((yield* actor.stats).incarnations, 2)
      assert.deepStrictEqual((yield* store.letters).map((l) => decode(l.message.payload)), ["loop"])
    }).pipe(Effect.provideService(DeadLetters.DeadLetters, store))
  })
})
