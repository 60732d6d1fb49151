import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric, Tracer } from "effect"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { Component, ComponentCache, ResourceLimits } from "../src/index.ts"
import { decode, guestBytes, spanRecorder, text } from "./fixtures.ts"

const transpiled = Effect.map(Metric.value(Component.transpiles), (state) => state.count)

/** Loads `bytes`, instantiates it and calls `process`: what a load must still give after an eviction. */
const echoes = (bytes: Uint8Array, input: string) =>
  Effect.scoped(Effect.gen(function*() {
    const component = yield* Component.fromBytes(bytes)
    const instance = yield* Component.instantiate(component)
    return decode(yield* instance.process(text(input)))
  }))

describe("ComponentCache", () => {
  it.effect("the default: one process-wide cache of defaultCapacity; a second load of the same bytes is the same component", () =>
    Effect.gen(function*() {
      const cache = yield* ComponentCache.ComponentCache
      assert.strictEqual(ComponentCache.defaultCapacity, 256)
      assert.strictEqual(cache.capacity, ComponentCache.defaultCapacity)
      const first = yield* Component.fromBytes(guestBytes("echo"))
      const before = yield* transpiled
      assert.strictEqual(yield* Component.fromBytes(guestBytes("echo")), first)
      assert.strictEqual(yield* transpiled, before)
      const sizes = yield* cache.sizes
      assert.isAtLeast(sizes.components, 1)
      assert.isAtLeast(sizes.artifacts, 1)
      // Default limits meter fuel: the echo guest's core module was instrumented once.
      assert.isAtLeast(sizes.instrumented, 1)
    }))

  it.effect("a provided cache is apart from the default: its first load transpiles, the default's component is not reused", () =>
    Effect.gen(function*() {
      const shared = yield* Component.fromBytes(guestBytes("echo"))
      const before = yield* transpiled
      const own = yield* Component.fromBytes(guestBytes("echo")).pipe(Effect.provide(ComponentCache.layer({ capacity: 4 })))
      assert.notStrictEqual(own, shared)
      assert.strictEqual(own.hash, shared.hash)
      assert.strictEqual((yield* transpiled) - before, 1)
    }))

  it.effect("capacity 1: the least recently used component is evicted and loaded again; every load still runs", () =>
    Effect.gen(function*() {
      const cache = ComponentCache.make({ capacity: 1 })
      const echo = guestBytes("echo")
      const count = guestBytes("count")
      const before = yield* transpiled
      const program = Effect.gen(function*() {
        const a = yield* Component.fromBytes(echo)
        assert.strictEqual(yield* Component.fromBytes(echo), a, "a hit while it is the one entry")
        assert.strictEqual(yield* echoes(echo, "first"), "first")
        const b = yield* Component.fromBytes(count)
        assert.notStrictEqual(b.hash, a.hash)
        assert.deepStrictEqual(yield* cache.sizes, { components: 1, artifacts: 1, instrumented: 1 })
        // `echo` was evicted by `count`: loading it again transpiles again, and gives a working component.
        const again = yield* Component.fromBytes(echo)
        assert.notStrictEqual(again, a)
        assert.strictEqual(yield* echoes(echo, "after eviction"), "after eviction")
      }).pipe(Effect.provideService(ComponentCache.ComponentCache, cache))
      yield* program
      assert.strictEqual((yield* transpiled) - before, 3)
    }))

  it.effect("capacity 0 caches nothing: every load transpiles and compiles anew, and runs", () =>
    Effect.gen(function*() {
      const cache = ComponentCache.make({ capacity: 0 })
      const echo = guestBytes("echo")
      const before = yield* transpiled
      const outs = yield* Effect.all([echoes(echo, "one"), echoes(echo, "two")]).pipe(
        Effect.provideService(ComponentCache.ComponentCache, cache)
      )
      assert.deepStrictEqual(outs, ["one", "two"])
      assert.strictEqual((yield* transpiled) - before, 2)
      assert.deepStrictEqual(yield* cache.sizes, { components: 0, artifacts: 0, instrumented: 0 })
    }))

  it.effect("clear empties every store; the next load of the same bytes loads again", () =>
    Effect.gen(function*() {
      const cache = ComponentCache.make()
      const echo = guestBytes("echo")
      const limits = { limits: ResourceLimits.unlimited }
      const [first, again] = yield* Effect.gen(function*() {
        const first = yield* Component.fromBytes(echo, limits)
        yield* cache.clear
        assert.deepStrictEqual(yield* cache.sizes, { components: 0, artifacts: 0, instrumented: 0 })
        return [first, yield* Component.fromBytes(echo, limits)] as const
      }).pipe(Effect.provideService(ComponentCache.ComponentCache, cache))
      assert.notStrictEqual(again, first)
      assert.deepStrictEqual(yield* cache.sizes, { components: 1, artifacts: 1, instrumented: 0 })
    }))

  it.effect("the disk cache's entries name the jco-transpile that made them, read from its package.json", () =>
    Effect.gen(function*() {
      const directory = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-cache-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(directory, { recursive: true, force: true })))
      const component = yield* Component.fromBytes(guestBytes("echo"), { cacheDirectory: directory }).pipe(
        Effect.provide(ComponentCache.layer())
      )
      const manifest = JSON.parse(fs.readFileSync(path.join(directory, component.hash, "manifest.json"), "utf8")) as { version: string }
      const require = createRequire(import.meta.url)
      const jco = JSON.parse(
        fs.readFileSync(path.join(path.dirname(require.resolve("@bytecodealliance/jco-transpile")), "..", "package.json"), "utf8")
      ) as { name: string; version: string }
      assert.strictEqual(jco.name, "@bytecodealliance/jco-transpile")
      assert.include(manifest.version, `jco-transpile-${jco.version}/`)
    }).pipe(Effect.scoped))

  it.effect("a cold load is traced as a Component.load span (hash and size); a cache hit makes none", () =>
    Effect.gen(function*() {
      const { spans, tracer: recordingTracer } = spanRecorder()
      const bytes = guestBytes("echo")
      const component = yield* Effect.gen(function*() {
        const component = yield* Component.fromBytes(bytes)
        yield* Component.fromBytes(bytes)
        return component
      }).pipe(Effect.provide(ComponentCache.layer()), Effect.provideService(Tracer.Tracer, recordingTracer))
      const loads = spans.filter((span) => span.name === "Component.load")
      assert.strictEqual(loads.length, 1)
      assert.isTrue(loads[0]!.ended)
      assert.deepStrictEqual(loads[0]!.attributes, { "component.hash": component.hash, "component.size": bytes.byteLength })
    }))
})
