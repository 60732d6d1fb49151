/**
 * Property-based tests (fast-check) of canonical-ABI lifting and lowering, on both call paths: `liar`
 * (imports nothing: our own canonical ABI) and `liar-linked` (jco's glue, with our checks patched in),
 * which answer with whatever pointers, lengths, discriminants and bytes their input tells them to.
 * The oracle is the component model: in bounds and aligned → the value, exactly; otherwise a `Trap`;
 * and the two paths always agree. `AIRSSYS_FC_SEED` / `AIRSSYS_FC_RUNS` reproduce or widen a run.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Layer, Scope } from "effect"
import fc from "fast-check"
import { isUtf8 } from "node:buffer"
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
import { guestPath, program } from "./fixtures.ts"

const seed = process.env.AIRSSYS_FC_SEED === undefined ? 0x15_15 : Number(process.env.AIRSSYS_FC_SEED)
const numRuns = process.env.AIRSSYS_FC_RUNS === undefined ? 150 : Number(process.env.AIRSSYS_FC_RUNS)
const params = { seed, numRuns }

const memoryBytes = 65536

const host = Linker.layer([Logging.hostInterface, Messaging.hostInterface, Storage.hostInterface]).pipe(
  Layer.provideMerge(Layer.mergeAll(Logging.layerMemory, Messaging.layer, Storage.layerMemory())),
  Layer.provideMerge(Router.Router.layer),
  Layer.provideMerge(Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 100 })))
)

type Outcome =
  | { readonly _tag: "Ok"; readonly value: Uint8Array | undefined }
  | { readonly _tag: "GuestError"; readonly payload: unknown }
  | { readonly _tag: "Trap"; readonly message: string }

/**
 * Both liars, re-made after a trap (which poisons an instance). `liar-linked` imports `messaging`, so
 * its glue may suspend (JSPI): calls are promises, properties async.
 */
const makeLiars = Effect.gen(function*() {
  const direct = yield* Component.fromFile(guestPath("liar"))
  const linked = yield* Component.fromFile(guestPath("liar-linked"))
  const context = yield* Effect.context<Linker.Linker>()
  const grants = Capability.makeGrants([])
  const scope = yield* Scope.Scope
  const fresh = (component: Component.Component) =>
    Effect.runSync(
      Linker.instantiate(component, { id: "liar", grants, denyUnlinked: true }).pipe(Scope.provide(scope), Effect.provideContext(context))
    )
  let paths: Record<"direct" | "glue", Instance> = { direct: fresh(direct), glue: fresh(linked) }
  const call = async (path: "direct" | "glue", payload: Uint8Array): Promise<Outcome> => {
    if (paths[path].poisoned) paths = { ...paths, [path]: fresh(path === "direct" ? direct : linked) }
    const exit = await Effect.runPromiseExit(paths[path].handleMessage({ sender: "fc", payload }))
    if (exit._tag === "Success") return { _tag: "Ok", value: exit.value }
    const error = Cause.findErrorOption(exit.cause)
    assert.strictEqual(error._tag, "Some", `not a typed failure: ${String(exit.cause)}`)
    const failure = (error as { value: { _tag: string; message: string; payload?: unknown } }).value
    if (failure._tag === "GuestError") return { _tag: "GuestError", payload: failure.payload }
    assert.strictEqual(failure._tag, "Trap", failure.message)
    return { _tag: "Trap", message: failure.message }
  }
  // Both paths, checked to agree.
  // `sameMemory`: the value read is the guest's own data (not whatever lies in memory, where the two
  // guests' layouts differ), so the paths must return the same bytes.
  const both = async (payload: Uint8Array, sameMemory = true): Promise<Outcome> => {
    const a = await call("direct", payload)
    const b = await call("glue", payload)
    assert.strictEqual(a._tag, b._tag, `direct ${JSON.stringify(a)} vs glue ${JSON.stringify(b)}`)
    if (a._tag === "Ok" && b._tag === "Ok") assert.deepStrictEqual(sameMemory ? a.value : a.value?.byteLength, sameMemory ? b.value : b.value?.byteLength)
    if (sameMemory && a._tag === "GuestError" && b._tag === "GuestError") assert.strictEqual(a.payload, b.payload)
    return a
  }
  return { both }
})

const check = <Ts extends Array<unknown>>(property: fc.IAsyncProperty<Ts>) => Effect.promise(() => fc.assert(property, params))

