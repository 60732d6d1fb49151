import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Random as EffectRandom } from "effect"
import { TestClock } from "effect/testing"
import * as Audit from "../../src/Audit.ts"
import * as Clocks from "../../src/capability/Clocks.ts"
import * as Random from "../../src/capability/Random.ts"
import * as Capability from "../../src/Capability.ts"
import * as Component from "../../src/Component.ts"
import * as Linker from "../../src/Linker.ts"
import { guestPath } from "../fixtures.ts"

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
