/**
 * Storage through a real guest (`guests/cap-storage.wat`: one `get` or `set` per `process` call), over
 * the synchronous layer (`Storage.layer`: `node:sqlite`, synchronous glue, no JSPI) and over
 * `Storage.layerSql` (an effect `SqlClient`, here `@effect/sql-sqlite-node`, with the storage imports
 * lowered as suspending: every call a JSPI suspension the host resumes). Both databases in memory. Two
 * rows split the difference: the synchronous layer under suspending glue (what JSPI alone costs), and
 * the host's own `Storage.get` on each layer (what the SQL client costs, no guest).
 *
 * Usage: node bench/storage.ts [--smoke]   (or as the `storage` suite of bench/run.ts)
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Context, Effect, Layer, Scope } from "effect"
import * as Audit from "../src/Audit.ts"
import * as Logging from "../src/capability/Logging.ts"
import * as Storage from "../src/capability/Storage.ts"
import * as Capability from "../src/Capability.ts"
import * as Component from "../src/Component.ts"
import type { Instance } from "../src/Instance.ts"
import * as Linker from "../src/Linker.ts"
import { guestBytes, text } from "../test/fixtures.ts"
import { measureBatch, type Options, printTable, type Row } from "./harness.ts"

const suite = "storage"

const frame = (op: string, namespace: string, key: string, value: Uint8Array = new Uint8Array()) => {
  const ns = text(namespace)
  const k = text(key)
  return new Uint8Array([op.charCodeAt(0), ns.length, ...ns, k.length, ...k, ...value])
}

const get = frame("g", "plugin-a", "k")
const set = frame("s", "plugin-a", "k", new Uint8Array(16).fill(7))

export const storage = async (options: Options): Promise<ReadonlyArray<Row>> => {
  const scope = Effect.runSync(Scope.make())
  try {
    const grants = Capability.makeGrants([new Capability.Storage({ namespace: "plugin-a" })])
    const host = <E>(storageLayer: Layer.Layer<Storage.Storage, E>) =>
      Linker.layer([Logging.hostInterface, Storage.hostInterface]).pipe(
        Layer.provideMerge(Layer.mergeAll(Logging.layerDeny, Audit.layerMemory({ capacity: 16 }))),
        Layer.provideMerge(storageLayer)
      )
    // One instance per host; components loaded in the host's context (so `layerSql`'s suspending imports apply).
    const instanceOn = <E>(storageLayer: Layer.Layer<Storage.Storage, E>, suspending?: ReadonlyArray<string>) =>
      Effect.runPromise(
        Effect.gen(function*() {
          const context = yield* Layer.build(host(storageLayer))
          const component = yield* Component.fromBytes(
            guestBytes("cap-storage"),
            suspending === undefined ? undefined : { suspending }
          ).pipe(Effect.provide(context))
          const instance = yield* Linker.instantiate(component, { id: "plugin-a", grants }).pipe(Effect.provide(context))
          return { instance, storage: Context.get(context, Storage.Storage) }
        }).pipe(Scope.provide(scope))
      )
    const sync = await instanceOn(Storage.layer({ filename: ":memory:" }))
    const jspiOnly = await instanceOn(Storage.layer({ filename: ":memory:" }), Storage.suspendingFunctions)
    const sql = await instanceOn(Storage.layerSql().pipe(Layer.provide(Layer.orDie(SqliteClient.layer({ filename: ":memory:" })))))
    for (const { instance } of [sync, jspiOnly, sql]) await Effect.runPromise(instance.process(set))

    const calls = (instance: Instance, input: Uint8Array) => (n: number) =>
      Effect.runPromise(Effect.forEach(Array.from({ length: n }), () => instance.process(input), { discard: true }))
    const hostGets = (service: Storage.Storage["Service"]) => (n: number) =>
      Effect.runPromise(Effect.forEach(Array.from({ length: n }), () => service.get("plugin-a", "k"), { discard: true }))

    const iterations = 5_000
    const rows: Array<Row> = []
    const row = (name: string, nsPerOp: number, baseline?: string, note?: string): void => {
      rows.push({ suite, name, nsPerOp, ...(baseline === undefined ? {} : { baseline }), ...(note === undefined ? {} : { note }) })
    }
    const syncGet = "guest get, Storage.layer (node:sqlite, synchronous glue)"
    const syncSet = "guest set, Storage.layer (node:sqlite, synchronous glue)"
    const hostGet = "host get, Storage.layer (node:sqlite)"
    row(syncGet, await measureBatch(options, iterations, calls(sync.instance, get)))
    row("guest get, Storage.layer under suspending glue (JSPI alone)", await measureBatch(options, iterations, calls(jspiOnly.instance, get)), syncGet)
    row("guest get, Storage.layerSql (SqliteClient, suspending glue)", await measureBatch(options, iterations, calls(sql.instance, get)), syncGet)
    row(syncSet, await measureBatch(options, iterations, calls(sync.instance, set)))
    row("guest set, Storage.layerSql (SqliteClient, suspending glue)", await measureBatch(options, iterations, calls(sql.instance, set)), syncSet, "a transaction: quota read from the database")
    row(hostGet, await measureBatch(options, iterations, hostGets(sync.storage)))
    row("host get, Storage.layerSql (SqliteClient)", await measureBatch(options, iterations, hostGets(sql.storage)), hostGet)
    return rows
  } finally {
    await Effect.runPromise(Scope.close(scope, Effect.void as never))
  }
}

if (import.meta.main) printTable(await storage({ smoke: process.argv.includes("--smoke") }))