// u32s biased to the edges: around 0, the end of memory, 2^31 and 2^32.
const u32 = fc.oneof(
  fc.nat({ max: 256 }),
  fc.integer({ min: memoryBytes - 256, max: memoryBytes + 256 }),
  fc.integer({ min: 0x7fff_ff00, max: 0x8000_0100 }),
  fc.integer({ min: 0xffff_ff00, max: 0xffff_ffff }),
  fc.nat({ max: 0xffff_ffff })
)

describe("canonical ABI properties (fast-check), direct and glue paths", () => {
  it.effect("list<u8> result: ok with the bytes iff [ptr, ptr+len) is in memory, else Trap; the paths agree", () =>
    Effect.gen(function*() {
      const { both } = yield* makeLiars
      yield* check(
        fc.asyncProperty(u32, fc.nat({ max: 512 }).chain((small) => fc.oneof(fc.constant(small), u32)), async (ptr, len) => {
          const outcome = await both(program("o", ptr, len), false)
          const inBounds = ptr + len <= memoryBytes
          assert.strictEqual(outcome._tag, inBounds ? "Ok" : "Trap")
          if (outcome._tag === "Ok") assert.strictEqual(outcome.value!.byteLength, len)
        })
      )
    }).pipe(Effect.provide(host)))

  it.effect("string err: the guest's bytes, exactly, iff they are UTF-8, else Trap; the paths agree", () =>
    Effect.gen(function*() {
      const { both } = yield* makeLiars
      const bytes = fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        fc.string({ unit: "binary", maxLength: 32 }).map((s) => new TextEncoder().encode(s))
      )
      yield* check(
        fc.asyncProperty(bytes, async (data) => {
          const outcome = await both(program("E", 0, 0, data))
          if (isUtf8(data)) {
            assert.strictEqual(outcome._tag, "GuestError")
            assert.strictEqual(outcome._tag === "GuestError" && outcome.payload, new TextDecoder().decode(data))
          } else {
            assert.strictEqual(outcome._tag, "Trap")
            assert.match(outcome._tag === "Trap" ? outcome.message : "", /not valid UTF-8/i)
          }
        })
      )
    }).pipe(Effect.provide(host)))

  it.effect("string err out of bounds: Trap iff [ptr, ptr+len) leaves memory; the paths agree", () =>
    Effect.gen(function*() {
      const { both } = yield* makeLiars
      yield* check(
        fc.asyncProperty(u32, u32, async (ptr, len) => {
          const outcome = await both(program("e", ptr, len), false)
          if (ptr + len > memoryBytes) assert.strictEqual(outcome._tag, "Trap")
          else assert.notStrictEqual(outcome._tag, "Ok")
        })
      )
    }).pipe(Effect.provide(host)))

  it.effect("option discriminant: 0 → none, 1 → some, anything else → Trap; the paths agree", () =>
    Effect.gen(function*() {
      const { both } = yield* makeLiars
      yield* check(
        fc.asyncProperty(fc.nat({ max: 255 }), async (tag) => {
          const outcome = await both(program("v", tag))
          assert.strictEqual(outcome._tag, tag <= 1 ? "Ok" : "Trap")
          if (tag === 0) assert.isUndefined(outcome._tag === "Ok" ? outcome.value : null)
        })
      )
    }).pipe(Effect.provide(host)))

  it.effect("return area: misaligned or outside memory → Trap; elsewhere the paths agree on what they read", () =>
    Effect.gen(function*() {
      const { both } = yield* makeLiars
      yield* check(
        fc.asyncProperty(u32, async (ret) => {
          const outcome = await both(program("r", ret), false)
          if (ret % 4 !== 0 || ret + 16 > memoryBytes) assert.strictEqual(outcome._tag, "Trap")
        })
      )
    }).pipe(Effect.provide(host)))

  it.effect("lowering: any payload and any Unicode sender reach the guest and come back unchanged", () =>
    Effect.gen(function*() {
      const { both } = yield* makeLiars
      yield* check(
        fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), fc.string({ unit: "grapheme", maxLength: 64 }), async (data, text) => {
          const outcome = await both(program("O", 0, 0, data))
          assert.strictEqual(outcome._tag, "Ok")
          assert.deepStrictEqual(outcome._tag === "Ok" ? outcome.value : undefined, data)
          const echoed = await both(program("E", 0, 0, new TextEncoder().encode(text)))
          assert.strictEqual(echoed._tag === "GuestError" && echoed.payload, text)
        })
      )
    }).pipe(Effect.provide(host)))
})
