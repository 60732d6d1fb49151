/**
 * Code that runs while a component is instantiated — core `start` functions, `_initialize` — runs with
 * fuel from its own budget (`instantiateFuel`) and under the timeout; running out is `LimitExceeded` with
 * `phase: "instantiate"`, never a bare trap. In-process and in a worker, with the warm pool too.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect } from "effect"
import { Component, ResourceLimits } from "../src/index.ts"
import { guestBytes, runProgram, steppingClock, text } from "./fixtures.ts"

/** The same component with other bytes (a trailing custom section): a component of its own, with its own pool. */
const freshCopy = (bytes: Uint8Array, label: string): Uint8Array => {
  const name = new TextEncoder().encode(label)
  return new Uint8Array([...bytes, 0, name.length + 1, name.length, ...name])
}

const readU32 = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true)


// What `start-work`'s start function computes: 0 + 1 + ... + 19,999,999, modulo 2^32.
const startWorkSum = 0x205be980

describe("instantiation under limits", () => {
  it.effect("a start function that does one store runs under the default limits", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromBytes(guestBytes("start-store"))
      assert.strictEqual(component.limits.instantiateFuel, ResourceLimits.defaults.instantiateFuel)
      const instance = yield* Component.instantiate(component)
      assert.strictEqual(readU32(yield* instance.process(text("x"))), 42)
    }))

  it.effect("a start function doing legitimate work (20M loop iterations) succeeds under the default limits", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromBytes(guestBytes("start-work"))
      const instance = yield* Component.instantiate(component)
      assert.strictEqual(readU32(yield* instance.process(text("x"))), startWorkSum)
      // The call gets its own fuel: the start code's use does not count against it.
      assert.strictEqual(readU32(yield* instance.process(text("y"))), startWorkSum)
    }))

  it.effect("start code past instantiateFuel is LimitExceeded(fuel, instantiate), not a trap", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromBytes(guestBytes("start-work"), { limits: { instantiateFuel: 1_000_000 } })
      const error = yield* Effect.flip(Component.instantiate(component))
      assert.strictEqual(error._tag, "LimitExceeded")
      if (error._tag !== "LimitExceeded") return
      assert.strictEqual(error.limit, "fuel")
      assert.strictEqual(error.phase, "instantiate")
      assert.strictEqual(error.allowed, 1_000_000)
      assert.include(error.message, "while instantiating")
      // The budget is the start code's alone: the same fuel per call is plenty for the calls.
      const roomy = yield* Component.fromBytes(guestBytes("start-work"), { limits: { fuel: 1_000_000 } })
      const instance = yield* Component.instantiate(roomy)
      assert.strictEqual(readU32(yield* instance.process(text("x"))), startWorkSum)
    }))

  it.effect("a start function that loops forever is stopped by the fuel budget", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromBytes(guestBytes("start-loop"), { limits: { instantiateFuel: 5_000_000 } })
      const error = yield* Effect.flip(Component.instantiate(component))
      assert.strictEqual(error._tag === "LimitExceeded" && error.limit, "fuel")
      assert.strictEqual(error._tag === "LimitExceeded" && error.phase, "instantiate")
    }))

  it.effect("in-process, start code past the timeout is LimitExceeded(timeout, instantiate)", () =>
    Effect.gen(function*() {
      // 10 ms per clock read, 50 ms allowed: the deadline passes at the 5th slice of the 20 the start
      // function needs, long before the fuel (1e12) would run out.
      const component = yield* Component.fromBytes(guestBytes("start-work"), {
        limits: { instantiateFuel: 1e12, timeout: Duration.millis(50) }
      })
      const error = yield* Effect.flip(Component.instantiate(component).pipe(Effect.provideService(Clock.Clock, steppingClock(10).clock)))
      assert.strictEqual(error._tag === "LimitExceeded" && error.limit, "timeout")
      assert.strictEqual(error._tag === "LimitExceeded" && error.phase, "instantiate")
      assert.strictEqual(error._tag === "LimitExceeded" && error.allowed, 50)
      // With time enough the same start code completes.
      const slow = yield* Component.fromBytes(guestBytes("start-work"), { limits: { instantiateFuel: 1e12, timeout: Duration.seconds(1) } })
      const instance = yield* Component.instantiate(slow).pipe(Effect.provideService(Clock.Clock, steppingClock(10).clock))
      assert.strictEqual(readU32(yield* instance.process(text("x"))), startWorkSum)
    }))

  it.effect("a warm pool meters its instances' start code; a failing one leaves the error to instantiate", () =>
    Effect.gen(function*() {
      const working = yield* Component.fromBytes(freshCopy(guestBytes("start-work"), "pool-work"))
      assert.strictEqual(yield* Component.prewarm(working, 2), 2)
      const instance = yield* Component.instantiate(working)
      assert.strictEqual(readU32(yield* instance.process(text("x"))), startWorkSum)
      const looping = yield* Component.fromBytes(freshCopy(guestBytes("start-loop"), "pool-loop"), { limits: { instantiateFuel: 1_000_000 } })
      assert.strictEqual(yield* Component.prewarm(looping, 2), 0)
      const error = yield* Effect.flip(Component.instantiate(looping))
      assert.strictEqual(error._tag === "LimitExceeded" && error.phase, "instantiate")
      yield* Component.prewarm(working, 0)
    }))

  it.effect("worker: start code runs with fuel; past its budget it is LimitExceeded(fuel, instantiate)", () =>
    Effect.gen(function*() {
      const working = yield* Component.fromBytes(guestBytes("start-work"), { limits: { isolation: "worker" } })
      const instance = yield* Component.instantiate(working)
      assert.isTrue(instance.isolated)
      assert.strictEqual(readU32(yield* instance.process(text("x"))), startWorkSum)
      const looping = yield* Component.fromBytes(guestBytes("start-loop"), { limits: { isolation: "worker", instantiateFuel: 5_000_000 } })
      const error = yield* Effect.flip(Component.instantiate(looping))
      assert.strictEqual(error._tag === "LimitExceeded" && error.limit, "fuel")
      assert.strictEqual(error._tag === "LimitExceeded" && error.phase, "instantiate")
    }), 30_000)

  // Live clock: the timeout counts from when the worker starts the guest's start code, a moment only the
  // worker knows. Nothing here depends on how long anything takes: the loop never ends.
  it.live("worker: an unmetered start function that loops forever is stopped by the timeout", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromBytes(guestBytes("start-loop"), {
        limits: { isolation: "worker", fuel: Infinity, timeout: Duration.millis(500) }
      })
      const error = yield* Effect.flip(Effect.scoped(Component.instantiate(component)))
      assert.strictEqual(error._tag === "LimitExceeded" && error.limit, "timeout")
      assert.strictEqual(error._tag === "LimitExceeded" && error.phase, "instantiate")
      assert.strictEqual(error._tag === "LimitExceeded" && error.allowed, 500)
    }), 30_000)

  // In a child process: it uses up every WebAssembly memory V8 gives a process (~16k).
  it.effect("with no wasm memory left, instantiate is WasmMemoryExhausted (not a Trap) with what to do, and recovers", () =>
    Effect.gen(function*() {
      const report = yield* runProgram<{
        readonly memories: number
        readonly exhausted: ReadonlyArray<string>
        readonly message: string
        readonly recovered: ReadonlyArray<string>
      }>("instantiateExhausted")
      assert.isAbove(report.memories, 1000)
      assert.deepStrictEqual(report.exhausted, ["WasmMemoryExhausted", "WasmMemoryExhausted"])
      assert.include(report.message, "keep fewer instances alive or spread components over more processes")
      assert.deepStrictEqual(report.recovered, ["instantiated", "instantiated"])
    }), 60_000)
})
