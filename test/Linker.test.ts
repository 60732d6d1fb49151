import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Tracer } from "effect"
import { TestClock } from "effect/testing"
import { HostRefusal } from "../src/ComponentError.ts"
import * as Audit from "../src/Audit.ts"
import * as Logging from "../src/capability/Logging.ts"
import * as Storage from "../src/capability/Storage.ts"
import * as Capability from "../src/Capability.ts"
import * as Component from "../src/Component.ts"
import * as Linker from "../src/Linker.ts"
import * as Router from "../src/Router.ts"
import { decode, logCapture, guestPath, text } from "./fixtures.ts"
import { capabilityEvents, frame, grants } from "./storageFrames.ts"

/** Inputs for `guests/cap-storage.wat`: an op byte, then length-prefixed fields. */
const storageOp = {
  set: (namespace: string, key: string, value: string | Uint8Array) =>
    frame("s", namespace, key, typeof value === "string" ? text(value) : value),
  get: (namespace: string, key: string) => frame("g", namespace, key),
  delete: (namespace: string, key: string) => frame("d", namespace, key),
  keys: (namespace: string) => frame("k", namespace),
  log: (message: string) => new Uint8Array([0x6c, ...text(message)])
}


const HostMemory = Linker.layer([Logging.hostInterface, Storage.hostInterface]).pipe(
  Layer.provideMerge(Layer.mergeAll(Logging.layerMemory, Storage.layerMemory({ quota: 64 }), Audit.layerMemory({ capacity: 100 })))
)

const loadStorageGuest = Component.fromFile(guestPath("cap-storage"))

