import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Random as EffectRandom } from "effect"
import { TestClock } from "effect/testing"
import * as Audit from "../../src/Audit.ts"
import * as Clocks from "../../src/capability/Clocks.ts"
import * as Random from "../../src/capability/Random.ts"
import * as Stdio from "../../src/capability/Stdio.ts"
import * as Capability from "../../src/Capability.ts"
import * as Component from "../../src/Component.ts"
import type * as Instance from "../../src/Instance.ts"
import * as Linker from "../../src/Linker.ts"
import { decode, guestPath, text } from "../fixtures.ts"

/** What `guests/clock-probe.wat` answers, decoded. */
interface Probe {
  readonly seconds: bigint
  readonly nanoseconds: number
  readonly monotonic: bigint
  readonly u64: bigint
  readonly bytes: Uint8Array
}

const decodeProbe = (out: Uint8Array): Probe => {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  return {
    seconds: view.getBigUint64(0, true),
    nanoseconds: view.getUint32(8, true),
    monotonic: view.getBigUint64(12, true),
    u64: view.getBigUint64(20, true),
    bytes: out.slice(28)
  }
}

const probe = Component.fromFile(guestPath("clock-probe"))

const host = (clocks: Layer.Layer<Clocks.Clocks>, random: Layer.Layer<Random.Random>) =>
  Linker.layer([...Clocks.hostInterfaces, ...Random.hostInterfaces]).pipe(
    Layer.provideMerge(Layer.mergeAll(clocks, random, Audit.layerMemory({ capacity: 10 })))
  )

/** A fresh instance of the probe; `call(n)` asks it for the time and `n` random bytes. */
const instantiate = Effect.gen(function*() {
  const instance = yield* Linker.instantiate(yield* probe, { id: "probe", grants: Capability.emptyGrants })
  return (n = 16) => Effect.map(instance.process(new Uint8Array([n])), decodeProbe)
})

describe("Clocks and Random", () => {
  it.effect("TestClock drives the guest's wall clock and monotonic clock", () =>
    Effect.gen(function*() {
      const call = yield* instantiate
      yield* TestClock.setTime(1_700_000_000_123)
      const first = yield* call()
      assert.strictEqual(first.seconds, 1_700_000_000n)
      assert.strictEqual(first.nanoseconds, 123_000_000)
      yield* TestClock.adjust("1500 millis")
      const second = yield* call()
      assert.strictEqual(second.seconds, 1_700_000_001n)
      assert.strictEqual(second.nanoseconds, 623_000_000)
      assert.strictEqual(second.monotonic - first.monotonic, 1_500_000_000n)
      // Set back: the wall clock follows, the monotonic clock does not go backwards.
      yield* TestClock.setTime(1_000)
      const third = yield* call()
      assert.strictEqual(third.seconds, 1n)
      assert.isTrue(third.monotonic >= second.monotonic)
    }).pipe(Effect.provide(host(Clocks.layer, Random.layerEffectRandom))))

  it.effect("a seeded Random drives the guest's bytes: same seed, same bytes; another seed, others", () =>
    Effect.gen(function*() {
      const run = (seed: string) =>
        Effect.gen(function*() {
          const call = yield* instantiate
          const first = yield* call(24)
          const second = yield* call(24)
          return { first, second }
        }).pipe(EffectRandom.withSeed(seed))
      const a = yield* run("seed-1")
      const b = yield* run("seed-1")
      const c = yield* run("seed-2")
      assert.strictEqual(a.first.bytes.length, 24)
      assert.deepStrictEqual(a.first.bytes, b.first.bytes)
      assert.strictEqual(a.first.u64, b.first.u64)
      assert.deepStrictEqual(a.second.bytes, b.second.bytes)
      assert.notDeepEqual(a.first.bytes, a.second.bytes)
      assert.notDeepEqual(a.first.bytes, c.first.bytes)
      assert.notStrictEqual(a.first.u64, c.first.u64)
    }).pipe(Effect.provide(host(Clocks.layer, Random.layerEffectRandom))))

  it.effect("layer: secure bytes from SecureRandom, not from the (seeded) Random", () =>
    Effect.gen(function*() {
      const once = Effect.flatMap(instantiate, (call) => call(32)).pipe(EffectRandom.withSeed("fixed"))
      const a = yield* once
      const b = yield* once
      assert.strictEqual(a.bytes.length, 32)
      assert.notDeepEqual(a.bytes, b.bytes)
      assert.notStrictEqual(a.u64, b.u64)
    }).pipe(Effect.provide(host(Clocks.layer, Random.layer))))

  it.effect("layerDeny: the clock reads zero; randomness traps the guest, and the host carries on", () =>
    Effect.gen(function*() {
      const instance = yield* Linker.instantiate(yield* probe, { id: "probe", grants: Capability.emptyGrants })
      yield* TestClock.setTime(5_000)
      const error = yield* Effect.flip(instance.process(new Uint8Array([4])))
      assert.strictEqual(error._tag, "Trap")
      assert.include(error._tag === "Trap" ? error.message : "", "randomness is not available")
      const denied = yield* Effect.provide(
        Effect.flatMap(instantiate, (call) => call(4)),
        host(Clocks.layerDeny, Random.layerEffectRandom)
      )
      assert.strictEqual(denied.seconds, 0n)
      assert.strictEqual(denied.monotonic, 0n)
    }).pipe(Effect.provide(host(Clocks.layer, Random.layerDeny))))

  it.effect("get-random-bytes past maxBytes dies (the calling guest traps); smaller asks work", () =>
    Effect.gen(function*() {
      const linker = yield* Linker.Linker
      const imports = yield* linker.imports(yield* probe, { id: "probe", grants: Capability.emptyGrants })
      const getRandomBytes = imports["wasi:random/random"]!["getRandomBytes"] as unknown as (len: bigint) => Effect.Effect<Uint8Array>
      const exit = yield* Effect.exit(getRandomBytes(BigInt(Random.maxBytes) + 1n))
      assert.isTrue(exit._tag === "Failure")
      assert.strictEqual((yield* getRandomBytes(3n)).length, 3)
      const call = yield* instantiate
      assert.strictEqual((yield* call(0)).bytes.length, 0)
    }).pipe(Effect.provide(host(Clocks.layer, Random.layerEffectRandom))))
})

