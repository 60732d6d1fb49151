import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as ConfigProvider from "effect/ConfigProvider"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Storage from "../../src/capability/Storage.ts"
import { decode, failuresUnderEnv, text } from "../fixtures.ts"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "airssys-storage-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const reason = <A>(effect: Effect.Effect<A, Storage.StorageError>) => Effect.map(Effect.flip(effect), (error) => error.reason)

const backends: ReadonlyArray<[string, (options: Storage.Options) => Layer.Layer<Storage.Storage, Storage.StorageError>]> = [
  ["layerMemory", (options) => Storage.layerMemory(options)],
  ["layer (sqlite :memory:)", (options) => Storage.layer({ ...options, filename: ":memory:" })],
  ["layerSql (SqliteClient :memory:)", (options) => Storage.layerSql(options).pipe(Layer.provide(Layer.orDie(SqliteClient.layer({ filename: ":memory:" }))))]
]

for (const [name, makeLayer] of backends) {
  describe(`Storage.${name}`, () => {
    it.effect("set / get / delete / keys - one namespace never sees another's keys", () =>
      Effect.gen(function*() {
        const storage = yield* Storage.Storage
        yield* storage.set("a", "plugin-a", "k2", text("two"))
        yield* storage.set("a", "plugin-a", "k1", text("one"))
        yield* storage.set("b", "plugin-b", "k1", text("other"))
        assert.strictEqual(decode((yield* storage.get("plugin-a", "k1"))!), "one")
        assert.strictEqual(decode((yield* storage.get("plugin-b", "k1"))!), "other")
        assert.isUndefined(yield* storage.get("plugin-a", "missing"))
        assert.deepStrictEqual(yield* storage.keys("plugin-a"), ["k1", "k2"])
        assert.isTrue(yield* storage.delete("plugin-a", "k1"))
        assert.isFalse(yield* storage.delete("plugin-a", "k1"))
        assert.deepStrictEqual(yield* storage.keys("plugin-a"), ["k2"])
        yield* storage.set("a", "plugin-a", "empty", new Uint8Array())
        assert.deepStrictEqual(yield* storage.get("plugin-a", "empty"), new Uint8Array())
      }).pipe(Effect.provide(makeLayer({}))))

    it.effect("set - past the quota is QuotaExceeded and writes nothing; replacing and deleting free bytes", () =>
      Effect.gen(function*() {
        const storage = yield* Storage.Storage
        yield* storage.set("a", "ns", "k", new Uint8Array(15)) // 1 + 15 = 16 bytes
        assert.strictEqual(yield* storage.usage("a"), 16)
        const error = yield* Effect.flip(storage.set("a", "ns", "k2", new Uint8Array(8))) // 16 + 10 > 20
        assert.strictEqual(error.reason, "QuotaExceeded")
        assert.include(error.message, "a would hold 26 bytes, its quota is 20")
        assert.isUndefined(yield* storage.get("ns", "k2"))
        assert.strictEqual(yield* storage.usage("a"), 16)
        // Replacing an entry counts its new size only.
        yield* storage.set("a", "ns", "k", new Uint8Array(19))
        assert.strictEqual(yield* storage.usage("a"), 20)
        yield* storage.delete("ns", "k")
        assert.strictEqual(yield* storage.usage("a"), 0)
        yield* storage.set("a", "ns", "k2", new Uint8Array(8))
      }).pipe(Effect.provide(makeLayer({ quota: 20 }))))

    it.effect("set - quota per component; an overwritten entry moves to its new writer's usage", () =>
      Effect.gen(function*() {
        const storage = yield* Storage.Storage
        yield* storage.set("small", "shared", "k", new Uint8Array(9)) // 10 bytes
        assert.strictEqual(yield* reason(storage.set("small", "shared", "k2", new Uint8Array(9))), "QuotaExceeded")
        yield* storage.set("big", "shared", "k", new Uint8Array(99)) // 100 bytes, now big's
        assert.deepStrictEqual([yield* storage.usage("small"), yield* storage.usage("big")], [0, 100])
        yield* storage.set("small", "shared", "k2", new Uint8Array(9))
      }).pipe(Effect.provide(makeLayer({ quota: (component) => component === "big" ? 1000 : 12 }))))

    it.effect("set - a component over a lowered quota may still shrink", () =>
      Effect.gen(function*() {
        let quota = 100
        yield* Effect.gen(function*() {
          const storage = yield* Storage.Storage
          yield* storage.set("a", "ns", "k", new Uint8Array(50))
          quota = 10
          assert.strictEqual(yield* reason(storage.set("a", "ns", "k", new Uint8Array(60))), "QuotaExceeded")
          yield* storage.set("a", "ns", "k", new Uint8Array(20))
          assert.strictEqual(yield* storage.usage("a"), 21)
        }).pipe(Effect.provide(makeLayer({ quota: () => quota })))
      }))

    it.effect("namespace and key validation", () =>
      Effect.gen(function*() {
        const storage = yield* Storage.Storage
        for (const namespace of ["", "a b", "plugin.*", "a..b", ".a", "x".repeat(256), "é"]) {
          assert.strictEqual(yield* reason(storage.set("a", namespace, "k", text("v"))), "InvalidNamespace", namespace)
          assert.strictEqual(yield* reason(storage.get(namespace, "k")), "InvalidNamespace", namespace)
        }
        assert.strictEqual(yield* reason(storage.set("a", "ns", "", text("v"))), "InvalidKey")
        assert.strictEqual(yield* reason(storage.set("a", "ns", "é".repeat(513), text("v"))), "InvalidKey")
        yield* storage.set("a", "ns", "é".repeat(512), text("v"))
      }).pipe(Effect.provide(makeLayer({}))))
  })
}