describe("Linker", () => {
  it.effect("instantiate - links logging and storage; calls are checked, audited and reach the services", () =>
    Effect.gen(function*() {
      const component = yield* loadStorageGuest
      const instance = yield* Linker.instantiate(component, { id: "plugin-a", grants: grants(new Capability.Storage({ namespace: "plugin-a" })) })
      assert.strictEqual(decode(yield* instance.process(storageOp.set("plugin-a", "greeting", "hello"))), "")
      assert.strictEqual(decode(yield* instance.process(storageOp.get("plugin-a", "greeting"))), "hello")
      yield* instance.process(storageOp.set("plugin-a", "b", "2"))
      assert.strictEqual(decode(yield* instance.process(storageOp.keys("plugin-a"))), "b\ngreeting")
      yield* instance.process(storageOp.delete("plugin-a", "b"))
      assert.strictEqual(decode(yield* instance.process(storageOp.keys("plugin-a"))), "greeting")
      const missing = yield* Effect.flip(instance.process(storageOp.get("plugin-a", "b")))
      assert.strictEqual(missing._tag === "GuestError" && missing.payload, "no such key")
      yield* instance.process(storageOp.log("hello from the guest"))

      assert.deepStrictEqual(yield* Logging.lines, [{ component: "plugin-a", level: "info", message: "hello from the guest" }])
      const storage = yield* Storage.Storage
      assert.deepStrictEqual(yield* storage.get("plugin-a", "greeting"), text("hello"))
      assert.deepStrictEqual(yield* capabilityEvents, [
        "Storage airssys:component/storage@0.1.0 granted link",
        ...[
          "set",
          "get",
          "set",
          "list-keys",
          "delete",
          "list-keys",
          "get"
        ].map((fn) => `Storage plugin-a granted airssys:component/storage@0.1.0#${fn}`)
      ])
      const events = yield* Audit.events
      assert.isTrue(events.every((event) => event.component === "plugin-a"))
    }).pipe(Effect.provide(HostMemory)))

  it.effect("instantiate - a namespace the grants do not cover is err for the guest and audited as denied", () =>
    Effect.gen(function*() {
      const component = yield* loadStorageGuest
      const instance = yield* Linker.instantiate(component, { id: "plugin-a", grants: grants(new Capability.Storage({ namespace: "plugin-a.*" })) })
      yield* instance.process(storageOp.set("plugin-a.cache", "k", "v"))
      const error = yield* Effect.flip(instance.process(storageOp.set("plugin-b", "k", "v")))
      assert.strictEqual(error._tag, "GuestError")
      assert.strictEqual(
        error._tag === "GuestError" && error.payload,
        "capability denied: plugin-a holds no Storage grant for plugin-b"
      )
      const events = yield* capabilityEvents
      assert.deepStrictEqual(events.slice(-2), [
        "Storage plugin-a.cache granted airssys:component/storage@0.1.0#set",
        "Storage plugin-b denied airssys:component/storage@0.1.0#set"
      ])
      assert.deepStrictEqual(yield* (yield* Storage.Storage).keys("plugin-b"), [])
    }).pipe(Effect.provide(HostMemory)))

  it.effect("instantiate - repeated calls on the same resources are each audited with their time; one instance's verdicts are its own", () =>
    Effect.gen(function*() {
      const component = yield* loadStorageGuest
      const a = yield* Linker.instantiate(component, { id: "plugin-a", grants: grants(new Capability.Storage({ namespace: "plugin-a" })) })
      const b = yield* Linker.instantiate(component, { id: "plugin-b", grants: grants(new Capability.Storage({ namespace: "plugin-b" })) })
      for (let i = 0; i < 3; i++) {
        yield* a.process(storageOp.set("plugin-a", "k", `v${i}`))
        yield* Effect.flip(a.process(storageOp.set("plugin-b", "k", "x")))
        yield* b.process(storageOp.set("plugin-b", "k", `w${i}`))
        yield* TestClock.adjust("1 second")
      }
      const events = (yield* Audit.events).filter((event) => event.detail?.endsWith("#set"))
      assert.deepStrictEqual(
        events.map((event) => `${event.component} ${event.resource} ${event.decision} ${event.time}`),
        [0, 1, 2].flatMap((i) => [
          `plugin-a plugin-a granted ${i * 1000}`,
          `plugin-a plugin-b denied ${i * 1000}`,
          `plugin-b plugin-b granted ${i * 1000}`
        ])
      )
      const storage = yield* Storage.Storage
      assert.deepStrictEqual(yield* storage.get("plugin-b", "k"), text("w2"))
      assert.deepStrictEqual(yield* storage.get("plugin-a", "k"), text("v2"))
    }).pipe(Effect.provide(HostMemory)))

  it.effect("instantiate - once the audit cannot keep its events, a guest's call traps before reaching the service; the host lives", () =>
    Effect.gen(function*() {
      let fail = false
      const failing = Layer.effect(
        Audit.Audit,
        Audit.make([{
          write: () => {},
          writeBatch: () => {
            if (fail) throw new Error("disk full")
          }
        }])
      )
      yield* Effect.gen(function*() {
        const component = yield* loadStorageGuest
        const instance = yield* Linker.instantiate(component, { id: "plugin-a", grants: grants(new Capability.Storage({ namespace: "plugin-a" })) })
        yield* instance.process(storageOp.set("plugin-a", "a", "1"))
        fail = true
        // Appended (the flush that fails comes at the end of the tick), so it goes through.
        yield* instance.process(storageOp.set("plugin-a", "b", "2"))
        yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
        const error = yield* Effect.flip(instance.process(storageOp.set("plugin-a", "c", "3")))
        assert.strictEqual(error._tag, "Trap")
        assert.include(error._tag === "Trap" ? error.message : "", "disk full")
        const storage = yield* Storage.Storage
        assert.deepStrictEqual(yield* storage.keys("plugin-a"), ["a", "b"])
      }).pipe(
        Effect.provide(
          Linker.layer([Logging.hostInterface, Storage.hostInterface]).pipe(
            Layer.provideMerge(Layer.mergeAll(Logging.layerDeny, Storage.layerMemory(), failing))
          )
        )
      )
    }))

  it.effect("imports - an interface the grants do not satisfy is a LinkError naming it, audited at link", () =>
    Effect.gen(function*() {
      const component = yield* loadStorageGuest
      const error = yield* Effect.flip(Linker.instantiate(component, { id: "plugin-a", grants: Capability.emptyGrants }))
      assert.strictEqual(error._tag, "LinkError")
      assert.strictEqual(error._tag === "LinkError" && error.interface, "airssys:component/storage")
      assert.include(error.message, "holds no Storage grant")
      assert.deepStrictEqual(yield* capabilityEvents, ["Storage airssys:component/storage@0.1.0 denied link"])
    }).pipe(Effect.provide(HostMemory)))

  it.effect("imports - an interface no host interface implements is a LinkError", () =>
    Effect.gen(function*() {
      const component = yield* loadStorageGuest
      const error = yield* Effect.flip(
        Linker.imports(component, { id: "plugin-a", grants: grants(new Capability.Storage({ namespace: "plugin-a" })) })
      )
      assert.strictEqual(error.interface, "airssys:component/storage")
      assert.include(error.message, "no implementation was found")
      assert.deepStrictEqual(yield* capabilityEvents, ["Import airssys:component/storage@0.1.0 denied link: no host implementation"])
    }).pipe(
      Effect.provide(
        Linker.layer([Logging.hostInterface]).pipe(Layer.provideMerge(Layer.merge(Logging.layerMemory, Audit.layerMemory({ capacity: 10 }))))
      )
    ))

  it.effect("imports - denyUnlinked links deny stubs: every call is err and audited, the rest still works", () =>
    Effect.gen(function*() {
      const component = yield* loadStorageGuest
      const ungranted = yield* Linker.instantiate(component, { id: "plugin-a", grants: Capability.emptyGrants, denyUnlinked: true })
      const error = yield* Effect.flip(ungranted.process(storageOp.get("plugin-a", "k")))
      assert.strictEqual(
        error._tag === "GuestError" && error.payload,
        "capability denied: plugin-a holds no Storage grant for airssys:component/storage@0.1.0"
      )
      yield* ungranted.process(storageOp.log("still logging"))
      assert.deepStrictEqual(yield* Logging.lines, [{ component: "plugin-a", level: "info", message: "still logging" }])
      assert.deepStrictEqual(yield* capabilityEvents, [
        "Storage airssys:component/storage@0.1.0 denied link",
        "Storage airssys:component/storage@0.1.0 denied airssys:component/storage@0.1.0#get"
      ])
      assert.isFalse(ungranted.poisoned)
    }).pipe(Effect.provide(HostMemory)))

  it.effect("imports - denyUnlinked stubs an interface no host implements", () =>
    Effect.gen(function*() {
      const component = yield* loadStorageGuest
      const instance = yield* Linker.instantiate(component, {
        id: "plugin-a",
        grants: grants(new Capability.Storage({ namespace: "plugin-a" })),
        denyUnlinked: true
      })
      const error = yield* Effect.flip(instance.process(storageOp.keys("plugin-a")))
      assert.strictEqual(
        error._tag === "GuestError" && error.payload,
        "capability denied: airssys:component/storage@0.1.0 is not available to plugin-a"
      )
      assert.deepStrictEqual((yield* capabilityEvents).at(-1), "Import airssys:component/storage@0.1.0 denied airssys:component/storage@0.1.0#list-keys")
    }).pipe(
      Effect.provide(
        Linker.layer([Logging.hostInterface]).pipe(Layer.provideMerge(Layer.merge(Logging.layerMemory, Audit.layerMemory({ capacity: 10 }))))
      )
    ))

  it.effect("Storage.layerDeny - linked, but every call is a refusal audited as denied", () =>
    Effect.gen(function*() {
      const component = yield* loadStorageGuest
      const instance = yield* Linker.instantiate(component, { id: "plugin-a", grants: grants(new Capability.Storage({ namespace: "plugin-a" })) })
      const error = yield* Effect.flip(instance.process(storageOp.set("plugin-a", "k", "v")))
      assert.strictEqual(error._tag === "GuestError" && error.payload, "storage is not available on this host")
      assert.deepStrictEqual((yield* capabilityEvents).slice(-2), [
        "Storage plugin-a granted airssys:component/storage@0.1.0#set",
        "Storage plugin-a denied airssys:component/storage@0.1.0#set: Denied"
      ])
    }).pipe(
      Effect.provide(
        Linker.layer([Logging.hostInterface, Storage.hostInterface]).pipe(
          Layer.provideMerge(Layer.mergeAll(Logging.layerDeny, Storage.layerDeny, Audit.layerMemory({ capacity: 10 })))
        )
      )
    ))

  it.effect("Logging.layer - a guest's lines go to the Effect logger, annotated with the component id", () =>
    Effect.gen(function*() {
      const { logged, layer: captureLogs } = logCapture()
      yield* Effect.gen(function*() {
        const component = yield* loadStorageGuest
        const instance = yield* Linker.instantiate(component, { id: "plugin-log", grants: grants(new Capability.Storage({ namespace: "x" })) })
        yield* instance.process(storageOp.log("over the bridge"))
      }).pipe(
        Effect.provide(
          Linker.layer([Logging.hostInterface, Storage.hostInterface]).pipe(
            Layer.provideMerge(Layer.mergeAll(Logging.layer, Storage.layerMemory(), Audit.layerMemory({ capacity: 10 })))
          )
        ),
        Effect.provide(captureLogs)
      )
      assert.deepStrictEqual(logged, [{ message: ["over the bridge"], level: "Info", annotations: { component: "plugin-log" } }])
    }))

  it.effect("spans - building the Linker and each link are spans of their own (cold paths), guest calls are not", () =>
    Effect.gen(function*() {
      const spans: Array<string> = []
      const recording = Tracer.make({
        span: (options) => {
          spans.push(options.name)
          return Tracer.nativeTracer.span(options)
        }
      })
      const component = yield* loadStorageGuest
      yield* Effect.gen(function*() {
        const instance = yield* Linker.instantiate(component, { id: "traced", grants: grants(new Capability.Storage({ namespace: "traced" })) })
        yield* instance.process(storageOp.set("traced", "k", "v"))
        yield* instance.process(storageOp.get("traced", "k"))
        yield* Linker.imports(component, { id: "traced-2", grants: Capability.emptyGrants, denyUnlinked: true })
      }).pipe(Effect.provide(HostMemory), Effect.provideService(Tracer.Tracer, recording))
      assert.deepStrictEqual(spans.filter((name) => name.startsWith("Linker.")), ["Linker.make", "Linker.link", "Linker.link"])
    }))

  it.effect("authorize - host code checks a component's grant; a denial is a typed CapabilityDenied, audited", () =>
    Effect.gen(function*() {
      const granted = grants(new Capability.Messaging({ pattern: "orders.*" }))
      yield* Linker.authorize("billing", granted, { _tag: "Messaging", target: "orders.eu" })
      const denied = yield* Effect.flip(Linker.authorize("billing", granted, { _tag: "Messaging", target: "payments.eu" }))
      assert.strictEqual(denied._tag, "CapabilityDenied")
      assert.deepStrictEqual([denied.component, denied.capability, denied.resource], ["billing", "Messaging", "payments.eu"])
      assert.strictEqual(denied.message, "capability denied: billing holds no Messaging grant for payments.eu")
      // One error wherever the check is made: the Router's denials are the same class.
      assert.isTrue(denied instanceof Capability.CapabilityDenied && denied instanceof Router.CapabilityDenied)
      const forTool = yield* Effect.flip(Linker.authorize("billing", granted, { _tag: "Messaging", target: "payments.eu" }, "tool call"))
      assert.strictEqual(forTool.detail, "tool call")
      assert.deepStrictEqual(yield* capabilityEvents, [
        "Messaging orders.eu granted",
        "Messaging payments.eu denied",
        "Messaging payments.eu denied tool call"
      ])
    }).pipe(Effect.provide(Audit.layerMemory({ capacity: 10 }))))
})