/** What `guests/sleeper.wat` answers: the monotonic time it read after its op, then the op's bytes. */
const decodeSleeper = (out: Uint8Array) => {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  return { now: view.getBigUint64(0, true), rest: out.slice(8), view }
}

/** An op byte and u64 LE arguments: the sleeper's input. */
const op = (code: string, ...args: ReadonlyArray<bigint>): Uint8Array => {
  const bytes = new Uint8Array(1 + 8 * args.length)
  bytes[0] = code.charCodeAt(0)
  const view = new DataView(bytes.buffer)
  args.forEach((arg, i) => view.setBigUint64(1 + 8 * i, arg, true))
  return bytes
}

const second = 1_000_000_000n

const sleeper = Component.fromFile(guestPath("sleeper"))

const sleeperHost = (clocks: Layer.Layer<Clocks.Clocks>) =>
  Linker.layer(Clocks.hostInterfaces).pipe(
    Layer.provideMerge(Layer.mergeAll(clocks, Audit.layerMemory({ capacity: 10 })))
  )

describe("Clocks - subscribe and wasi:io/poll", () => {
  const instantiateSleeper = Effect.flatMap(sleeper, (component) =>
    Linker.instantiate(component, { id: "sleeper", grants: Capability.emptyGrants }))
  const nowOf = (instance: Instance.Instance) => Effect.map(instance.process(op("n")), (out) => decodeSleeper(out).now)

  it.effect("subscribe-duration + block: the call waits until TestClock passes the deadline", () =>
    Effect.gen(function*() {
      const instance = yield* instantiateSleeper
      const start = yield* nowOf(instance)
      const call = yield* Effect.forkChild(instance.process(op("d", 3n * second)), { startImmediately: true })
      yield* TestClock.adjust("2999 millis")
      assert.isUndefined(call.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const out = decodeSleeper(yield* Fiber.join(call))
      // The guest saw the deadline's time, not ready before the block and ready after it.
      assert.strictEqual(out.now - start, 3n * second)
      assert.deepStrictEqual(Array.from(out.rest), [0, 1])
    }).pipe(Effect.provide(sleeperHost(Clocks.layer))))

  it.effect("pollable.ready: false before the deadline, true from it on; block then returns at once", () =>
    Effect.gen(function*() {
      const instance = yield* instantiateSleeper
      yield* instance.process(op("s", 2n * second))
      const ready = Effect.map(instance.process(op("r")), (out) => decodeSleeper(out).rest[0])
      assert.strictEqual(yield* ready, 0)
      yield* TestClock.adjust("1999 millis")
      assert.strictEqual(yield* ready, 0)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(yield* ready, 1)
      // Already ready: no suspension, no clock to move.
      assert.strictEqual(decodeSleeper(yield* instance.process(op("b"))).rest[0], 1)
    }).pipe(Effect.provide(sleeperHost(Clocks.layer))))

  it.effect("a command's run polls stdin and stdout beside a clock: answered at once; a clock alone suspends run until TestClock passes it", () =>
    Effect.gen(function*() {
      // guests/poll-command.wat: poll([60 s clock, stdin]) must be [1], poll([stdout, clock]) [0], then a 2 s clock alone.
      const component = yield* Component.fromFile(guestPath("poll-command"), { entryPoints: [] })
      const instance = yield* Linker.instantiate(component, { id: "poller", grants: Capability.emptyGrants })
      const call = yield* Effect.forkChild(instance.call("wasi:cli/run@0.2.12#run", []), { startImmediately: true })
      yield* TestClock.adjust("1999 millis")
      assert.isUndefined(call.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      // `run` answered ok: both stdio polls were answered without waiting for their 60 s clock.
      yield* Fiber.join(call)
      assert.isFalse(instance.poisoned)
    }).pipe(Effect.provide(
      Linker.layer([...Clocks.hostInterfaces, ...Stdio.hostInterfaces]).pipe(
        Layer.provideMerge(Layer.mergeAll(Clocks.layer, Stdio.layerMemory, Audit.layerMemory({ capacity: 10 })))
      )
    )))

  it.effect("poll over two clock pollables waits for the earlier and returns its index only", () =>
    Effect.gen(function*() {
      const instance = yield* instantiateSleeper
      const start = yield* nowOf(instance)
      const call = yield* Effect.forkChild(instance.process(op("p", 5n * second, 2n * second)), { startImmediately: true })
      yield* TestClock.adjust("1999 millis")
      assert.isUndefined(call.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const out = decodeSleeper(yield* Fiber.join(call))
      assert.strictEqual(out.now - start, 2n * second)
      assert.strictEqual(out.view.getUint32(8, true), 1)
      assert.strictEqual(out.view.getUint32(12, true), 1)
      // Both ready (zero durations): both indices, in order, at once.
      const both = decodeSleeper(yield* instance.process(op("p", 0n, 0n)))
      assert.strictEqual(both.view.getUint32(8, true), 2)
      assert.deepStrictEqual([both.view.getUint32(12, true), both.view.getUint32(16, true)], [0, 1])
    }).pipe(Effect.provide(sleeperHost(Clocks.layer))))

  it.effect("subscribe-instant: in the past, ready at once; in the future, a wait until that instant", () =>
    Effect.gen(function*() {
      const instance = yield* instantiateSleeper
      yield* TestClock.adjust("10 seconds")
      const now = yield* nowOf(instance)
      const past = decodeSleeper(yield* instance.process(op("i", now - second)))
      assert.strictEqual(past.now, now)
      assert.deepStrictEqual(Array.from(past.rest), [1, 1])
      const call = yield* Effect.forkChild(instance.process(op("i", now + 500_000_000n)), { startImmediately: true })
      yield* TestClock.adjust("499 millis")
      assert.isUndefined(call.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(decodeSleeper(yield* Fiber.join(call)).now, now + 500_000_000n)
    }).pipe(Effect.provide(sleeperHost(Clocks.layer))))

  it.effect("a guest blocked on 1 hour with a 5 s timeout fails with LimitExceeded(timeout)", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("sleeper"), { limits: { timeout: Duration.seconds(5) } })
      const instance = yield* Linker.instantiate(component, { id: "sleeper", grants: Capability.emptyGrants })
      const call = yield* Effect.forkChild(instance.process(op("d", 3600n * second)), { startImmediately: true })
      yield* TestClock.adjust("4999 millis")
      assert.isUndefined(call.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const error = yield* Effect.flip(Fiber.join(call))
      assert.strictEqual(error._tag === "LimitExceeded" && error.limit, "timeout")
      assert.isTrue(instance.poisoned)
    }).pipe(Effect.provide(sleeperHost(Clocks.layer))))

  it.effect("a guest that timed out while blocked is never resumed: its wait is interrupted, it reads no clock after", () =>
    Effect.gen(function*() {
      const clocks = Clocks.make()
      let reads = 0
      const counting = Layer.succeed(Clocks.Clocks, Clocks.Clocks.of({
        ...clocks,
        monotonicNow: Effect.suspend(() => {
          reads++
          return clocks.monotonicNow
        })
      }))
      yield* Effect.gen(function*() {
        const component = yield* Component.fromFile(guestPath("sleeper"), { limits: { timeout: Duration.seconds(5) } })
        const instance = yield* Linker.instantiate(component, { id: "sleeper", grants: Capability.emptyGrants })
        // The guest reads the clock once it wakes (its answer starts with `now`).
        const call = yield* Effect.forkChild(instance.process(op("d", 6n * second)), { startImmediately: true })
        yield* TestClock.adjust("5 seconds")
        const error = yield* Effect.flip(Fiber.join(call))
        assert.strictEqual(error._tag === "LimitExceeded" && error.limit, "timeout")
        const readsAtTimeout = reads
        yield* TestClock.adjust("10 seconds")
        assert.strictEqual(reads, readsAtTimeout)
      }).pipe(Effect.provide(sleeperHost(counting)))
    }))

  it.effect("the largest u64 duration overflows nothing: not ready, and a blocked call still times out", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("sleeper"), { limits: { timeout: Duration.seconds(5) } })
      const instance = yield* Linker.instantiate(component, { id: "sleeper", grants: Capability.emptyGrants })
      yield* instance.process(op("s", 2n ** 64n - 1n))
      yield* TestClock.adjust(Duration.days(365 * 100))
      assert.strictEqual(decodeSleeper(yield* instance.process(op("r"))).rest[0], 0)
      const call = yield* Effect.forkChild(instance.process(op("b")), { startImmediately: true })
      yield* TestClock.adjust("5 seconds")
      const error = yield* Effect.flip(Fiber.join(call))
      assert.strictEqual(error._tag === "LimitExceeded" && error.limit, "timeout")
    }).pipe(Effect.provide(sleeperHost(Clocks.layer))))

  it.effect("poll on an empty list traps the guest (WASI: it could never return); the host carries on", () =>
    Effect.gen(function*() {
      const instance = yield* instantiateSleeper
      const error = yield* Effect.flip(instance.process(op("e")))
      assert.strictEqual(error._tag, "Trap")
      assert.include(error._tag === "Trap" ? error.message : "", "the list of pollables is empty")
      assert.isTrue(instance.poisoned)
      const fresh = yield* instantiateSleeper
      assert.strictEqual(decodeSleeper(yield* fresh.process(op("d", 0n))).rest[1], 1)
    }).pipe(Effect.provide(sleeperHost(Clocks.layer))))

  it.effect("layerDeny: a stopped clock whose subscriptions are ready at once (no hang until the timeout)", () =>
    Effect.gen(function*() {
      const instance = yield* instantiateSleeper
      const out = decodeSleeper(yield* instance.process(op("d", 3600n * second)))
      assert.strictEqual(out.now, 0n)
      assert.deepStrictEqual(Array.from(out.rest), [1, 1])
    }).pipe(Effect.provide(sleeperHost(Clocks.layerDeny))))

  it.effect("componentize-js: an awaited setTimeout is a subscribe-duration the guest waits on until TestClock passes it", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("sleeper-js"))
      const instance = yield* Linker.instantiate(component, { id: "sleeper-js", grants: Capability.emptyGrants })
      const call = yield* Effect.forkChild(instance.process(text("1500")), { startImmediately: true })
      yield* TestClock.adjust("1499 millis")
      assert.isUndefined(call.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      // `performance.now()` in the guest moved by exactly the sleep.
      assert.strictEqual(decode(yield* Fiber.join(call)), "1500")
    }).pipe(Effect.provide(
      Linker.layer([...Clocks.hostInterfaces, ...Stdio.hostInterfaces]).pipe(
        Layer.provideMerge(Layer.mergeAll(Clocks.layer, Stdio.layerMemory, Audit.layerMemory({ capacity: 10 })))
      )
    )), 120_000)

  it.effect("the clock without wasi:io/poll linked is a LinkError naming wasi:io/poll", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(instantiateSleeper)
      assert.strictEqual(error._tag, "LinkError")
      assert.strictEqual(error._tag === "LinkError" && error.interface, "wasi:io/poll")
    }).pipe(Effect.provide(
      Linker.layer([Clocks.wallClockHostInterface, Clocks.monotonicClockHostInterface]).pipe(
        Layer.provideMerge(Layer.mergeAll(Clocks.layer, Audit.layerMemory({ capacity: 10 })))
      )
    )))
})
