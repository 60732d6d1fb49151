import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Schema } from "effect"
import { LimitExceeded } from "../src/ResourceLimits.ts"
import * as ResourceLimits from "../src/ResourceLimits.ts"

const MiB = 1024 * 1024

const decodeFailure = (input: unknown) =>
  ResourceLimits.decode(input).pipe(
    Effect.flip,
    Effect.map((error) => error.message)
  )

describe("ResourceLimits", () => {
  it.effect("decode - sizes and durations as text, numbers, or unlimited", () =>
    Effect.gen(function*() {
      const limits = yield* ResourceLimits.decode({
        memoryBytes: "16 MiB",
        fuel: 5_000_000,
        timeout: "500 millis",
        isolation: "worker"
      })
      assert.strictEqual(limits.memoryBytes, 16 * MiB)
      assert.strictEqual(limits.fuel, 5_000_000)
      assert.isTrue(Duration.equals(limits.timeout!, Duration.millis(500)))
      assert.strictEqual(limits.isolation, "worker")

      const compact = yield* ResourceLimits.decode({ memoryBytes: "1.5GB", timeout: 250 })
      assert.strictEqual(compact.memoryBytes, 1_500_000_000)
      assert.isTrue(Duration.equals(compact.timeout!, Duration.millis(250)))

      const open = yield* ResourceLimits.decode({ memoryBytes: "unlimited", fuel: "unlimited", timeout: "Infinity" })
      assert.strictEqual(open.memoryBytes, Infinity)
      assert.strictEqual(open.fuel, Infinity)
      assert.isFalse(Duration.isFinite(open.timeout!))

      const inCode = yield* ResourceLimits.decode({ memoryBytes: 4096, fuel: Infinity, timeout: Duration.seconds(1) })
      assert.deepStrictEqual([inCode.memoryBytes, inCode.fuel], [4096, Infinity])
      assert.deepStrictEqual(yield* ResourceLimits.decode({}), {})
    }))

  it.effect("decode - refuses what would be a guess", () =>
    Effect.gen(function*() {
      // Ambiguous units (is "mb" mega or mebi?), negative sizes, fractional fuel, unknown modes.
      assert.match(yield* decodeFailure({ memoryBytes: "64 mb" }), /memoryBytes/)
      assert.match(yield* decodeFailure({ memoryBytes: -1 }), /memoryBytes/)
      assert.match(yield* decodeFailure({ fuel: 1.5 }), /fuel/)
      assert.match(yield* decodeFailure({ fuel: -10 }), /fuel/)
      assert.match(yield* decodeFailure({ timeout: "soon" }), /timeout/)
      assert.match(yield* decodeFailure({ isolation: "thread" }), /isolation/)
    }))

  it("encode - finite limits as numbers, no limit as \"unlimited\" (JSON has no Infinity)", () => {
    const encoded = Schema.encodeSync(ResourceLimits.ResourceLimits)({
      memoryBytes: 64 * MiB,
      fuel: Infinity,
      timeout: Duration.seconds(2)
    })
    assert.deepStrictEqual(encoded, { memoryBytes: 64 * MiB, fuel: "unlimited", timeout: 2000 })
    assert.deepStrictEqual(Schema.encodeSync(ResourceLimits.ResourceLimits)({ memoryBytes: Infinity }), {
      memoryBytes: "unlimited"
    })
  })

  it("resolve - missing limits take the protective defaults", () => {
    assert.deepStrictEqual(ResourceLimits.defaults.memoryBytes, 64 * MiB)
    assert.strictEqual(ResourceLimits.defaults.fuel, 1_000_000_000)
    assert.isTrue(Duration.equals(ResourceLimits.defaults.timeout, Duration.seconds(5)))
    assert.strictEqual(ResourceLimits.defaults.isolation, "in-process")
    assert.deepStrictEqual(ResourceLimits.resolve(), ResourceLimits.defaults)
    const resolved = ResourceLimits.resolve({ fuel: 1000, isolation: "worker" })
    assert.deepStrictEqual(
      [resolved.memoryBytes, resolved.fuel, resolved.isolation],
      [64 * MiB, 1000, "worker"]
    )
    assert.isTrue(Duration.equals(resolved.timeout, Duration.seconds(5)))
    assert.deepStrictEqual(
      [ResourceLimits.unlimited.memoryBytes, ResourceLimits.unlimited.fuel, Duration.isFinite(ResourceLimits.unlimited.timeout)],
      [Infinity, Infinity, false]
    )
  })

  it.effect("LimitExceeded - a tagged error that fails an Effect and says which limit", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.gen(function*() {
          return yield* new LimitExceeded({
            limit: "fuel",
            componentHash: "abc",
            function: "process",
            allowed: 1_000
          })
        })
      )
      assert.strictEqual(error._tag, "LimitExceeded")
      assert.strictEqual(error.limit, "fuel")
      assert.strictEqual(error.message, "fuel limit of 1000 units exceeded calling process")
      const atLoad = new LimitExceeded({ limit: "memory", componentHash: "abc", allowed: 4 * MiB, requested: 9 * MiB })
      assert.strictEqual(atLoad.message, `memory limit of ${4 * MiB} bytes exceeded: needed ${9 * MiB} bytes`)
      const timeout = new LimitExceeded({ limit: "timeout", componentHash: "abc", function: "process", allowed: 5000 })
      assert.strictEqual(timeout.message, "timeout limit of 5000 ms exceeded calling process")
      // It round-trips through its schema like the other errors.
      const encoded = Schema.encodeSync(LimitExceeded)(atLoad)
      assert.strictEqual(encoded._tag, "LimitExceeded")
      assert.deepStrictEqual(Schema.decodeSync(LimitExceeded)(encoded).requested, 9 * MiB)
    }))
})
