/**
 * What the Linker adds to one host call: capability check + audit event, beside the bare host
 * function run the way the host bridge runs it (`Effect.runSyncExitWith`), in the same process.
 *
 * Rows, per host call, each run to an Exit as the bridge runs it:
 * - `bare: Effect.succeed`: a constant answer (Effect's no-fiber fast path: a floor, not a host function).
 * - `bare: memory storage get`: the real in-memory `Storage.get`: the baseline.
 * - `Capability.check`: the grant match alone (no Effect).
 * - `audit.record`: one audit event alone (memory sink; sha-256 of the canonical JSON inside).
 * - `linked, no-op Audit`: the Linker's wrapper over the same `get`, with an `Audit` that records
 *   nothing: the check and the wrapper's own cost.
 * - `linked, memory Audit` / `denied`: the wrapped function as a guest's call runs it.
 * - end to end: a guest `process` call that makes one storage call, linked vs bare imports.
 *
 * Usage: node bench/linker.ts [--smoke]   (or as the `linker` suite of bench/run.ts)
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import * as Audit from "../src/Audit.ts"
import * as Logging from "../src/capability/Logging.ts"
import * as Storage from "../src/capability/Storage.ts"
import * as Capability from "../src/Capability.ts"
import * as Component from "../src/Component.ts"
import * as Linker from "../src/Linker.ts"
import { guestBytes, text } from "../test/fixtures.ts"
import { measureSync, type Options, printTable, type Row } from "./harness.ts"

const value = new Uint8Array([1])

type Fn = (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown>

const storageGet = (imports: HostImportsLike): Fn => imports["airssys:component/storage"]!["get"] as unknown as Fn
type HostImportsLike = Readonly<Record<string, Readonly<Record<string, unknown>>>>

export const linker = async (options: Options): Promise<ReadonlyArray<Row>> => {
  const component = await Effect.runPromise(Component.fromBytes(guestBytes("cap-storage")))
  const grants = Capability.makeGrants([new Capability.Storage({ namespace: "plugin-a" })])
  const memory = Storage.makeMemory()
  Effect.runSync(memory.set("plugin-a", "plugin-a", "k", new Uint8Array([1])))
  const noAudit = Layer.succeed(Audit.Audit, Audit.Audit.of({
    record: () => Effect.void,
    recordUnsafe: () => {},
    flush: Effect.void,
    head: Effect.succeed(Audit.genesis),
    sinks: []
  }))
  const link = <E>(storage: Storage.Storage["Service"], audit: Layer.Layer<Audit.Audit, E>) =>
    Effect.runPromise(
      Effect.gen(function*() {
        const imports = yield* Linker.imports(component, { id: "plugin-a", grants })
        return { audit: yield* Audit.Audit, imports }
      }).pipe(
        Effect.provide(
          Linker.layer([Logging.hostInterface, Storage.hostInterface]).pipe(
            Layer.provideMerge(Layer.mergeAll(Logging.layerDeny, Layer.succeed(Storage.Storage, storage), audit))
          )
        )
      )
    )
  const audited = await link(memory, Audit.layerMemory({ capacity: 1024 }))
  const unaudited = await link(memory, noAudit)
  const linkedGet = storageGet(audited.imports)
  const unauditedGet = storageGet(unaudited.imports)
  const constantGet: Fn = () => Effect.succeed(value)
  const memoryGet: Fn = (namespace, key) => memory.get(namespace as string, key as string)
  const run = Effect.runSyncExitWith(Context.empty())
  const calls = 200_000
  const request: Capability.Request = { _tag: "Storage", namespace: "plugin-a" }
  const entry: Audit.Entry = { kind: "capability", component: "plugin-a", capability: "Storage", resource: "plugin-a", decision: "granted", detail: "get" }

  const constantNs = measureSync(options, calls, () => run(constantGet("plugin-a", "k")))
  const bareNs = measureSync(options, calls, () => run(memoryGet("plugin-a", "k")))
  const checkNs = measureSync(options, calls * 5, () => Capability.check(grants, request))
  const auditNs = measureSync(options, calls, () => run(audited.audit.record(entry)))
  const wrapperNs = measureSync(options, calls, () => run(unauditedGet("plugin-a", "k")))
  const grantedNs = measureSync(options, calls, () => run(linkedGet("plugin-a", "k")))
  const deniedNs = measureSync(options, calls, () => run(linkedGet("plugin-b", "k")))

  // End to end through a real guest: 'g' plugin-a k → one storage.get per process call.
  const input = new Uint8Array([0x67, 8, ...text("plugin-a"), 1, 0x6b])
  const bareImports = {
    "airssys:component/logging": { log: () => Effect.void },
    "airssys:component/storage": {
      get: (namespace: string, key: string) => Effect.orDie(memory.get(namespace, key)),
      set: () => Effect.void,
      delete: () => Effect.void,
      listKeys: () => Effect.succeed([])
    }
  }
  const scope = Effect.runSync(Scope.make())
  const [linkedInstance, bareInstance] = await Effect.runPromise(
    Effect.all([
      Component.instantiate(component, { imports: audited.imports }),
      Component.instantiate(component, { imports: bareImports })
    ]).pipe(Scope.provide(scope))
  )
  const before = Effect.runSync(audited.audit.head).sequence
  Effect.runSync(linkedInstance.process(input))
  if (Effect.runSync(audited.audit.head).sequence !== before + 1) throw new Error("the linked guest call was not audited")
  const guestCall = (instance: typeof linkedInstance) => () => Effect.runSyncExit(instance.process(input))
  // jco's glue slows down as host calls accumulate (it keeps a task per host call), so the two are
  // measured in alternating rounds, each row's median over the same stretch of the process.
  const bareTimes: Array<number> = []
  const linkedTimes: Array<number> = []
  for (let round = 0; round < (options.smoke ? 2 : 15); round++) {
    bareTimes.push(measureSync(options, 2_000, guestCall(bareInstance), 1))
    linkedTimes.push(measureSync(options, 2_000, guestCall(linkedInstance), 1))
  }
  const median = (values: Array<number>) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!
  const guestBareNs = median(bareTimes)
  const guestLinkedNs = median(linkedTimes)
  await Effect.runPromise(Scope.close(scope, Exit.void))

  const base = "bare: memory storage get"
  return [
    { suite: "linker", name: "bare: Effect.succeed", nsPerOp: constantNs, note: "no fiber: runSync's fast path" },
    { suite: "linker", name: base, nsPerOp: bareNs, note: "the implementation, as the bridge runs it" },
    { suite: "linker", name: "Capability.check", nsPerOp: checkNs, note: "grant match only" },
    { suite: "linker", name: "audit.record (memory sink)", nsPerOp: auditNs, note: "sha-256 chain" },
    {
      suite: "linker",
      name: "linked, no-op Audit",
      nsPerOp: wrapperNs,
      baseline: base,
      targetNs: bareNs + 200,
      note: `check + wrapper: +${(wrapperNs - bareNs).toFixed(0)} ns`
    },
    {
      suite: "linker",
      name: "linked, memory Audit",
      nsPerOp: grantedNs,
      baseline: base,
      targetNs: bareNs + 200,
      note: `check + audit + wrapper: +${(grantedNs - bareNs).toFixed(0)} ns`
    },
    { suite: "linker", name: "linked, denied", nsPerOp: deniedNs, baseline: base },
    { suite: "linker", name: "guest call, bare imports", nsPerOp: guestBareNs },
    { suite: "linker", name: "guest call, linked imports", nsPerOp: guestLinkedNs, baseline: "guest call, bare imports" }
  ]
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  printTable(await linker({ smoke: process.argv.includes("--smoke") }))
}
