import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Layer, Schedule } from "effect"
import * as ConfigProvider from "effect/ConfigProvider"
import { TestClock } from "effect/testing"
import { Actor, Component, ComponentError, DeadLetters, ResourceLimits, Supervisor } from "../src/index.ts"
import { sliceUnits } from "../src/internal/run/fuelMeter.ts"
import { decode, failuresUnderEnv, guestBytes, steppingClock, text } from "./fixtures.ts"

const u32 = (n: number) => new Uint8Array(new Uint32Array([n]).buffer)
const readU32 = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true)


/** An instance whose calls are timed by `clock`. */
const instantiateWith = (component: Component.Component, clock: Clock.Clock) =>
  Component.instantiate(component).pipe(Effect.provideService(Clock.Clock, clock))

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

  it.effect("ResourceLimits.layerConfig - default limits read from LIMITS_* names: a loop stops at the configured fuel; an explicit limit still wins", () =>
    Effect.gen(function*() {
      const configured = ResourceLimits.layerConfig().pipe(
        Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({
          env: { LIMITS_FUEL: "100000", LIMITS_MEMORY_BYTES: "8 MiB", LIMITS_TIMEOUT: "2 seconds", LIMITS_ISOLATION: "in-process" }
        })))
      )
      yield* Effect.gen(function*() {
        const component = yield* Component.fromBytes(guestBytes("loop"))
        assert.deepStrictEqual(
          [component.limits.fuel, component.limits.memoryBytes, Duration.toMillis(component.limits.timeout), component.limits.instantiateFuel],
          [100_000, 8 * 1024 * 1024, 2000, ResourceLimits.defaults.instantiateFuel]
        )
        const error = yield* Effect.flip((yield* Component.instantiate(component)).process(text("anything")))
        assert.strictEqual(error._tag === "LimitExceeded" && error.limit, "fuel")
        // What the load options give overrides the configured default.
        assert.strictEqual((yield* Component.fromBytes(guestBytes("loop"), { limits: { fuel: 5_000 } })).limits.fuel, 5_000)
      }).pipe(Effect.provide(configured))
      // Nothing configured: the built-in defaults; fromUnknown takes the names as paths.
      assert.deepStrictEqual(yield* ResourceLimits.config.parse(ConfigProvider.fromUnknown({})), ResourceLimits.defaults)
      assert.strictEqual(
        (yield* ResourceLimits.config.parse(ConfigProvider.fromUnknown({ LIMITS: { FUEL: "unlimited" } }))).fuel,
        Number.POSITIVE_INFINITY
      )
      const envs = [{ LIMITS_FUEL: "-3" }, { LIMITS_FUEL: "1.5" }, { LIMITS_MEMORY_BYTES: "lots" }, { LIMITS_TIMEOUT: "soon" }, { LIMITS_ISOLATION: "thread" }]
      assert.deepStrictEqual(yield* failuresUnderEnv(envs, Layer.build(ResourceLimits.layerConfig())), envs.map(() => "ConfigError"))
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

  it.effect("timeout - a metered guest looping past its deadline ends in LimitExceeded(timeout)", () =>
    Effect.gen(function*() {
      // 10 ms per clock read, 50 ms allowed: the deadline passes at the 6th slice, long before the fuel
      // (1e12 units) or the loop (4e9 iterations) would end.
      const component = yield* Component.fromBytes(guestBytes("count"), { limits: { fuel: 1e12, timeout: Duration.millis(50) } })
      const { clock, state } = steppingClock(10)
      const instance = yield* instantiateWith(component, clock)
      const error = yield* Effect.flip(instance.process(u32(4_000_000_000)))
      assert.strictEqual(error._tag === "LimitExceeded" && error.limit, "timeout")
      assert.strictEqual(error._tag === "LimitExceeded" && error.allowed, 50)
      // One read to start the call, then one per slice until the deadline had passed.
      assert.strictEqual(state.reads, 7)
      assert.strictEqual((yield* Effect.flip(instance.process(u32(1))))._tag, "InstancePoisoned")
    }))

  it.effect("timeout - a guest that finishes under its deadline is unaffected, however many slices it runs", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromBytes(guestBytes("count"), { limits: { fuel: 1e12, timeout: Duration.millis(50) } })
      const { clock, state } = steppingClock(10)
      const instance = yield* instantiateWith(component, clock)
      // 3.5 slices of work: 3 refills at 20, 30, 40 ms, all before the deadline at 60 ms.
      const n = Math.floor(sliceUnits * 3.5)
      assert.strictEqual(readU32(yield* instance.process(u32(n))), n)
      assert.strictEqual(state.reads, 4)
      // Each call has its own deadline: the next one runs just as far.
      assert.strictEqual(readU32(yield* instance.process(u32(n))), n)
      assert.strictEqual(state.reads, 8)
      assert.isFalse(instance.poisoned)
    }))

  it.effect("timeout - the fuel limit still holds across slices: LimitExceeded(fuel), not timeout", () =>
    Effect.gen(function*() {
      const fuel = Math.floor(sliceUnits * 2.5)
      const component = yield* Component.fromBytes(guestBytes("count"), { limits: { fuel, timeout: Duration.hours(1) } })
      const { clock } = steppingClock(1)
      const instance = yield* instantiateWith(component, clock)
      assert.strictEqual(readU32(yield* instance.process(u32(sliceUnits * 2))), sliceUnits * 2)
      const error = yield* Effect.flip(instance.process(u32(sliceUnits * 3)))
      assert.strictEqual(error._tag === "LimitExceeded" && error.limit, "fuel")
      assert.strictEqual(error._tag === "LimitExceeded" && error.allowed, fuel)
    }))

  it.effect("timeout - a call suspended on the host (JSPI) past its deadline is LimitExceeded(timeout)", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromBytes(guestBytes("asker"), { limits: { timeout: Duration.seconds(2) } })
      // The guest asks; nobody ever answers.
      const instance = yield* Component.instantiate(component, {
        imports: {
          "airssys:component/messaging": {
            request: () => Effect.never,
            send: () => Effect.void,
            publish: () => Effect.void,
            subscribe: () => Effect.void
          }
        }
      })
      const call = yield* Effect.forkChild(instance.handleMessage({ sender: "t", payload: text("nobody") }), {
        startImmediately: true
      })
      yield* TestClock.adjust("1999 millis")
      assert.isUndefined(call.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const error = yield* Effect.flip(Fiber.join(call))
      assert.strictEqual(error._tag === "LimitExceeded" && error.limit, "timeout")
      assert.isTrue(instance.poisoned)
      assert.instanceOf(error, ComponentError.LimitExceeded)
    }))

  it.effect("supervised - a guest past its deadline is stopped, restarted, and serves again", () => {
    const store = DeadLetters.makeStore()
    return Effect.gen(function*() {
      const component = yield* Component.fromBytes(guestBytes("spinner"), {
        limits: { fuel: 1e12, timeout: Duration.millis(50) }
      })
      const { clock } = steppingClock(10, yield* Clock.Clock)
      const actor = yield* Actor.make(component, { id: "spinner" }).pipe(Effect.provideService(Clock.Clock, clock))
      yield* Supervisor.start({ id: "limits", backoff: Schedule.spaced("10 millis"), children: [Actor.child(actor)] })
      yield* TestClock.adjust("10 millis")
      const error = yield* Effect.flip(actor.request(text("loop")))
      assert.strictEqual(error._tag === "LimitExceeded" && error.limit, "timeout")
      yield* TestClock.adjust("10 millis")
      yield* TestClock.adjust("10 millis")
      assert.strictEqual(decode((yield* actor.request(text("tick")))!), "tock")
      assert.strictEqual((yield* actor.stats).incarnations, 2)
      assert.deepStrictEqual((yield* store.letters).map((l) => decode(l.message.payload)), ["loop"])
    }).pipe(Effect.provideService(DeadLetters.DeadLetters, store))
  })

  it.effect("defaults - a runaway guest under the default limits is stopped, not left spinning", () =>
    Effect.gen(function*() {
      // No limits given: 64 MiB, 1e9 fuel, 5 s. TestClock's time stands still, so the fuel stops it.
      const component = yield* Component.fromBytes(guestBytes("loop"))
      assert.deepStrictEqual(component.limits, ResourceLimits.defaults)
      const instance = yield* Component.instantiate(component)
      const error = yield* Effect.flip(instance.process(text("spin")))
      assert.strictEqual(error._tag === "LimitExceeded" && error.limit, "fuel")
      assert.strictEqual(error._tag === "LimitExceeded" && error.allowed, ResourceLimits.defaults.fuel)
    }), 60_000)
})
