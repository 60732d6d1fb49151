/**
 * Hostile guests: real components trying to reach what they were not granted. Each attempt must be
 * denied with a typed error (the guest's `err`, a `LinkError`), audited, leave the host serving and
 * write nothing.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Audit from "../src/Audit.ts"
import * as Logging from "../src/capability/Logging.ts"
import * as Storage from "../src/capability/Storage.ts"
import * as Capability from "../src/Capability.ts"
import * as Component from "../src/Component.ts"
import { HostRefusal } from "../src/ComponentError.ts"
import * as Linker from "../src/Linker.ts"
import { decode, guestPath, text } from "./fixtures.ts"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "airssys-hostile-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** Inputs for `guests/cap-storage.wat` (as in Linker.test.ts): an op byte, then length-prefixed fields. */
const frame = (op: string, namespace: string, key?: string, value: Uint8Array = new Uint8Array()) => {
  const ns = text(namespace)
  const k = key === undefined ? new Uint8Array() : text(key)
  return new Uint8Array([op.charCodeAt(0), ns.length, ...ns, ...(key === undefined ? [] : [k.length, ...k]), ...value])
}
const storageOp = {
  set: (namespace: string, key: string, value: string | Uint8Array) =>
    frame("s", namespace, key, typeof value === "string" ? text(value) : value),
  get: (namespace: string, key: string) => frame("g", namespace, key),
  delete: (namespace: string, key: string) => frame("d", namespace, key),
  keys: (namespace: string) => frame("k", namespace)
}

const own = (id: string) => Capability.makeGrants([new Capability.Storage({ namespace: id })])

const deniedEvents = Effect.map(Audit.events, (events) => events.filter((event) => event.decision === "denied"))

const guestError = <A>(effect: Effect.Effect<A, unknown>) =>
  Effect.map(Effect.flip(effect), (error) => {
    assert.strictEqual((error as { _tag: string })._tag, "GuestError")
    return String((error as { payload: unknown }).payload)
  })

/** Storage in a real SQLite file, audit in memory and in a JSONL file (verified after each test). */
const storageHost = (dir: string, quota: number) =>
  Linker.layer([Logging.hostInterface, Storage.hostInterface]).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        Logging.layerMemory,
        Storage.layer({ filename: path.join(dir, "state.db"), quota }),
        Audit.combine(Audit.layerMemory({ capacity: 1000 }), Audit.layerJsonl(path.join(dir, "audit.jsonl")))
      )
    )
  )

