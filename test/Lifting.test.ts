/**
 * Every value lifted from guest memory is checked, on both call paths: `liar` imports nothing and is
 * called by our own canonical ABI; `liar-linked` imports logging, messaging and storage and is called
 * through jco's glue (with our checks patched in). A pointer or length outside linear memory, a
 * misaligned return area, a bad discriminant and a string that is not UTF-8 are each a `Trap` that
 * poisons the instance, never a clipped or repaired value.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Audit from "../src/Audit.ts"
import * as Logging from "../src/capability/Logging.ts"
import * as Messaging from "../src/capability/Messaging.ts"
import * as Storage from "../src/capability/Storage.ts"
import * as Capability from "../src/Capability.ts"
import * as Component from "../src/Component.ts"
import type { Instance } from "../src/Instance.ts"
import * as Linker from "../src/Linker.ts"
import * as Registry from "../src/Registry.ts"
import * as Router from "../src/Router.ts"
import { guestPath, invalidUtf8, program, text } from "./fixtures.ts"

const host = Linker.layer([Logging.hostInterface, Messaging.hostInterface, Storage.hostInterface]).pipe(
  Layer.provideMerge(Layer.mergeAll(Logging.layerMemory, Messaging.layer, Storage.layerMemory())),
  Layer.provideMerge(Router.Router.layer),
  Layer.provideMerge(Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 1000 })))
)

const grants = Capability.makeGrants([
  new Capability.Storage({ namespace: "ns" }),
  new Capability.Messaging({ pattern: "*" })
])

const liars = {
  direct: Effect.gen(function*() {
    const instance = yield* Component.instantiate(yield* Component.fromFile(guestPath("liar")))
    assert.include(instance.directCalls, "airssys:component/handler#handle-message")
    return instance
  }),
  glue: Effect.gen(function*() {
    const instance = yield* Linker.instantiate(yield* Component.fromFile(guestPath("liar-linked")), { id: "liar", grants })
    assert.deepStrictEqual(instance.directCalls, [])
    return instance
  })
}

const send = (instance: Instance, payload: Uint8Array) => instance.handleMessage({ sender: "test", payload })

/** The call traps with a message matching `pattern`, and the instance is poisoned after. */
const expectTrap = (instance: Instance, payload: Uint8Array, pattern: RegExp) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(send(instance, payload))
    assert.strictEqual(error._tag, "Trap", error.message)
    assert.match(error.message, pattern)
    assert.isTrue(instance.poisoned)
  })

const memoryBytes = 65536

for (const [path, liar] of Object.entries(liars)) {
  describe(`Lifting through the ${path} path`, () => {
    it.effect("a well-behaved answer still lifts", () =>
      Effect.gen(function*() {
        const instance = yield* liar
        const reply = yield* send(instance, program("O", 0, 0, text("héllo")))
        assert.deepStrictEqual(reply, text("héllo"))
        const error = yield* Effect.flip(send(instance, program("E", 0, 0, text("nö"))))
        assert.strictEqual(error._tag, "GuestError")
        assert.strictEqual((error as { payload: unknown }).payload, "nö")
      }).pipe(Effect.provide(host)))

    const outside: ReadonlyArray<readonly [string, number, number]> = [
      ["just past the end", memoryBytes - 4, 5],
      ["a pointer near 2^32", 0xffff_fff0, 8],
      ["a huge length", 1024, 0xffff_ff00],
      ["pointer and length that wrap to 0", 0xffff_ffff, 1]
    ]
    for (const [what, ptr, len] of outside) {
      it.effect(`ok list out of bounds (${what}) - Trap`, () =>
        Effect.gen(function*() {
          yield* expectTrap(yield* liar, program("o", ptr, len), /outside linear memory/)
        }).pipe(Effect.provide(host)))
      it.effect(`err string out of bounds (${what}) - Trap`, () =>
        Effect.gen(function*() {
          yield* expectTrap(yield* liar, program("e", ptr, len), /outside linear memory/)
        }).pipe(Effect.provide(host)))
    }

    for (const [what, ret] of [["misaligned", 17], ["outside memory", memoryBytes], ["near 2^32", 0xffff_fff0]] as const) {
      it.effect(`return area ${what} - Trap`, () =>
        Effect.gen(function*() {
          yield* expectTrap(yield* liar, program("r", ret), /return area/)
        }).pipe(Effect.provide(host)))
    }

    it.effect("option discriminant out of range - Trap", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(send(yield* liar, program("v", 7)))
        assert.strictEqual(error._tag, "Trap")
        assert.match(error.message, /discriminant/)
      }).pipe(Effect.provide(host)))

    invalidUtf8.forEach((bytes, i) => {
      it.effect(`err string not UTF-8 (#${i}) - Trap, not U+FFFD`, () =>
        Effect.gen(function*() {
          yield* expectTrap(yield* liar, program("E", 0, 0, bytes), /not valid UTF-8/i)
        }).pipe(Effect.provide(host)))
    })
  })
}

describe("Lifting what a linked guest hands the host", () => {
  it.effect("log message, storage key, messaging target and topic out of bounds - Trap", () =>
    Effect.gen(function*() {
      for (const op of ["l", "k"]) {
        yield* expectTrap(yield* liars.glue, program(op, 0xffff_fff0, 64), /outside linear memory/)
        yield* expectTrap(yield* liars.glue, program(op, 1024, 0x8000_0000), /outside linear memory/)
      }
    }).pipe(Effect.provide(host)))

  it.effect("log message, storage key, messaging target and topic not UTF-8 - Trap, nothing reaches the host", () =>
    Effect.gen(function*() {
      for (const op of ["L", "K", "s", "p"]) {
        for (const bytes of invalidUtf8) yield* expectTrap(yield* liars.glue, program(op, 0, 0, bytes), /not valid UTF-8/i)
      }
      assert.deepStrictEqual(yield* Logging.lines, [])
    }).pipe(Effect.provide(host)))

  it.effect("valid strings reach the host unchanged", () =>
    Effect.gen(function*() {
      const instance = yield* liars.glue
      yield* send(instance, program("L", 0, 0, text("grüße")))
      yield* send(instance, program("K", 0, 0, text("schlüssel")))
      const lines = yield* Logging.lines
      assert.deepStrictEqual(lines.map((line) => line.message), ["grüße"])
    }).pipe(Effect.provide(host)))

  for (const [what, at] of [["misaligned", 50], ["outside memory", memoryBytes - 4], ["near 2^32", 0xffff_fff0]] as const) {
    it.effect(`storage.get's result area ${what} - Trap`, () =>
      Effect.gen(function*() {
        yield* expectTrap(yield* liars.glue, program("R", at), /result area/)
      }).pipe(Effect.provide(host)))
  }
})
