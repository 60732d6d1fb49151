import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { Actor, Component, DeadLetters } from "../src/index.ts"
import { decode, guestPath, text } from "./fixtures.ts"

const letter = (n: number): DeadLetters.DeadLetter => ({
  target: "t",
  message: { sender: "s", payload: new Uint8Array([n]) },
  reason: "Rejected",
  error: `#${n}`,
  at: n
})

describe("DeadLetters", () => {
  it.effect("makeStore - keeps the newest letters in order past its capacity and counts the dropped", () =>
    Effect.gen(function*() {
      const store = DeadLetters.makeStore(3)
      for (let n = 1; n <= 2; n++) store.offer(letter(n))
      assert.deepStrictEqual((yield* store.letters).map((l) => l.error), ["#1", "#2"])
      for (let n = 3; n <= 7; n++) store.offer(letter(n))
      assert.deepStrictEqual((yield* store.letters).map((l) => l.error), ["#5", "#6", "#7"])
      assert.strictEqual(yield* store.dropped, 4)
    }))

  it.effect("stream - each subscriber gets each letter once, from when it subscribed: a real guest's poisoned message", () =>
    Effect.gen(function*() {
      const store = DeadLetters.makeStore()
      // Two subscribers before the letter, each taking what comes (started at once: subscribed on return).
      const first = yield* Effect.forkChild(Stream.runCollect(Stream.take(store.stream, 2)), { startImmediately: true })
      const second = yield* Effect.forkChild(Stream.runCollect(Stream.take(store.stream, 2)), { startImmediately: true })
      const actor = yield* Actor.make(yield* Component.fromFile(guestPath("flaky")), {
        id: "flaky-dead",
        imports: { "airssys:component/logging": { log: () => Effect.void } }
      }).pipe(
        Effect.provideService(DeadLetters.DeadLetters, store)
      )
      const trapped = yield* Effect.forkChild(actor.request(text("trap!")), { startImmediately: true })
      assert.strictEqual((yield* Effect.flip(Effect.scoped(actor.run))).reason, "Trap")
      assert.strictEqual((yield* Effect.flip(Fiber.join(trapped)))._tag, "Trap")
      // A subscriber that comes later sees only what is offered after it.
      const late = yield* Effect.forkChild(Stream.runCollect(Stream.take(store.stream, 1)), { startImmediately: true })
      store.offer(letter(1))
      const describe = (l: DeadLetters.DeadLetter) => `${l.target} ${decode(l.message.payload)} ${l.reason}`
      for (const subscriber of [first, second]) {
        assert.deepStrictEqual((yield* Fiber.join(subscriber)).map(describe), ["flaky-dead trap! Trapped", "t \u0001 Rejected"])
      }
      assert.deepStrictEqual((yield* Fiber.join(late)).map((l) => l.error), ["#1"])
      // The poll sees the same letters.
      assert.deepStrictEqual((yield* store.letters).map(describe), ["flaky-dead trap! Trapped", "t \u0001 Rejected"])
    }))

  it.effect("stream - bounded: a subscriber more than streamBuffer behind loses its oldest; the offerer, other subscribers and the ring do not wait or lose", () =>
    Effect.scoped(Effect.gen(function*() {
      const store = DeadLetters.makeStore(100, { streamBuffer: 3 })
      // A slow subscriber (subscribed, not reading) and a fast one (reading as letters come).
      const slow = yield* Stream.toPull(store.stream)
      const fast = yield* Effect.forkChild(Stream.runCollect(Stream.take(store.stream, 10)), { startImmediately: true })
      // The fast one reads each letter when the offering fiber yields; the slow one reads none.
      for (let n = 1; n <= 10; n++) {
        store.offer(letter(n))
        yield* Effect.yieldNow
      }
      assert.deepStrictEqual((yield* Fiber.join(fast)).map((l) => l.error), Array.from({ length: 10 }, (_, i) => `#${i + 1}`))
      assert.deepStrictEqual((yield* slow).map((l) => l.error), ["#8", "#9", "#10"])
      store.offer(letter(11))
      assert.deepStrictEqual((yield* slow).map((l) => l.error), ["#11"])
      assert.strictEqual((yield* store.letters).length, 11)
    })))
})