// -----------------------------------------------------------------------------
// custom capability
// -----------------------------------------------------------------------------

/** A game's weapons service: the host side of `game:api/weapons` (guests/wit/game.wit). */
class Weapons extends Context.Service<Weapons, {
  readonly fire: (player: string, weapon: string) => Effect.Effect<number, HostRefusal>
}>()("test/Weapons") {}

const arsenal: Record<string, number> = { laser: 30, railgun: 90, nuke: 9000 }
const fired: Array<string> = []

const WeaponsLive = Layer.succeed(
  Weapons,
  Weapons.of({
    fire: (player, weapon) => {
      const damage = arsenal[weapon]
      if (damage === undefined) return Effect.fail(new HostRefusal({ payload: `no such weapon: ${weapon}` }))
      return Effect.sync(() => {
        fired.push(`${player}:${weapon}`)
        return damage
      })
    }
  })
)

const weaponsInterface = Linker.custom({
  interface: "game:api/weapons",
  scope: (_fn, [weapon]) => String(weapon),
  make: Effect.gen(function*() {
    const weapons = yield* Weapons
    return (componentId: string) => ({ fire: (weapon: string) => weapons.fire(componentId, weapon) })
  })
})

const GameHost = Linker.layer([weaponsInterface]).pipe(
  Layer.provideMerge(Layer.merge(WeaponsLive, Audit.layerMemory({ capacity: 100 })))
)

