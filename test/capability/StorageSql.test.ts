/**
 * `Storage.layerSql` through real components, in process, over SQLite (`@effect/sql-sqlite-node`): a
 * guest loaded where it is provided has its storage imports lowered as suspending (JSPI); grants,
 * quota and audit work as with the synchronous layer; a guest waiting on a busy database is parked
 * while other actors are served, and its call ends at the call's timeout with `LimitExceeded`; a
 * component loaded with synchronous storage imports does not link against it. (The semantics of each
 * operation are `Storage.test`'s, run against `layerSql` too.)
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { TestClock } from "effect/testing"
import * as Actor from "../../src/Actor.ts"
import * as Audit from "../../src/Audit.ts"
import * as Logging from "../../src/capability/Logging.ts"
import * as Storage from "../../src/capability/Storage.ts"
import * as Capability from "../../src/Capability.ts"
import * as Component from "../../src/Component.ts"
import { LimitExceeded, LinkError } from "../../src/ComponentError.ts"
import * as Linker from "../../src/Linker.ts"
import * as Supervisor from "../../src/Supervisor.ts"
import { decode, guestBytes, text } from "../fixtures.ts"
import { capabilityEvents, frame, grants } from "../storageFrames.ts"


const u32 = (bytes: Uint8Array | undefined) => bytes === undefined ? -1 : new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true)

// The storage, its SQL client and the Linker, all visible to the test (`provideMerge`): components loaded
// in the test's context see `layerSql`'s `SuspendingImports`.
const HostSql = Linker.layer([Logging.hostInterface, Storage.hostInterface]).pipe(
  Layer.provideMerge(Layer.mergeAll(Logging.layerMemory, Audit.layerMemory({ capacity: 100 }))),
  Layer.provideMerge(Storage.layerSql({ quota: 64 })),
  Layer.provideMerge(Layer.orDie(SqliteClient.layer({ filename: ":memory:" })))
)

const limits = { timeout: Duration.seconds(1), fuel: 100_000_000 }

describe("Storage.layerSql", () => {
  it.effect("layerSql - a guest loaded where it is provided suspends on storage; grants, quota and audit as with the synchronous layer", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromBytes(guestBytes("cap-storage"), { limits })
      assert.includeMembers([...component.loaded.suspending], [...Storage.suspendingFunctions])
      const instance = yield* Linker.instantiate(component, { id: "plugin-a", grants: grants(new Capability.Storage({ namespace: "plugin-a" })) })
      assert.strictEqual(decode(yield* instance.process(frame("s", "plugin-a", "greeting", text("hello")))), "")
      assert.strictEqual(decode(yield* instance.process(frame("g", "plugin-a", "greeting"))), "hello")
      yield* instance.process(frame("s", "plugin-a", "b", text("2")))
      assert.strictEqual(decode(yield* instance.process(frame("k", "plugin-a"))), "b\ngreeting")
      yield* instance.process(frame("d", "plugin-a", "b"))

      // Another component's namespace: err for the guest, audited as denied, nothing written.
      const denied = yield* Effect.flip(instance.process(frame("s", "plugin-b", "k", text("v"))))
      assert.strictEqual(denied._tag === "GuestError" && denied.payload, "capability denied: plugin-a holds no Storage grant for plugin-b")
      // Past the quota (64 bytes; "greeting" + "hello" hold 13): err, audited as denied, nothing written.
      const quota = yield* Effect.flip(instance.process(frame("s", "plugin-a", "big", new Uint8Array(60))))
      assert.include(quota._tag === "GuestError" ? String(quota.payload) : "", "storage quota exceeded: plugin-a would hold 76 bytes, its quota is 64")

      const storage = yield* Storage.Storage
      assert.deepStrictEqual(yield* storage.keys("plugin-a"), ["greeting"])
      assert.deepStrictEqual(yield* storage.keys("plugin-b"), [])
      assert.strictEqual(yield* storage.usage("plugin-a"), 13)
      assert.deepStrictEqual(yield* capabilityEvents, [
        "Storage airssys:component/storage@0.1.0 granted link",
        ...["set", "get", "set", "list-keys", "delete"].map((fn) => `Storage plugin-a granted airssys:component/storage@0.1.0#${fn}`),
        "Storage plugin-b denied airssys:component/storage@0.1.0#set",
        "Storage plugin-a granted airssys:component/storage@0.1.0#set",
        "Storage plugin-a denied airssys:component/storage@0.1.0#set: QuotaExceeded"
      ])
    }).pipe(Effect.provide(HostSql)))

  it.effect("layerSql - while a guest waits on a busy database, other actors are served; at its call's timeout it fails with LimitExceeded and serves on", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const counter = yield* Component.fromBytes(guestBytes("storage-counter"), { limits })
      const other = yield* Component.fromBytes(guestBytes("lifecycle"), { limits })
      const imports = yield* Linker.imports(counter, { id: "tally/1", grants: grants(new Capability.Storage({ namespace: "tally/1" })) })
      const tally = yield* Actor.make(counter, { id: "tally/1", imports })
      yield* Supervisor.start({ id: "tally", children: [Actor.child(tally, { restart: "Transient" })] })
      const neighbour = yield* Actor.spawn(other, { id: "neighbour" })
      assert.strictEqual(u32(yield* tally.request(text("tally/1"))), 1)

      // Another fiber holds the database (a transaction in progress, as the cluster's own work may).
      const release = yield* Deferred.make<void>()
      const held = yield* Deferred.make<void>()
      const holder = yield* Effect.forkChild(
        sql.withTransaction(Effect.andThen(Deferred.succeed(held, undefined), Deferred.await(release))),
        { startImmediately: true }
      )
      yield* Deferred.await(held)
      const waiting = yield* Effect.forkChild(Effect.exit(tally.request(text("tally/1"))), { startImmediately: true })
      yield* Effect.yieldNow
      // The guest is parked in its storage call: the neighbour answers meanwhile, again and again.
      for (let i = 1; i <= 3; i++) assert.strictEqual(u32(yield* neighbour.request(text("tick"))), i)
      assert.isUndefined(waiting.pollUnsafe())

      // The database does not answer within the call's timeout (1 s): the call ends, typed.
      yield* TestClock.adjust("1100 millis")
      const exit = yield* Fiber.join(waiting)
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
      assert.instanceOf(error?._tag === "Fail" ? error.error : undefined, LimitExceeded)
      assert.strictEqual(error?._tag === "Fail" && error.error._tag === "LimitExceeded" ? error.error.limit : undefined, "timeout")

      // The database answers again: a fresh instance (restarted by its supervisor) reads the stored count,
      // which the timed-out call never wrote.
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      assert.strictEqual(u32(yield* tally.request(text("tally/1"))), 2)
    }).pipe(Effect.provide(HostSql)))

  it.effect("layerSql - a component loaded with synchronous storage imports does not link against it: LinkError, not a trap later", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromBytes(guestBytes("cap-storage"), { limits, suspending: [] })
      assert.notInclude([...component.loaded.suspending], "airssys:component/storage#get")
      const error = yield* Effect.flip(Linker.imports(component, { id: "plugin-a", grants: grants(new Capability.Storage({ namespace: "plugin-a" })) }))
      assert.instanceOf(error, LinkError)
      assert.include(error.message, "airssys:component/storage#")
      assert.include(error.message, "SuspendingImports")
    }).pipe(Effect.provide(HostSql)))

  it.effect("SuspendingImports - any host function that waits: suspends the guest when listed; traps it with a message naming SuspendingImports when not", () =>
    Effect.gen(function*() {
      // A custom interface whose one function waits (half a second on the Clock) before it answers.
      let finished = 0
      const slow = Linker.custom({
        interface: "game:api/weapons",
        scope: (_fn, [weapon]) => String(weapon),
        make: Effect.succeed((_componentId: string) => ({
          fire: (_weapon: string) => Effect.as(Effect.andThen(Effect.sleep("500 millis"), Effect.sync(() => finished++)), 7)
        }))
      })
      const linker = yield* Linker.make([slow])
      const link = (component: Component.Component) =>
        Effect.flatMap(
          linker.imports(component, { id: "mod", grants: grants(new Capability.Custom({ interface: "game:api/weapons", scope: "*" })) }),
          (imports) => Component.instantiate(component, { imports })
        )
      const suspending = yield* link(yield* Component.fromBytes(guestBytes("cap-game"), { limits, suspending: ["game:api/weapons#fire"] }))
      const call = yield* Effect.forkChild(suspending.process(text("laser")), { startImmediately: true })
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(u32(yield* Fiber.join(call)), 7)

      const synchronous = yield* link(yield* Component.fromBytes(guestBytes("cap-game"), { limits, suspending: [] }))
      const trap = yield* Effect.flip(synchronous.process(text("laser")))
      assert.strictEqual(trap._tag, "Trap")
      assert.include(trap.message, "SuspendingImports")
      // The host function that could not be waited for was stopped, not left running.
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(finished, 1)
    }).pipe(Effect.provide(Audit.layerMemory({ capacity: 100 }))))

  it.effect("layer (node:sqlite) - unchanged for in-process hosts: components load with synchronous storage imports and run on it", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromBytes(guestBytes("cap-storage"), { limits })
      assert.isFalse(component.loaded.suspending.some((name) => name.startsWith(Storage.interfaceName)))
      const instance = yield* Linker.instantiate(component, { id: "plugin-a", grants: grants(new Capability.Storage({ namespace: "plugin-a" })) })
      yield* instance.process(frame("s", "plugin-a", "k", text("v")))
      assert.strictEqual(decode(yield* instance.process(frame("g", "plugin-a", "k"))), "v")
    }).pipe(Effect.provide(
      Linker.layer([Logging.hostInterface, Storage.hostInterface]).pipe(
        Layer.provideMerge(Layer.mergeAll(Logging.layerMemory, Audit.layerMemory({ capacity: 100 }), Storage.layer({ filename: ":memory:" })))
      )
    )))
})