describe("Storage.layer", () => {
  it.effect("layer - entries and usage persist across a reopen of the database file", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const filename = path.join(dir, "state.db")
      yield* Effect.gen(function*() {
        const storage = yield* Storage.Storage
        yield* storage.set("plugin-a", "plugin-a", "counter", text("41"))
        yield* storage.set("plugin-a", "plugin-a", "blob", new Uint8Array(30))
      }).pipe(Effect.provide(Storage.layer({ filename, quota: 64 })))
      yield* Effect.gen(function*() {
        const storage = yield* Storage.Storage
        assert.strictEqual(decode((yield* storage.get("plugin-a", "counter"))!), "41")
        assert.deepStrictEqual(yield* storage.keys("plugin-a"), ["blob", "counter"])
        assert.strictEqual(yield* storage.usage("plugin-a"), 7 + 2 + 4 + 30)
        // The quota holds across the restart: 43 + 22 > 64.
        assert.strictEqual(yield* reason(storage.set("plugin-a", "plugin-a", "more", new Uint8Array(18))), "QuotaExceeded")
      }).pipe(Effect.provide(Storage.layer({ filename, quota: 64 })))
    }))

  it.effect("layer - a database that cannot be opened is Unavailable", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const error = yield* Effect.flip(
        Effect.provide(Storage.Storage.use(() => Effect.void), Storage.layer({ filename: path.join(dir, "missing", "state.db") }))
      )
      assert.strictEqual(error.reason, "Unavailable")
    }))

  it.effect("layerConfig - the database file and quota read from STORAGE_* names; a missing file name or a bad quota is a ConfigError", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const filename = path.join(dir, "state.db")
      const configured = (provider: ConfigProvider.ConfigProvider) =>
        Storage.layerConfig().pipe(Layer.provide(ConfigProvider.layer(provider)))
      yield* Effect.gen(function*() {
        const storage = yield* Storage.Storage
        yield* storage.set("plugin-a", "plugin-a", "k", new Uint8Array(60))
        assert.strictEqual(yield* reason(storage.set("plugin-a", "plugin-a", "more", new Uint8Array(60))), "QuotaExceeded")
      }).pipe(Effect.provide(configured(ConfigProvider.fromEnv({ env: { STORAGE_FILENAME: filename, STORAGE_QUOTA: "100" } }))))
      // The same file, read back; the quota as text, the names as paths.
      yield* Effect.gen(function*() {
        const storage = yield* Storage.Storage
        assert.strictEqual(yield* storage.usage("plugin-a"), 61)
        yield* storage.set("plugin-a", "plugin-a", "more", new Uint8Array(600))
      }).pipe(Effect.provide(configured(ConfigProvider.fromUnknown({ STORAGE: { FILENAME: filename, QUOTA: "1 KiB" } }))))
      const defaults = yield* Storage.config.parse(ConfigProvider.fromUnknown({ STORAGE: { FILENAME: ":memory:" } }))
      assert.deepStrictEqual(defaults, { filename: ":memory:", quota: Storage.defaultQuota })
      const envs = [{}, { STORAGE_FILENAME: filename, STORAGE_QUOTA: "-1" }, { STORAGE_FILENAME: filename, STORAGE_QUOTA: "plenty" }]
      assert.deepStrictEqual(yield* failuresUnderEnv(envs, Layer.build(Storage.layerConfig())), envs.map(() => "ConfigError"))
    }))

  it.effect("layerDeny - every operation is Denied", () =>
    Effect.gen(function*() {
      const storage = yield* Storage.Storage
      assert.strictEqual(yield* reason(storage.get("ns", "k")), "Denied")
      assert.strictEqual(yield* reason(storage.set("a", "ns", "k", text("v"))), "Denied")
      assert.strictEqual(yield* reason(storage.keys("ns")), "Denied")
    }).pipe(Effect.provide(Storage.layerDeny)))
})