const damageOf = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true)

describe("Linker.custom", () => {
  it.effect("custom - a user-defined interface granted with Custom({ interface, scope }), checked per scope", () =>
    Effect.gen(function*() {
      fired.length = 0
      const component = yield* Component.fromFile(guestPath("cap-game"))
      const mod = yield* Linker.instantiate(component, {
        id: "mod-1",
        grants: grants(
          new Capability.Custom({ interface: "game:api/weapons", scope: "laser" }),
          new Capability.Custom({ interface: "game:api/weapons@0.1.0", scope: "railgun" })
        )
      })
      assert.strictEqual(damageOf(yield* mod.process(text("laser"))), 30)
      assert.strictEqual(damageOf(yield* mod.process(text("railgun"))), 90)
      const error = yield* Effect.flip(mod.process(text("nuke")))
      assert.strictEqual(
        error._tag === "GuestError" && error.payload,
        "capability denied: mod-1 holds no Custom grant for game:api/weapons@0.1.0#nuke"
      )
      assert.deepStrictEqual(fired, ["mod-1:laser", "mod-1:railgun"])
      assert.deepStrictEqual(yield* capabilityEvents, [
        "Custom game:api/weapons@0.1.0 granted link",
        "Custom game:api/weapons@0.1.0#laser granted game:api/weapons@0.1.0#fire",
        "Custom game:api/weapons@0.1.0#railgun granted game:api/weapons@0.1.0#fire",
        "Custom game:api/weapons@0.1.0#nuke denied game:api/weapons@0.1.0#fire"
      ])
    }).pipe(Effect.provide(GameHost)))

  it.effect("custom - the implementation's own refusal reaches the guest as err", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("cap-game"))
      const mod = yield* Linker.instantiate(component, {
        id: "mod-2",
        grants: grants(new Capability.Custom({ interface: "game:api/weapons", scope: "*" }))
      })
      const error = yield* Effect.flip(mod.process(text("banana")))
      assert.strictEqual(error._tag === "GuestError" && error.payload, "no such weapon: banana")
      assert.isFalse(mod.poisoned)
    }).pipe(Effect.provide(GameHost)))

  it.effect("custom - a grant for another version of the interface does not link", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("cap-game"))
      const error = yield* Effect.flip(Linker.instantiate(component, {
        id: "mod-3",
        grants: grants(new Capability.Custom({ interface: "game:api/weapons@2.0.0", scope: "*" }))
      }))
      assert.strictEqual(error._tag === "LinkError" && error.interface, "game:api/weapons")
    }).pipe(Effect.provide(GameHost)))
})
