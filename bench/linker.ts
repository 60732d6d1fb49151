/**
 * What the Linker adds to one host call: capability check + audit event, beside the bare host
 * function, in the same process. The host-call rows go through the host bridge exactly as a guest's
 * import call does: jco calls the import trampoline, which runs the bound function's Effect to an Exit
 * (`Effect.runSyncExitWith`) and settles it into the guest's value or `err`; for a linked function the
 * bridge takes its specialisation (check and audit without a fiber, see src/internal/host/linker.ts).
 *
 * Rows, per host call:
 * - `bare: Effect.succeed`: a constant answer (Effect's no-fiber fast path: a floor, not a host function).
 * - `bare: memory storage get`: the real in-memory `Storage.get`, through the bridge: the baseline.
 * - `bare: storage interface get`: `Storage.hostInterface`'s `get` (its error mapping included), the
 *   function the Linker wraps, through the bridge: the linked rows' notes give their cost over it.
 * - `Capability.check`: the grant match alone (no Effect).
 * - `floor: ... + Clock read`: the unwrapped get plus one read of the `Clock` (what every audited
 *   call must pay to stamp its event), through the bridge: the floor under the linked rows.
 * - `audit.record, eager`: one event sealed (canonical JSON + sha-256) and written inside `record`,
 *   as an audit with a write-only sink (the logger, a custom sink) does.
 * - `audit.record, batched`: the O(1) append of an audit whose sinks take batches (memory, JSONL),
 *   as an Effect, timed in blocks of 4095 calls with the batch flushed between blocks, untimed.
 * - `audit flush, per event`: the other half, paid once per batch at the end of the tick: sealing
 *   and writing one event (a frozen entry, as the Linker records: its fields encoded once).
 * - `audit flush, per event, named node`: the same for an audit made where `Node.CurrentNode` is set
 *   (a cluster runner's): every event carries `node`.
 * - `linked, no-op Audit`: the Linker's wrapper over the same `get`, with an `Audit` that records
 *   nothing: the check and the wrapper's own cost.
 * - `linked, memory Audit`: the linked `get` as a guest's call runs it, hot path (the batch flushed
 *   between blocks, untimed: what a call pays when the event loop turns at least every 4095 calls);
 *   `..., flush included`: blocks of 4096 calls that never yield, so the last call of each seals
 *   the batch: the amortized total. `denied`: a denied call (`err` for the guest).
 * - `direct: ...`: the linked function called and run by itself, outside the bridge (as host code
 *   or a test would): the path every guest call took before the bridge's specialisation.
 * - `before: ...`: the wrapper as it was before batching (sealing each event inside the call),
 *   over the same `get`, called directly, for a before/after in the same run.
 * - end to end: a guest `process` call that makes one storage call, linked vs bare imports.
 *
 * Times are the process's CPU time (see `cpuNs`), not wall time; a note's "+N ns" is the median of the
 * round-by-round differences of the two rows (see `deltaOf`).
 *
 * Usage: node bench/linker.ts [--smoke]   (or as the `linker` suite of bench/run.ts)
 */
import { Clock, Context, Effect, Exit, Layer, Scope } from "effect"
import * as Audit from "../src/Audit.ts"
import * as Logging from "../src/capability/Logging.ts"
import * as Storage from "../src/capability/Storage.ts"
import * as Capability from "../src/Capability.ts"
import * as Component from "../src/Component.ts"
import * as Linker from "../src/Linker.ts"
import * as Node from "../src/Node.ts"
import { HostRefusal } from "../src/ComponentError.ts"
import * as AuditRecorder from "../src/internal/audit/auditRecorder.ts"
import { type HostImports, makeBinding, specialize, type Specialized } from "../src/internal/host/hostBridge.ts"
import { guestBytes, text } from "../test/fixtures.ts"
import { measureSync, type Options, printTable, type Row } from "./harness.ts"

const value = new Uint8Array([1])