describe("Hostile guests", () => {
  it.effect("storage - another component's namespace: every operation and disguise is denied, audited, nothing read or written", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* Effect.gen(function*() {
        const component = yield* Component.fromFile(guestPath("cap-storage"))
        const victim = yield* Linker.instantiate(component, { id: "plugin-b", grants: own("plugin-b") })
        const attacker = yield* Linker.instantiate(component, { id: "plugin-a", grants: own("plugin-a") })
        yield* victim.process(storageOp.set("plugin-b", "secret", "hunter2"))
        const before = (yield* Audit.events).length

        const attempts = [
          storageOp.get("plugin-b", "secret"),
          storageOp.set("plugin-b", "secret", "pwned"),
          storageOp.delete("plugin-b", "secret"),
          storageOp.keys("plugin-b"),
          // Disguises of the victim's namespace, and wider names than the grant.
          storageOp.get("PLUGIN-B", "secret"),
          storageOp.get("plugin-b ", "secret"),
          storageOp.get("plugin-a/../plugin-b", "secret"),
          storageOp.get("plugin-a.plugin-b", "secret"),
          storageOp.keys("*"),
          storageOp.keys("**"),
          storageOp.keys("plugin-a.*")
        ]
        for (const attempt of attempts) {
          const payload = yield* guestError(attacker.process(attempt))
          assert.match(payload, /^capability denied: plugin-a holds no Storage grant for /)
        }

        const denied = (yield* Audit.events).slice(before)
        assert.strictEqual(denied.length, attempts.length)
        assert.isTrue(denied.every((event) => event.decision === "denied" && event.component === "plugin-a"))
        assert.deepStrictEqual(denied.slice(0, 4).map((event) => `${event.resource} ${event.detail}`), [
          "plugin-b airssys:component/storage@0.1.0#get",
          "plugin-b airssys:component/storage@0.1.0#set",
          "plugin-b airssys:component/storage@0.1.0#delete",
          "plugin-b airssys:component/storage@0.1.0#list-keys"
        ])
        // Nothing written; the host, the attacker and the victim all keep working.
        const storage = yield* Storage.Storage
        assert.deepStrictEqual(yield* storage.keys("plugin-b"), ["secret"])
        assert.strictEqual(decode((yield* storage.get("plugin-b", "secret"))!), "hunter2")
        assert.strictEqual(yield* storage.usage("plugin-a"), 0)
        assert.isFalse(attacker.poisoned)
        yield* attacker.process(storageOp.set("plugin-a", "mine", "ok"))
        assert.strictEqual(decode(yield* victim.process(storageOp.get("plugin-b", "secret"))), "hunter2")
      }).pipe(Effect.provide(storageHost(dir, 1024)))
      const verified = yield* Audit.verifyFile(path.join(dir, "audit.jsonl"))
      assert.isAbove(verified.events, 11)
    }))

  it.effect("storage - past the quota: err for the guest, audited as denied, nothing written", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* Effect.gen(function*() {
        const component = yield* Component.fromFile(guestPath("cap-storage"))
        const hog = yield* Linker.instantiate(component, { id: "hog", grants: own("hog") })
        yield* hog.process(storageOp.set("hog", "a", new Uint8Array(60))) // 61 of 100 bytes
        const payload = yield* guestError(hog.process(storageOp.set("hog", "b", new Uint8Array(60))))
        assert.strictEqual(payload, "storage quota exceeded: hog would hold 122 bytes, its quota is 100")

        const denied = yield* deniedEvents
        assert.deepStrictEqual(denied.map((event) => [event.capability, event.resource, event.detail]), [
          ["Storage", "hog", "airssys:component/storage@0.1.0#set: QuotaExceeded"]
        ])
        const storage = yield* Storage.Storage
        assert.deepStrictEqual(yield* storage.keys("hog"), ["a"])
        assert.strictEqual(yield* storage.usage("hog"), 61)
        // Still serving: a write within the quota passes.
        yield* hog.process(storageOp.set("hog", "b", new Uint8Array(30)))
        assert.isFalse(hog.poisoned)
      }).pipe(Effect.provide(storageHost(dir, 100)))
      yield* Audit.verifyFile(path.join(dir, "audit.jsonl"))
    }))

  it.effect("custom interface - ungranted: a LinkError naming it (audited); as a deny stub: err, audited, never called", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      class Weapons extends Context.Service<Weapons, {
        readonly fire: (weapon: string) => Effect.Effect<number, HostRefusal>
      }>()("test/Hostile/Weapons") {}
      const weapons = Linker.custom({
        interface: "game:api/weapons",
        scope: (_fn, [weapon]) => String(weapon),
        make: Effect.gen(function*() {
          const service = yield* Weapons
          return (_componentId: string) => ({ fire: (weapon: string) => service.fire(weapon) })
        })
      })
      const host = Linker.layer([weapons]).pipe(
        Layer.provideMerge(
          Layer.merge(
            Layer.succeed(Weapons, Weapons.of({ fire: (weapon) => Effect.sync(() => calls.push(weapon)) })),
            Audit.layerMemory({ capacity: 100 })
          )
        )
      )
      yield* Effect.gen(function*() {
        const component = yield* Component.fromFile(guestPath("cap-game"))
        // A grant for storage, or for another custom interface, is not a grant for this one.
        const unrelated = Capability.makeGrants([
          new Capability.Storage({ namespace: "mod" }),
          new Capability.Custom({ interface: "game:api/inventory", scope: "*" })
        ])
        const error = yield* Effect.flip(Linker.instantiate(component, { id: "mod", grants: unrelated }))
        assert.strictEqual(error._tag, "LinkError")
        assert.strictEqual(error._tag === "LinkError" && error.interface, "game:api/weapons")
        assert.include(error.message, "holds no Custom grant")

        const stubbed = yield* Linker.instantiate(component, { id: "mod", grants: unrelated, denyUnlinked: true })
        const payload = yield* guestError(stubbed.process(text("nuke")))
        assert.strictEqual(payload, "capability denied: mod holds no Custom grant for game:api/weapons@0.1.0")
        assert.deepStrictEqual(calls, [])
        assert.deepStrictEqual((yield* deniedEvents).map((event) => [event.capability, event.resource, event.detail]), [
          ["Custom", "game:api/weapons@0.1.0", "link"],
          ["Custom", "game:api/weapons@0.1.0", "link"],
          ["Custom", "game:api/weapons@0.1.0", "game:api/weapons@0.1.0#fire"]
        ])
        assert.isFalse(stubbed.poisoned)
      }).pipe(Effect.provide(host))
    }))
})
