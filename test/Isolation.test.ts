import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Schedule } from "effect"
import { TestClock } from "effect/testing"
import { Actor, Component, Supervisor } from "../src/index.ts"
import { decode, guestBytes, text } from "./fixtures.ts"

const isolated = (name: string, fuel = Number.POSITIVE_INFINITY) =>
  Component.fromBytes(guestBytes(name), { limits: { isolation: "worker", fuel, timeout: Duration.seconds(2) } })

describe("worker isolation", () => {
  it.effect("the same Instance API: a call, a guest error, a trap, then poisoned", () =>
    Effect.gen(function*() {
      const instance = yield* Component.instantiate(yield* isolated("faulty"))
      assert.isTrue(instance.isolated)
      assert.strictEqual(decode(yield* instance.process(text("across threads"))), "across threads")
      const error = yield* Effect.flip(instance.process(text("err:no")))
      assert.strictEqual(error._tag === "GuestError" && error.payload, "no")
      assert.strictEqual((yield* Effect.flip(instance.process(text("trap"))))._tag, "Trap")
      assert.strictEqual((yield* Effect.flip(instance.process(text("x"))))._tag, "InstancePoisoned")
    }))

  it.effect("a guest that loops without fuel is stopped by its timeout: LimitExceeded(timeout)", () =>
    Effect.gen(function*() {
      const instance = yield* Component.instantiate(yield* isolated("loop"))
      const call = yield* Effect.forkChild(Effect.flip(instance.process(text("spin"))), { startImmediately: true })
      yield* TestClock.adjust("2 seconds")
      const error = yield* Fiber.join(call)
      assert.strictEqual(error._tag === "LimitExceeded" && error.limit, "timeout")
      assert.isTrue(instance.poisoned)
    }))

  it.effect("fuel works in a worker too", () =>
    Effect.gen(function*() {
      const instance = yield* Component.instantiate(yield* isolated("loop", 100_000))
      const error = yield* Effect.flip(instance.process(text("spin")))
      assert.strictEqual(error._tag === "LimitExceeded" && error.limit, "fuel")
    }))

  it.effect("a ticking actor keeps ticking while another actor loops; the looping one is restarted", () =>
    Effect.gen(function*() {
      const looper = yield* Actor.make(yield* isolated("spinner"), { id: "looper" })
      const ticker = yield* Actor.make(yield* Component.fromBytes(guestBytes("spinner")), { id: "ticker" })
      yield* Supervisor.start({
        id: "isolation",
        backoff: Schedule.spaced("10 millis"),
        children: [Actor.child(looper), Actor.child(ticker)]
      })
      // Wait (real time) until the looper's worker is up.
      while (looper.status !== "Running") yield* Effect.promise(() => new Promise((r) => setTimeout(r, 5)))
      const stuck = yield* Effect.forkChild(Effect.flip(looper.request(text("loop"), { timeout: "1 minute" })), {
        startImmediately: true
      })
      for (let i = 0; i < 20; i++) assert.strictEqual(decode((yield* ticker.request(text("tick")))!), "tock")
      yield* TestClock.adjust("2 seconds")
      const error = yield* Fiber.join(stuck)
      assert.strictEqual(error._tag === "LimitExceeded" && error.limit, "timeout")
      yield* TestClock.adjust("10 millis")
      while (looper.status !== "Running") {
        yield* TestClock.adjust("10 millis")
        yield* Effect.promise(() => new Promise((r) => setTimeout(r, 5)))
      }
      assert.strictEqual(decode((yield* looper.request(text("tick")))!), "tock")
      assert.strictEqual((yield* looper.stats).incarnations, 2)
    }))

  it.effect("logging from a worker-isolated guest reaches the host", () =>
    Effect.gen(function*() {
      const logged: Array<string> = []
      const instance = yield* Component.instantiate(yield* isolated("flaky"), {
        imports: { "airssys:component/logging": { log: (_: string, m: string) => Effect.sync(() => void logged.push(m)) } }
      })
      assert.strictEqual(decode((yield* instance.handleMessage({ sender: "t", payload: text("hello") }))!), "hello")
      assert.deepStrictEqual(logged, ["hello"])
    }))
})
