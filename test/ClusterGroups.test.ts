/**
 * The runner-group suite (`clusterGroupsSuite.ts`) over SQLite: one database file for its three runner
 * processes and this one; and what a spec's grants need, read from real components.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { runnerShardGroups } from "../src/internal/cluster/groups.ts"
import { needsOf } from "../src/internal/cluster/hosting.ts"
import { Capability, Component, Environment, Filesystem, Http, Messaging, Sockets, Storage, WasiHttp } from "../src/index.ts"
import { clusterGroupsSuite } from "./clusterGroupsSuite.ts"
import { guestBytes } from "./fixtures.ts"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-groups-"))
const database = path.join(work, "cluster.db")
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

clusterGroupsSuite("SQLite", `sqlite:${database}`, SqliteClient.layer({ filename: database }))

describe("Cluster - what a spec's grants need from its runner", () => {
  it.effect("needs - the interfaces a component imports that its grants are for: a Custom grant its interface, file grants the filesystem; nothing without a grant", () =>
    Effect.gen(function*() {
      const game = yield* Component.worldOf(guestBytes("cap-game"))
      assert.deepStrictEqual(needsOf(game.imports, [new Capability.Custom({ interface: "game:api/weapons", scope: "*" })]), ["game:api/weapons"])
      assert.deepStrictEqual(needsOf(game.imports, [new Capability.Custom({ interface: "game:api/weapons@0.1.0", scope: "*" })]), ["game:api/weapons"])
      assert.deepStrictEqual(needsOf(game.imports, [new Capability.Custom({ interface: "other:api/x", scope: "*" })]), [])
      assert.deepStrictEqual(needsOf(game.imports, []), [])
      const reader = yield* Component.worldOf(guestBytes("fs-actor"))
      const files = ["wasi:filesystem/preopens", "wasi:filesystem/types"]
      assert.deepStrictEqual(needsOf(reader.imports, [new Capability.FileRead({ glob: "/srv/**" })]), files)
      assert.deepStrictEqual(needsOf(reader.imports, [new Capability.FileWrite({ glob: "/srv/**" })]), files)
      assert.deepStrictEqual(needsOf(reader.imports, [new Capability.Messaging({ pattern: "*" })]), [])
      // A grant for what the component does not import needs nothing.
      assert.deepStrictEqual(needsOf(game.imports, [new Capability.FileRead({ glob: "/srv/**" })]), [])
      // The interfaces each kind of grant is for, as the host interface modules name them.
      const imported = (name: string) => [{ name: `${name}@0.2.12`, kind: "interface" as const }]
      const pairs: ReadonlyArray<readonly [string, Capability.Capability]> = [
        [Messaging.interfaceName, new Capability.Messaging({ pattern: "x" })],
        [Http.interfaceName, new Capability.NetworkOutbound({ host: "example.com" })],
        [WasiHttp.interfaceNames.outgoingHandler, new Capability.NetworkOutbound({ host: "example.com" })],
        [Sockets.interfaceNames.tcpCreateSocket, new Capability.NetworkOutbound({ host: "example.com" })],
        [Environment.interfaceName, new Capability.Environment({})],
        [Filesystem.interfaceNames.preopens, new Capability.FileWrite({ glob: "/srv/**" })]
      ]
      // Every cluster actor holds a Storage grant on its own id: storage is needed whenever it is imported.
      assert.deepStrictEqual(needsOf(imported(Storage.interfaceName), []), [Storage.interfaceName])
      const store = yield* Component.worldOf(guestBytes("pipeline-store"))
      assert.deepStrictEqual(needsOf(store.imports, []), [Storage.interfaceName])
      for (const [iface, grant] of pairs) {
        assert.deepStrictEqual(needsOf(imported(iface), [grant]), [iface], iface)
        assert.deepStrictEqual(needsOf(imported(iface), [new Capability.Custom({ interface: "other:api/x", scope: "*" })]), [], iface)
      }
    }))
})

describe("Cluster - shard groups", () => {
  it.effect("shard groups - a group registered later sorts after every earlier one, so no runner's lock numbering moves", () =>
    Effect.gen(function*() {
      // effect/cluster numbers PostgreSQL shard locks by a group's place in the sorted list.
      const first = yield* runnerShardGroups(["default", "files"])
      const later = yield* runnerShardGroups(["a-late", "files"])
      assert.deepStrictEqual(first.available, ["default", "g000001-files"])
      assert.deepStrictEqual(first.assigned, ["default", "g000001-files"])
      assert.deepStrictEqual(later.available, ["default", "g000001-files", "g000002-a-late"])
      assert.deepStrictEqual(later.assigned, ["g000002-a-late", "g000001-files"])
      assert.deepStrictEqual([...later.available].sort(), later.available)
      const invalid = yield* Effect.flip(runnerShardGroups(["Files"]))
      assert.strictEqual(invalid.reason, "InvalidSpec")
    }).pipe(Effect.provide(Layer.fresh(SqliteClient.layer({ filename: path.join(work, "registry.db") })))))
})