type Fn = (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown>

const storageGet = (imports: HostImportsLike): Fn => imports["airssys:component/storage"]!["get"] as unknown as Fn
type HostImportsLike = Readonly<Record<string, Readonly<Record<string, unknown>>>>

/**
 * The Linker's per-call wrapper as it was before batching (commit c4c7f92), for a same-run before/after:
 * check, then `audit.record` (which sealed the event: canonical JSON + sha-256) and `run`, as a chain.
 */
const guardBefore = (audit: Audit.Audit["Service"], grants: Capability.Grants, run: Fn, toRequest: (...args: ReadonlyArray<unknown>) => Capability.Request): Fn => {
  const detail = "airssys:component/storage@0.1.0#get"
  const refusals = new Map<string, Effect.Effect<never, HostRefusal>>()
  return (...args) => {
    const request = toRequest(...args)
    const resource = Capability.resourceOf(request)
    if (Capability.check(grants, request) === "denied") {
      let failed = refusals.get(resource)
      if (failed === undefined) refusals.set(resource, failed = Effect.fail(new HostRefusal({ payload: "denied" })))
      return Effect.flatMap(
        audit.record({ kind: "capability", component: "plugin-a", capability: request._tag, resource, decision: "denied", detail }),
        () => failed
      )
    }
    return audit.record({ kind: "capability", component: "plugin-a", capability: request._tag, resource, decision: "granted", detail })
      .pipe(
        Effect.flatMap(() => run(...args)),
        Effect.catch((error) => Effect.fail(error))
      )
  }
}

/**
 * The process's CPU time in ns (all threads: the GC's work counts). Two cores are shared by several
 * processes here: wall time would count the stretches this process waits for a core.
 */
const cpuNs = (): number => {
  const { user, system } = process.cpuUsage()
  return (user + system) * 1000
}

/**
 * Times `n` calls of `op` (at most `limit`, so a batched row never reaches a flush), `repeat` times
 * over (for rows too cheap to time in one block at the clock's microsecond resolution): ns per call.
 */
const perCall = (op: () => unknown, limit = Infinity, repeat = 1) => (n: number): number => {
  const count = Math.min(n, limit)
  const started = cpuNs()
  for (let r = 0; r < repeat; r++) {
    for (let i = 0; i < count; i++) op()
  }
  return (cpuNs() - started) / (count * repeat)
}

export const linker = async (options: Options): Promise<ReadonlyArray<Row>> => {
  const component = await Effect.runPromise(Component.fromBytes(guestBytes("cap-storage")))
  const grants = Capability.makeGrants([new Capability.Storage({ namespace: "plugin-a" })])
  const memory = Storage.makeMemory()
  Effect.runSync(memory.set("plugin-a", "plugin-a", "k", new Uint8Array([1])))
  const noop = Audit.Audit.of({
    record: () => Effect.void,
    flush: Effect.void,
    head: Effect.succeed(Audit.genesis),
    sinks: []
  })
  // With a fast path that does nothing, as the audits `Audit.make` builds have one: the Linker's path stays the same.
  AuditRecorder.register(noop, { recordUnsafe: () => {}, recordAtUnsafe: () => true })
  const noAudit = Layer.succeed(Audit.Audit, noop)
  // The layers stay open for the whole run (an audit whose scope has closed writes every event as it comes).
  const layerScope = Effect.runSync(Scope.make())
  const link = <E>(storage: Storage.Storage["Service"], audit: Layer.Layer<Audit.Audit, E>) =>
    Effect.runPromise(
      Effect.gen(function*() {
        const context = yield* Layer.build(
          Linker.layer([Logging.hostInterface, Storage.hostInterface]).pipe(
            Layer.provideMerge(Layer.mergeAll(Logging.layerDeny, Layer.succeed(Storage.Storage, storage), audit))
          )
        )
        return yield* Effect.gen(function*() {
          const imports = yield* Linker.imports(component, { id: "plugin-a", grants })
          return { audit: yield* Audit.Audit, imports }
        }).pipe(Effect.provide(context))
      }).pipe(Scope.provide(layerScope))
    )
  const audited = await link(memory, Audit.layerMemory({ capacity: 1024 }))
  const unaudited = await link(memory, noAudit)
  const linkedGet = storageGet(audited.imports)
  const unauditedGet = storageGet(unaudited.imports)
  const constantGet: Fn = () => Effect.succeed(value)
  const memoryGet: Fn = (namespace, key) => memory.get(namespace as string, key as string)
  const run = Effect.runSyncExitWith(Context.empty())
  const request: Capability.Request = { _tag: "Storage", namespace: "plugin-a" }
  // Frozen, as the Linker's entries are: an audit encodes a frozen entry's fields once.
  const entry: Audit.Entry = Object.freeze({
    kind: "capability",
    component: "plugin-a",
    capability: "Storage",
    resource: "plugin-a",
    decision: "granted",
    detail: "airssys:component/storage@0.1.0#get"
  })

  const eagerScope = Effect.runSync(Scope.make())
  const eagerSink = Audit.memorySink({ capacity: 1024 })
  const eagerAudit = Effect.runSync(Audit.make([{ write: eagerSink.write }]).pipe(Scope.provide(eagerScope)))
  // The storage interface's own `get` (its error mapping included), as the Linker receives it, unwrapped.
  const bind = Effect.runSync(Storage.hostInterface.make.pipe(Effect.provideService(Storage.Storage, memory)))
  const unguardedGet = bind({ componentId: "plugin-a", grants, interface: "airssys:component/storage@0.1.0" })["get"]!
    .run as unknown as Fn
  const beforeGet = guardBefore(eagerAudit, grants, unguardedGet, (namespace) => ({ _tag: "Storage", namespace: namespace as string }))
  const flush = () => Effect.runSync(audited.audit.flush)
  // The same batching memory audit, made on a named node (a cluster runner's): every event carries it.
  const namedAudit = Effect.runSync(
    Audit.make([Audit.memorySink({ capacity: 1024 })]).pipe(Effect.provideService(Node.CurrentNode, "127.0.0.1:34431"), Scope.provide(eagerScope))
  )
  const namedFlush = () => Effect.runSync(namedAudit.flush)
  // The import function jco calls for `get`, bound as Component.instantiate binds it.
  const storageIface = "airssys:component/storage"
  // `watched`: as in an instance with a timeout, every host call first checks the call's deadline (one
  // read of the default Clock). The linked rows pay it; the unwrapped baselines do not.
  const deadlineClock = Effect.runSync(Effect.clockWith(Effect.succeed))
  const farDeadline = deadlineClock.currentTimeMillisUnsafe() + 3_600_000
  const bridged = (functions: HostImports[string], watched = false): (...args: ReadonlyArray<unknown>) => unknown => {
    const binding = makeBinding([storageIface])
    binding.bind({ [storageIface]: functions }, Context.empty())
    if (watched) {
      binding.watch({ now: () => deadlineClock.currentTimeMillisUnsafe(), at: () => farDeadline })
    }
    return (binding.imports as Record<string, Record<string, (...args: ReadonlyArray<unknown>) => unknown>>)[storageIface]!["get"]!
  }
  const linkedStorage = (imports: HostImports) => imports[storageIface]!
  const callConstant = bridged({ get: constantGet as never })
  const callBare = bridged({ get: memoryGet as never })
  const callUnguarded = bridged({ get: unguardedGet as never })
  const callUnaudited = bridged(linkedStorage(unaudited.imports), true)
  const callLinked = bridged(linkedStorage(audited.imports), true)
  // The floor under any audited call: the same get, plus one read of the Clock an audit event is
  // stamped with (what the Linker cannot leave out), through the bridge's specialised path.
  const clocked = Object.assign((...args: ReadonlyArray<unknown>) => unguardedGet(...args), {
    [specialize]: (context: Context.Context<never>): Specialized => {
      const clock = Context.get(context, Clock.Clock)
      return {
        call: (args) => {
          clockReads += clock.currentTimeMillisUnsafe() > 0 ? 1 : 0
          return unguardedGet(...args)
        },
        recover: () => undefined
      }
    }
  })
  let clockReads = 0
  const callClocked = bridged({ get: clocked as never })
  const refusedFor = (call: () => unknown) => () => {
    try {
      call()
    } catch (refusal) {
      return refusal
    }
    throw new Error("the call was not refused")
  }
  if (refusedFor(() => callLinked("plugin-b", "k"))() === undefined) throw new Error("unreachable")
  // The machine is shared and noisy: every row is timed in blocks, the rows taking turns block by
  // block, each starting with the audit's batch flushed (untimed); a row's figure is its median block.
  // A block of 4096 calls fills exactly one batch, so the `flush included` row seals one per block.
  const block = options.smoke ? 20 : Audit.maxPending
  const rounds = options.smoke ? 2 : 41
  const timed: Array<readonly [string, (n: number) => number]> = [
    ["constant", perCall(() => callConstant("plugin-a", "k"), Infinity, 8)],
    ["bare", perCall(() => callBare("plugin-a", "k"))],
    ["unguarded", perCall(() => callUnguarded("plugin-a", "k"))],
    ["check", perCall(() => Capability.check(grants, request), Infinity, 16)],
    ["clock", perCall(() => callClocked("plugin-a", "k"))],
    ["eager", perCall(() => run(eagerAudit.record(entry)))],
    ["batched", perCall(() => run(audited.audit.record(entry)), block - 1)],
    ["flush", (n) => {
      for (let i = 0; i < n - 1; i++) run(audited.audit.record(entry))
      const started = cpuNs()
      flush()
      return (cpuNs() - started) / (n - 1)
    }],
    ["flushNamed", (n) => {
      namedFlush()
      for (let i = 0; i < n - 1; i++) run(namedAudit.record(entry))
      const started = cpuNs()
      namedFlush()
      return (cpuNs() - started) / (n - 1)
    }],
    ["wrapper", perCall(() => callUnaudited("plugin-a", "k"))],
    ["granted", perCall(() => callLinked("plugin-a", "k"), block - 1)],
    ["grantedLoop", perCall(() => callLinked("plugin-a", "k"))],
    ["denied", perCall(refusedFor(() => callLinked("plugin-b", "k")), block - 1)],
    ["directUnguarded", perCall(() => run(unguardedGet("plugin-a", "k")))],
    ["directWrapper", perCall(() => run(unauditedGet("plugin-a", "k")))],
    ["directGranted", perCall(() => run(linkedGet("plugin-a", "k")), block - 1)],
    ["before", perCall(() => run(beforeGet("plugin-a", "k")))],
    ["beforeDenied", perCall(() => run(beforeGet("plugin-b", "k")))]
  ]
  const samples = new Map<string, Array<number>>(timed.map(([name]) => [name, []]))
  for (let round = 0; round <= rounds; round++) {
    for (const [name, time] of timed) {
      flush()
      const ns = time(block)
      if (round > 0) samples.get(name)!.push(ns)
    }
  }
  const medianOf = (name: string) => {
    const values = [...samples.get(name)!].sort((a, b) => a - b)
    return values[Math.floor(values.length / 2)]!
  }
  // What `name` costs over `than`: the median of their differences round by round (both timed in
  // the same stretch of the run), steadier than the difference of their medians on a busy machine.
  const deltaOf = (name: string, than: string) => {
    const base = samples.get(than)!
    const values = samples.get(name)!.map((ns, i) => ns - base[i]!).sort((a, b) => a - b)
    return values[Math.floor(values.length / 2)]!
  }
  const constantNs = medianOf("constant")
  const bareNs = medianOf("bare")
  const checkNs = medianOf("check")
  const clockNs = medianOf("clock")
  if (clockReads === 0) throw new Error("the clock row read no clock")
  const unguardedNs = medianOf("unguarded")
  const eagerNs = medianOf("eager")
  const auditNs = medianOf("batched")
  const flushNs = medianOf("flush")
  const flushNamedNs = medianOf("flushNamed")
  const wrapperNs = medianOf("wrapper")
  const grantedNs = medianOf("granted")
  const grantedLoopNs = medianOf("grantedLoop")
  const deniedNs = medianOf("denied")
  const directUnguardedNs = medianOf("directUnguarded")
  const directWrapperNs = medianOf("directWrapper")
  const directGrantedNs = medianOf("directGranted")
  const beforeNs = medianOf("before")
  const beforeDeniedNs = medianOf("beforeDenied")
  await Effect.runPromise(Scope.close(eagerScope, Exit.void))

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
  flush()
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
  await Effect.runPromise(Scope.close(layerScope, Exit.void))

  const base = "bare: memory storage get"
  const unguardedRow = "bare: storage interface get"
  const directUnguardedRow = "direct: storage interface get"
  const over = (name: string, than: string) => `+${deltaOf(name, than).toFixed(0)} ns`
  return [
    { suite: "linker", name: "bare: Effect.succeed", nsPerOp: constantNs, note: "no fiber: runSync's fast path" },
    { suite: "linker", name: base, nsPerOp: bareNs, note: "the implementation, through the host bridge" },
    {
      suite: "linker",
      name: unguardedRow,
      nsPerOp: unguardedNs,
      baseline: base,
      note: "Storage.hostInterface's get, unwrapped: what the Linker wraps"
    },
    { suite: "linker", name: "Capability.check", nsPerOp: checkNs, note: "grant match only" },
    {
      suite: "linker",
      name: "floor: storage interface get + Clock read",
      nsPerOp: clockNs,
      baseline: [unguardedRow, base],
      note: `the audit's clock read alone (Date.now): ${over("clock", "unguarded")}`
    },
    { suite: "linker", name: "audit.record, eager", nsPerOp: eagerNs, note: "sealed per event: sha-256 inside record" },
    { suite: "linker", name: "audit.record, batched", nsPerOp: auditNs, note: "O(1) append, as an Effect; sealed at flush" },
    { suite: "linker", name: "audit flush, per event", nsPerOp: flushNs, note: "canonical JSON + sha-256 + sink, once per batch" },
    {
      suite: "linker",
      name: "audit flush, per event, named node",
      nsPerOp: flushNamedNs,
      baseline: "audit flush, per event",
      note: "every event carries `node` (a cluster runner's audit)"
    },
    {
      suite: "linker",
      name: "linked, no-op Audit",
      nsPerOp: wrapperNs,
      baseline: [unguardedRow, base],
      targetNs: unguardedNs + 200,
      note: `check + wrapper: ${over("wrapper", "unguarded")} over the unwrapped get`
    },
    {
      suite: "linker",
      name: "linked, memory Audit",
      nsPerOp: grantedNs,
      baseline: [unguardedRow, base],
      targetNs: unguardedNs + 200,
      note: `check + audit + wrapper: ${over("granted", "unguarded")} over the unwrapped get (flush between blocks)`
    },
    {
      suite: "linker",
      name: "linked, memory Audit, flush included",
      nsPerOp: grantedLoopNs,
      baseline: [unguardedRow, base],
      note: `never yields: ${over("grantedLoop", "unguarded")} over the unwrapped get`
    },
    { suite: "linker", name: "linked, denied", nsPerOp: deniedNs, baseline: base, note: "err for the guest" },
    { suite: "linker", name: directUnguardedRow, nsPerOp: directUnguardedNs, note: "run by itself, no bridge" },
    {
      suite: "linker",
      name: "direct: linked, no-op Audit",
      nsPerOp: directWrapperNs,
      baseline: directUnguardedRow,
      note: `withFiber + catchCause: ${over("directWrapper", "directUnguarded")}`
    },
    {
      suite: "linker",
      name: "direct: linked, memory Audit",
      nsPerOp: directGrantedNs,
      baseline: directUnguardedRow,
      note: `the path guest calls took before: ${over("directGranted", "directUnguarded")}`
    },
    {
      suite: "linker",
      name: "before: linked, memory Audit",
      nsPerOp: beforeNs,
      baseline: directUnguardedRow,
      note: `c4c7f92's wrapper, sealed per call: ${over("before", "directUnguarded")}`
    },
    { suite: "linker", name: "before: linked, denied", nsPerOp: beforeDeniedNs, baseline: directUnguardedRow },
    { suite: "linker", name: "guest call, bare imports", nsPerOp: guestBareNs },
    { suite: "linker", name: "guest call, linked imports", nsPerOp: guestLinkedNs, baseline: "guest call, bare imports" }
  ]
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  printTable(await linker({ smoke: process.argv.includes("--smoke") }))
}
