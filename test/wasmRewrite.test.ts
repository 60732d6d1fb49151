import { parse, transpile } from "@bytecodealliance/jco"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Worker } from "node:worker_threads"
import { BoundedCache } from "../src/internal/load/boundedCache.ts"
import * as Cache from "../src/internal/load/instrumentCache.ts"
import * as Fuel from "../src/internal/load/fuelInstrument.ts"
import * as FuelMeter from "../src/internal/run/fuelMeter.ts"
import * as FuelWorker from "../src/internal/load/wasmFuelWorker.ts"
import * as MemoryCap from "../src/internal/load/memoryCap.ts"
import * as Sections from "../src/internal/load/coreSections.ts"
import * as ResourceLimits from "../src/ResourceLimits.ts"
import { decode, guestBytes, text } from "./fixtures.ts"

// -----------------------------------------------------------------------------
// Fixtures: the core module of a guest component, and its jco glue to call it through
// -----------------------------------------------------------------------------

type Glue = (
  getCoreModule: (name: string) => WebAssembly.Module,
  imports: object,
  instantiateCore: (module: WebAssembly.Module, imports: WebAssembly.Imports) => WebAssembly.Instance
) => unknown

interface Guest {
  readonly core: Uint8Array
  readonly glue: Glue
}

const guests = new Map<string, Promise<Guest>>()

/** jco's transpile of a guest: its one core module and the glue that instantiates it. */
const guest = (name: string): Promise<Guest> => {
  let loading = guests.get(name)
  if (loading === undefined) {
    loading = (async () => {
      const out = await transpile(guestBytes(name), { name, instantiation: "async", noTypescript: true, quiet: true })
      const cores = Object.entries(out.files).filter(([file]) => file.endsWith(".wasm"))
      assert.strictEqual(cores.length, 1, `${name} has one core module`)
      const source = Buffer.from(out.files[`${name}.js`]!).toString("base64")
      const glue: { instantiate: Glue } = await import(`data:text/javascript;base64,${source}`)
      return { core: cores[0]![1], glue: glue.instantiate }
    })()
    guests.set(name, loading)
  }
  return loading
}

interface Running {
  readonly process: (input: Uint8Array) => Uint8Array
  readonly cores: ReadonlyArray<WebAssembly.Instance>
  /** The host half of the instrumented module's `airssys:fuel` import: pass it to `fuelMeter`. */
  readonly fuel: FuelMeter.FuelHost
}

/** Instantiates a guest through its glue, with `core` (rewritten or not) in place of its core module. */
const run = async (name: string, core: Uint8Array): Promise<Running> => {
  const { glue } = await guest(name)
  const module = new WebAssembly.Module(core as Uint8Array<ArrayBuffer>)
  const cores: Array<WebAssembly.Instance> = []
  // Start code (componentize-js's init) draws on an instantiate budget, as in `Component.instantiate`.
  const fuel = FuelMeter.makeFuelHost({ units: ResourceLimits.defaults.instantiateFuel })
  const exports = await glue(() => module, {}, (m, imports) => {
    const instance = new WebAssembly.Instance(m, { ...imports, [Fuel.fuelImport.module]: fuel.imports })
    cores.push(instance)
    return instance
  }) as { process: (input: Uint8Array) => Uint8Array }
  fuel.endInstantiate()
  return { process: (input) => exports.process(input), cores, fuel }
}

type Outcome =
  | { readonly ok: string }
  | { readonly err: unknown }
  | { readonly trap: string }

/** What a call did: ok (output as text), err (the guest's error payload), or trap. */
const outcome = (f: () => Uint8Array): Outcome => {
  try {
    return { ok: decode(f()) }
  } catch (thrown) {
    if (thrown instanceof Error && Object.hasOwn(thrown, "payload")) return { err: (thrown as { payload?: unknown }).payload }
    return { trap: thrown instanceof Error ? thrown.message : String(thrown) }
  }
}

const u32 = (n: number): Uint8Array => {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setUint32(0, n, true)
  return bytes
}

const pagesOf = (running: Running): number =>
  (running.cores[0]!.exports.memory as WebAssembly.Memory).buffer.byteLength / MemoryCap.pageSize

const capped = (core: Uint8Array, maxBytes: number): Uint8Array => Result.getOrThrow(MemoryCap.capMemory(core, maxBytes))

const capFailure = (bytes: Uint8Array, maxBytes: number) => {
  const result = MemoryCap.capMemory(bytes, maxBytes)
  assert.isTrue(Result.isFailure(result), "capMemory should fail")
  return (result as Result.Failure<Uint8Array, Sections.WasmRewriteError>).failure
}

const wat = (source: string): Promise<Uint8Array> => parse(source)

const MiB = 1024 * 1024

// -----------------------------------------------------------------------------
// Memory cap
// -----------------------------------------------------------------------------

describe("capMemory", () => {
  it.effect("grow guest - growth under the cap works, memory.grow past it returns -1", () =>
    Effect.promise(async () => {
      const { core } = await guest("grow")
      const limited = await run("grow", capped(core, 4 * MiB)) // 64 pages
      assert.deepStrictEqual(outcome(() => limited.process(u32(10))), { ok: decode(u32(11)) })
      assert.deepStrictEqual(outcome(() => limited.process(u32(60))), { err: "memory.grow refused" })
      assert.deepStrictEqual(outcome(() => limited.process(u32(53))), { ok: decode(u32(64)) })
      assert.deepStrictEqual(outcome(() => limited.process(u32(1))), { err: "memory.grow refused" })
      assert.strictEqual(pagesOf(limited), 64)
      // The same request succeeds without the cap: the cap is what refused it.
      const unlimited = await run("grow", core)
      assert.deepStrictEqual(outcome(() => unlimited.process(u32(70))), { ok: decode(u32(71)) })
    }))

  it.effect("grow guest - growing until refused stops at the cap", () =>
    Effect.promise(async () => {
      const limited = await run("grow", capped((await guest("grow")).core, 4 * MiB + 65535))
      // 1 page, then 16 at a time: 17, 33, 49; 65 would pass the 64-page cap.
      assert.deepStrictEqual(outcome(() => limited.process(new Uint8Array())), { err: "memory.grow refused at 49 pages" })
      assert.strictEqual(pagesOf(limited), 49)
    }))

  it.effect("echo-js (componentize-js, 12 MB) - a 16 MiB cap lets 1 MiB through and stops 4 MiB", () =>
    Effect.promise(async () => {
      const { core } = await guest("echo-js")
      const [memory] = Result.getOrThrow(MemoryCap.definedMemories(core))
      assert.isAbove(memory!.initialPages * MemoryCap.pageSize, 8 * MiB) // SpiderMonkey starts at ~9 MiB
      assert.isTrue(Result.isSuccess(MemoryCap.capMemory(core, ResourceLimits.defaults.memoryBytes)))
      const limited = await run("echo-js", capped(core, 16 * MiB))
      assert.deepStrictEqual(outcome(() => limited.process(text("small"))), { ok: "small" })
      const oneMiB = new Uint8Array(MiB).fill(0x61)
      assert.strictEqual(limited.process(oneMiB).byteLength, MiB)
      const four = outcome(() => limited.process(new Uint8Array(4 * MiB).fill(0x61)))
      assert.property(four, "trap")
      assert.isAtMost(pagesOf(limited), 256)
      const unlimited = await run("echo-js", core)
      assert.strictEqual(unlimited.process(new Uint8Array(4 * MiB).fill(0x61)).byteLength, 4 * MiB)
    }))

  it.effect("initial size above the cap - InitialExceedsCap, with the sizes", () =>
    Effect.promise(async () => {
      const bytes = await wat(`(module (memory 3))`)
      const error = capFailure(bytes, 2 * MemoryCap.pageSize + 100)
      assert.strictEqual(error._tag, "WasmRewriteError")
      assert.strictEqual(error.reason, "InitialExceedsCap")
      assert.deepStrictEqual([error.memory, error.initialPages, error.capPages], [0, 3, 2])
      assert.match(error.message, /starts at 3 pages .* above the cap of 2 pages/)
      // Exactly the initial size is allowed: the memory just cannot grow.
      const exact = capped(await wat(`(module (memory (export "m") 3))`), 3 * MemoryCap.pageSize)
      const memory = new WebAssembly.Instance(new WebAssembly.Module(exact as Uint8Array<ArrayBuffer>)).exports.m
      assert.throws(() => (memory as WebAssembly.Memory).grow(1))
    }))

  it.effect("rewrite - only the memory section changes; other inputs are refused with a reason", () =>
    Effect.promise(async () => {
      const bytes = await wat(`(module
        (type (func (result i32)))
        (memory (export "memory") 2)
        (func (export "size") (result i32) (memory.size))
        (data (i32.const 0) "hello"))`)
      const out = capped(bytes, 16 * MemoryCap.pageSize)
      assert.isTrue(WebAssembly.validate(out as Uint8Array<ArrayBuffer>))
      // A memory without a maximum gains one: the entry grows by one byte (flag 0 → 1, then max = 16).
      assert.strictEqual(out.byteLength, bytes.byteLength + 1)
      // The memory section: id 5, size 3, one memory, flags 0 (no maximum), 2 pages.
      const section = [5, 3, 1, 0, 2]
      const starts = bytes.map((_, i) => i).filter((i) => section.every((b, j) => bytes[i + j] === b))
      assert.strictEqual(starts.length, 1)
      const start = starts[0]!
      assert.deepStrictEqual([...bytes.subarray(0, start)], [...out.subarray(0, start)])
      assert.deepStrictEqual([...out.subarray(start, start + 6)], [5, 4, 1, 1, 2, 16])
      assert.deepStrictEqual([...bytes.subarray(start + 5)], [...out.subarray(start + 6)])
      const exports = new WebAssembly.Instance(new WebAssembly.Module(out as Uint8Array<ArrayBuffer>)).exports
      assert.throws(() => (exports.memory as WebAssembly.Memory).grow(15))
      assert.strictEqual((exports.memory as WebAssembly.Memory).grow(14), 2)

      // No memory defined (here: imported): nothing to cap, the very same bytes come back.
      const importing = await wat(`(module (import "env" "memory" (memory 1)))`)
      assert.strictEqual(capped(importing, MiB), importing)

      assert.strictEqual(capFailure(guestBytes("echo"), MiB).reason, "NotCoreModule")
      assert.strictEqual(capFailure(text("not wasm at all"), MiB).reason, "NotCoreModule")
      assert.strictEqual(capFailure(bytes, -1).reason, "InvalidCap")
      assert.strictEqual(capFailure(bytes, Number.NaN).reason, "InvalidCap")
      assert.strictEqual(capFailure(bytes.subarray(0, bytes.byteLength - 3), MiB).reason, "Malformed")
    }))

  it.effect("limits - lowers a higher maximum, keeps a lower one, keeps the shared and memory64 flags", () =>
    Effect.promise(async () => {
      const bytes = await wat(`(module
        (memory (export "big") 1 1000)
        (memory (export "small") 1 2)
        (memory (export "wide") i64 1)
        (memory (export "shared") 1 100 shared))`)
      const out = capped(bytes, 4 * MiB)
      assert.deepStrictEqual(
        Result.getOrThrow(MemoryCap.definedMemories(out)).map((m) => [m.initialPages, m.maximumPages, m.shared, m.memory64]),
        [[1, 64, false, false], [1, 2, false, false], [1, 64, false, true], [1, 64, true, false]]
      )
      const exports = new WebAssembly.Instance(new WebAssembly.Module(out as Uint8Array<ArrayBuffer>)).exports
      const big = exports.big as WebAssembly.Memory
      assert.strictEqual(big.grow(63), 1)
      assert.throws(() => big.grow(1))
      assert.throws(() => (exports.small as WebAssembly.Memory).grow(2))
      const shared = exports.shared as WebAssembly.Memory
      assert.instanceOf(shared.buffer, SharedArrayBuffer)
      assert.throws(() => shared.grow(64))
      // A cap above what a 32-bit memory can declare is clamped to 4 GiB, which still validates.
      const huge = capped(await wat(`(module (memory 1))`), 2 ** 40)
      assert.strictEqual(Result.getOrThrow(MemoryCap.definedMemories(huge))[0]!.maximumPages, 65536)
      assert.isTrue(WebAssembly.validate(huge as Uint8Array<ArrayBuffer>))
    }))

  it("limits - custom page sizes are Unsupported rather than miscounted", () => {
    // header, memory section (id 5, 4 bytes): one memory, flags 0x08 (custom page size), min 1, log2 page size 0
    const bytes = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 4, 1, 0x08, 1, 0])
    assert.strictEqual(capFailure(bytes, MiB).reason, "Unsupported")
  })
})

// -----------------------------------------------------------------------------
// Fuel
// -----------------------------------------------------------------------------

/**
 * Calls `process` of an instrumented loop guest's core module in a worker, so that a broken metering
 * fails the test instead of hanging it.
 */
const runLoopInWorker = (core: Uint8Array, fuel: number) =>
  new Promise<{ readonly message: string; readonly fuelLeft: bigint }>((resolve, reject) => {
    const worker = new Worker(
      `
      const { parentPort, workerData } = require("node:worker_threads")
      // A host that refuses every refill (it answers with the overdrawn value): the first time the fuel
      // runs out, the guest traps.
      const { exports } = new WebAssembly.Instance(new WebAssembly.Module(workerData.core), {
        "airssys:fuel": { refill: (current) => current }
      })
      exports.airssys_fuel.value = BigInt(workerData.fuel)
      let message = "returned"
      try { exports.process(0, 0) } catch (error) { message = String(error.stack) }
      parentPort.postMessage({ message, fuelLeft: exports.airssys_fuel.value })
      `,
      { eval: true, workerData: { core, fuel } }
    )
    const timer = setTimeout(() => {
      void worker.terminate()
      reject(new Error("the loop guest ran for 30 s: fuel did not stop it"))
    }, 30_000)
    worker.once("message", (reply) => {
      clearTimeout(timer)
      void worker.terminate()
      resolve(reply)
    })
    worker.once("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
  })

const rewriteFailure = (promise: Promise<unknown>) =>
  promise.then(
    () => assert.fail("expected a WasmRewriteError"),
    (error: unknown) => {
      assert.instanceOf(error, Sections.WasmRewriteError)
      return (error as Sections.WasmRewriteError).reason
    }
  )

describe("instrumentFuel", () => {
  it.effect("loop guest - an infinite loop traps in airssys_fuel_exhausted after exactly its fuel", () =>
    Effect.promise(async () => {
      const core = await Fuel.instrumentFuel((await guest("loop")).core)
      const { message, fuelLeft } = await runLoopInWorker(core, 1_000_000)
      assert.match(message, /RuntimeError: unreachable/)
      assert.match(message, new RegExp(`at ${Fuel.fuelExhaustedFunction} `))
      // Out of fuel is told apart by the global alone: the charge that trapped left it at -1.
      assert.strictEqual(fuelLeft, -1n)
    }))

  it.effect("echo guest - still echoes; the fuel of a call is small and the same every time", () =>
    Effect.promise(async () => {
      const { core } = await guest("echo")
      const echo = await run("echo", await Fuel.instrumentFuel(core))
      const meter = FuelMeter.fuelMeter(echo.cores)!
      assert.isDefined(meter)
      const used: Array<number> = []
      for (const input of ["a", "hello, fuel", "x".repeat(10_000), "", "again"]) {
        meter.refill(1_000)
        assert.deepStrictEqual(outcome(() => echo.process(text(input))), { ok: input })
        assert.isFalse(meter.exhausted())
        used.push(meter.consumed())
      }
      assert.isAbove(used[0]!, 0)
      assert.isAtMost(used[0]!, 20)
      assert.deepStrictEqual(used, used.map(() => used[0]))
      // An uninstrumented instance has no meter.
      assert.isUndefined(FuelMeter.fuelMeter((await run("echo", core)).cores))
    }))

  it.effect("echo guest - exactly a call's fuel is enough, one unit less is out of fuel", () =>
    Effect.promise(async () => {
      const instrumented = await Fuel.instrumentFuel((await guest("echo")).core)
      const probe = await run("echo", instrumented)
      const meter = FuelMeter.fuelMeter(probe.cores)!
      meter.refill(1_000)
      probe.process(text("probe"))
      const cost = meter.consumed()

      meter.refill(cost)
      assert.deepStrictEqual(outcome(() => probe.process(text("enough"))), { ok: "enough" })
      assert.isFalse(meter.exhausted())

      const starved = await run("echo", instrumented)
      const starvedMeter = FuelMeter.fuelMeter(starved.cores)!
      starvedMeter.refill(cost - 1)
      assert.property(outcome(() => starved.process(text("not enough"))), "trap")
      assert.isTrue(starvedMeter.exhausted())
    }))

  it.effect("faulty guest - a trap that is not fuel leaves the meter not exhausted", () =>
    Effect.promise(async () => {
      const faulty = await run("faulty", await Fuel.instrumentFuel((await guest("faulty")).core))
      const meter = FuelMeter.fuelMeter(faulty.cores)!
      meter.refill(1_000_000)
      assert.deepStrictEqual(outcome(() => faulty.process(text("err:nope"))), { err: "nope" })
      meter.refill(1_000_000)
      assert.property(outcome(() => faulty.process(text("trap"))), "trap")
      assert.isFalse(meter.exhausted())
      assert.isAbove(meter.consumed(), 0)
    }))

  it.effect("control flow - same results as the original; a call's fuel is exact in every shape of code", () =>
    Effect.promise(async () => {
      // Loops with results, nested loops, loops left by return and br_table, calls in operands, indirect
      // and tail calls, recursion, and exception handling (metered through the global, as a fallback).
      const raw = await wat(`(module
        (type $t (func (param i32) (result i32)))
        (table 2 funcref)
        (elem (i32.const 0) $double $tri)
        (tag $e (param i32))
        (func $double (param $x i32) (result i32) (i32.mul (local.get $x) (i32.const 2)))
        (func $tri (param $n i32) (result i32) (local $acc i32)
          (loop $l (result i32)
            (local.set $acc (i32.add (local.get $acc) (local.get $n)))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br_if $l (i32.gt_s (local.get $n) (i32.const 0)))
            (local.get $acc)))
        (func (export "mix") (param $n i32) (result i32) (local $i i32) (local $s i32)
          (loop $outer
            (loop $inner
              (local.set $s (i32.add (local.get $s)
                (call_indirect (type $t) (local.get $i) (i32.rem_u (local.get $i) (i32.const 2)))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (if (i32.ge_u (local.get $i) (local.get $n))
                (then (return (i32.add (local.get $s) (call $tri (local.get $n))))))
              (br_if $inner (i32.rem_u (local.get $i) (i32.const 3))))
            (br $outer))
          unreachable)
        (func $add (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
        (func (export "operands") (param $n i32) (result i32)
          (call $add
            (block (result i32)
              (loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
              (local.get $n))
            (i32.const 5)))
        (func (export "tail") (param $n i32) (result i32) (return_call $tri (call $double (local.get $n))))
        (func $fact (export "fact") (param $n i64) (result i64)
          (if (result i64) (i64.le_s (local.get $n) (i64.const 1))
            (then (i64.const 1))
            (else (i64.mul (local.get $n) (call $fact (i64.sub (local.get $n) (i64.const 1)))))))
        (func (export "table") (param $n i32) (result i32) (local $k i32)
          (block $done
            (loop $l
              (local.set $k (i32.add (local.get $k) (i32.const 1)))
              (br_table $l $done (i32.ge_u (local.get $k) (local.get $n)))))
          (local.get $k))
        (func (export "eh") (param $n i32) (result i32)
          (block $caught (result i32)
            (try_table (catch $e $caught)
              (loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
              (throw $e (i32.add (call $tri (i32.const 3)) (i32.const 1))))
            (i32.const -1))))`)
      const instrumented = await Fuel.instrumentFuel(raw)
      assert.deepStrictEqual(Fuel.lastInstrumentStats, { local: 8, global: 1 })
      type Exports = Record<"mix" | "operands" | "tail" | "table" | "eh", (n: number) => number> & { fact: (n: bigint) => bigint }
      const plain = new WebAssembly.Instance(new WebAssembly.Module(raw as Uint8Array<ArrayBuffer>)).exports as unknown as Exports
      const fuel = FuelMeter.makeFuelHost()
      const core = new WebAssembly.Instance(new WebAssembly.Module(instrumented as Uint8Array<ArrayBuffer>), {
        [Fuel.fuelImport.module]: fuel.imports
      })
      const metered = core.exports as unknown as Exports
      const meter = FuelMeter.fuelMeter([core], fuel)!
      const calls: Array<[string, () => unknown, () => unknown]> = [
        ...[1, 2, 7, 50].map((n): [string, () => unknown, () => unknown] => [`mix(${n})`, () => plain.mix(n), () => metered.mix(n)]),
        ["operands(4)", () => plain.operands(4), () => metered.operands(4)],
        ["operands(40)", () => plain.operands(40), () => metered.operands(40)],
        ["tail(5)", () => plain.tail(5), () => metered.tail(5)],
        ["fact(20)", () => plain.fact(20n), () => metered.fact(20n)],
        ["table(9)", () => plain.table(9), () => metered.table(9)],
        ["eh(4)", () => plain.eh(4), () => metered.eh(4)],
        ["eh(40)", () => plain.eh(40), () => metered.eh(40)]
      ]
      const costs = new Map<string, number>()
      for (const [name, expected, actual] of calls) {
        meter.refill(1_000_000)
        assert.strictEqual(actual(), expected(), name)
        const cost = meter.consumed()
        costs.set(name, cost)
        assert.isAbove(cost, 0, name)
        meter.refill(cost)
        assert.strictEqual(actual(), expected(), `${name} with exactly its fuel`)
        assert.isFalse(meter.exhausted(), name)
        meter.refill(cost - 1)
        assert.throws(actual, WebAssembly.RuntimeError, undefined, `${name} with one unit less`)
        assert.isTrue(meter.exhausted(), name)
        assert.strictEqual(meter.stopped(), "fuel", name)
      }
      // One unit per loop iteration: in an operand evaluated before a call, and in the fallback function.
      assert.strictEqual(costs.get("operands(40)")! - costs.get("operands(4)")!, 36)
      assert.strictEqual(costs.get("eh(40)")! - costs.get("eh(4)")!, 36)
      assert.strictEqual(costs.get("mix(50)")! - costs.get("mix(7)")! > 43, true)
    }))

  it.effect("input - refused with a reason before binaryen sees it", () =>
    Effect.promise(async () => {
      const once = await Fuel.instrumentFuel((await guest("echo")).core)
      assert.strictEqual(await rewriteFailure(Fuel.instrumentFuel(once)), "AlreadyInstrumented")
      assert.strictEqual(await rewriteFailure(Fuel.instrumentFuel(guestBytes("echo"))), "NotCoreModule")
      // Well-formed sections, invalid code: V8 rejects it, so binaryen never has to.
      const invalid = await wat(`(module (func (result i32) (i32.const 1)))`)
      invalid[invalid.length - 3] = 0x6a // i32.const 1; end → i32.add; nop; end (stack underflow)
      assert.isFalse(WebAssembly.validate(invalid as Uint8Array<ArrayBuffer>))
      assert.strictEqual(await rewriteFailure(Fuel.instrumentFuel(invalid)), "Malformed")
      // binaryen still works afterwards.
      assert.isTrue(WebAssembly.validate(await Fuel.instrumentFuel(await wat(`(module)`)) as Uint8Array<ArrayBuffer>))
    }))

  it.effect("instrumentFuelInWorker - same bytes every time, same behaviour as in this thread", () =>
    Effect.promise(async () => {
      const { core } = await guest("grow")
      const [first, second] = await Promise.all([FuelWorker.instrumentFuelInWorker(core), FuelWorker.instrumentFuelInWorker(core)])
      // A fresh worker starts binaryen afresh: the output depends on the input only. (In one thread,
      // binaryen's log-execution pass numbers its hooks with a process-wide counter, so later runs differ
      // in dead constants.)
      assert.strictEqual(Buffer.compare(first, second), 0)
      const here = await Fuel.instrumentFuel(core)
      const costs: Array<number> = []
      for (const bytes of [first, here]) {
        const grow = await run("grow", bytes)
        const meter = FuelMeter.fuelMeter(grow.cores)!
        meter.refill(10_000)
        assert.deepStrictEqual(outcome(() => grow.process(u32(3))), { ok: decode(u32(4)) })
        costs.push(meter.consumed())
      }
      assert.strictEqual(costs[0], costs[1])
      assert.strictEqual(await rewriteFailure(FuelWorker.instrumentFuelInWorker(first)), "AlreadyInstrumented")
    }))

  it.effect("instrumented and capped - both rewrites compose, in either order", () =>
    Effect.promise(async () => {
      const { core } = await guest("grow")
      const fuelThenCap = capped(await Fuel.instrumentFuel(core), 4 * MiB)
      const capThenFuel = await Fuel.instrumentFuel(capped(core, 4 * MiB))
      for (const bytes of [fuelThenCap, capThenFuel]) {
        const grow = await run("grow", bytes)
        const meter = FuelMeter.fuelMeter(grow.cores)!
        meter.refill(10_000)
        assert.deepStrictEqual(outcome(() => grow.process(new Uint8Array())), { err: "memory.grow refused at 49 pages" })
        assert.isFalse(meter.exhausted())
      }
    }))

  it.effect("cachedInstrument - memory and directory caches skip the work", () =>
    Effect.promise(async () => {
      const { core } = await guest("lifecycle")
      const directory = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-fuel-"))
      const instrumented = new BoundedCache<string, Promise<Uint8Array>>(16)
      try {
        instrumented.clear()
        const before = Cache.instrumentCount
        // In a worker (a small module would be done in this thread), so that outputs compare byte for byte.
        const inWorker = { inWorker: true }
        const [a, b] = await Promise.all([
          Cache.cachedInstrument(core, instrumented, directory, inWorker),
          Cache.cachedInstrument(core, instrumented, directory, inWorker)
        ])
        assert.strictEqual(a, b)
        assert.strictEqual(Cache.instrumentCount, before + 1)
        const key = Cache.fuelCacheKey(core)
        assert.deepStrictEqual(fs.readdirSync(directory), [`fuel-${key}.wasm`])
        assert.strictEqual(await Cache.cachedInstrument(core, instrumented), a)

        // Another process: nothing in memory, the directory has it.
        instrumented.clear()
        const fromDisk = await Cache.cachedInstrument(core, instrumented, directory)
        assert.notStrictEqual(fromDisk, a)
        assert.strictEqual(Buffer.compare(fromDisk, a), 0)
        assert.strictEqual(Cache.instrumentCount, before + 1)

        // A damaged entry is a miss, instrumented again and rewritten.
        instrumented.clear()
        fs.writeFileSync(path.join(directory, `fuel-${key}.wasm`), text("damaged"))
        const again = await Cache.cachedInstrument(core, instrumented, directory, inWorker)
        assert.strictEqual(Buffer.compare(again, a), 0)
        assert.strictEqual(Cache.instrumentCount, before + 2)
        assert.strictEqual(Buffer.compare(fs.readFileSync(path.join(directory, `fuel-${key}.wasm`)), a), 0)
        assert.match(Fuel.fuelVersion, /^airssys-fuel\/\d+ airssys-fuel-fast\/\d+ binaryen\/\d+/)
      } finally {
        fs.rmSync(directory, { recursive: true, force: true })
      }
    }))

  it.effect("one-pass rewrite - bulk memory, SIMD, tables, start, names: same results and the same fuel as binaryen", () =>
    Effect.promise(async () => {
      const raw = await wat(`(module
        (type $t (func (param i32) (result i32)))
        (import "env" "add" (func $host_add (param i32 i32) (result i32)))
        (memory (export "memory") 1)
        (table 4 funcref)
        (global $started (mut i32) (i32.const 0))
        (global $fref funcref (ref.func $double))
        (elem (i32.const 0) $double $sum)
        (elem declare func $sum)
        (data $d "0123456789abcdef")
        (func $double (param $x i32) (result i32) (i32.mul (local.get $x) (i32.const 2)))
        ;; Bulk memory (0xfc) and SIMD (0xfd) in a loop: fill, copy, init, then add up with v128 lanes.
        (func $sum (export "sum") (param $n i32) (result i32) (local $i i32) (local $v v128)
          (memory.fill (i32.const 64) (i32.const 3) (i32.const 64))
          (memory.copy (i32.const 128) (i32.const 64) (i32.const 64))
          (memory.init $d (i32.const 256) (i32.const 0) (i32.const 16))
          (loop $l
            (local.set $v (i32x4.add (local.get $v) (v128.load (i32.add (i32.const 128) (i32.and (local.get $i) (i32.const 48))))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
          (i32.add
            (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 3 (local.get $v)))
            (i32.trunc_sat_f32_s (f32.const 1.5))))
        (func (export "indirect") (param $n i32) (result i32)
          (i32.add
            (call_indirect (type $t) (local.get $n) (i32.const 0))
            (call $host_add (call_ref $t (local.get $n) (ref.func $double)) (i32.load8_u (i32.const 256)))))
        (func (export "started") (result i32) (global.get $started))
        (func $init (global.set $started (i32.add (global.get $started) (call $double (i32.const 21)))))
        (start $init))`)
      const fast = Fuel.instrumentFuelFast(raw)
      assert.isDefined(fast)
      assert.deepStrictEqual(Fuel.lastInstrumentStats, { local: 5, global: 0 })
      const slow = await Fuel.instrumentFuelBinaryen(raw)
      type Exports = { sum: (n: number) => number; indirect: (n: number) => number; started: () => number }
      const env = { env: { add: (a: number, b: number) => a + b } }
      const plain = new WebAssembly.Instance(new WebAssembly.Module(raw as Uint8Array<ArrayBuffer>), env).exports as unknown as Exports
      const metered = [fast!, slow].map((bytes) => {
        const fuel = FuelMeter.makeFuelHost({ units: 1_000 })
        const core = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {
          ...env,
          [Fuel.fuelImport.module]: fuel.imports
        })
        return { exports: core.exports as unknown as Exports, meter: FuelMeter.fuelMeter([core], fuel)! }
      })
      const costs = metered.map(({ exports, meter }) => {
        assert.strictEqual(exports.started(), plain.started())
        return (["sum", "indirect"] as const).flatMap((name) =>
          [16, 160, 1600].map((n) => {
            meter.refill(1_000_000)
            assert.strictEqual(exports[name](n), plain[name](n), `${name}(${n})`)
            const cost = meter.consumed()
            meter.refill(cost - 1)
            assert.throws(() => exports[name](n), WebAssembly.RuntimeError)
            assert.isTrue(meter.exhausted())
            return cost
          })
        )
      })
      // One unit per function entry and loop iteration, whichever rewrite: the counts agree exactly.
      assert.deepStrictEqual(costs[0], costs[1])
      assert.strictEqual(costs[0]![2]! - costs[0]![1]!, 90)
      // The trap of an empty tank names the exhausted function (the name section was rewritten too).
      const { exports, meter } = metered[0]!
      meter.refill(1)
      let stack = ""
      try {
        exports.sum(16)
      } catch (error) {
        stack = String((error as Error).stack)
      }
      assert.match(stack, new RegExp(`RuntimeError: unreachable[\\s\\S]*at ${Fuel.fuelExhaustedFunction} `))
    }))

  it.effect("one-pass rewrite - declines what it does not know (GC), and binaryen takes over", () =>
    Effect.promise(async () => {
      const gc = await wat(`(module
        (type $pair (struct (field i32) (field i32)))
        (func (export "first") (param i32) (result i32)
          (struct.get $pair 0 (struct.new $pair (local.get 0) (i32.const 2)))))`)
      assert.isUndefined(Fuel.instrumentFuelFast(gc))
      const instrumented = await Fuel.instrumentFuel(gc)
      const fuel = FuelMeter.makeFuelHost()
      const core = new WebAssembly.Instance(new WebAssembly.Module(instrumented as Uint8Array<ArrayBuffer>), {
        [Fuel.fuelImport.module]: fuel.imports
      })
      const meter = FuelMeter.fuelMeter([core], fuel)!
      meter.refill(10)
      assert.strictEqual((core.exports as unknown as { first: (n: number) => number }).first(7), 7)
      assert.strictEqual(meter.consumed(), 1)
      // Malformed input is refused before either rewrite reads it.
      assert.strictEqual(await rewriteFailure(Promise.resolve().then(() => Fuel.instrumentFuelFast(guestBytes("echo")))), "NotCoreModule")
    }))

  it.effect("one-pass rewrite - the 12 MB componentize-js guest instruments in one pass, still echoes, runs out of fuel", () =>
    Effect.promise(async () => {
      const { core } = await guest("echo-js")
      const instrumented = Fuel.instrumentFuelFast(core)
      assert.isDefined(instrumented)
      assert.isAbove(Fuel.lastInstrumentStats.local, 1000)
      const echo = await run("echo-js", instrumented!)
      const meter = FuelMeter.fuelMeter(echo.cores, echo.fuel)!
      meter.refill(ResourceLimits.defaults.fuel)
      assert.deepStrictEqual(outcome(() => echo.process(text("hello, SpiderMonkey"))), { ok: "hello, SpiderMonkey" })
      assert.isAbove(meter.consumed(), 100)
      meter.refill(100)
      assert.property(outcome(() => echo.process(text("starved"))), "trap")
      assert.isTrue(meter.exhausted())
    }), 120_000)

  // ~8 s of binaryen work plus a ~1 s transpile: run with AIRSSYS_SLOW_TESTS=1.
  it.effect.skipIf(process.env.AIRSSYS_SLOW_TESTS === undefined)(
    "echo-js (componentize-js, 12 MB) - instrumented in a worker, still echoes, runs out of fuel",
    () =>
      Effect.promise(async () => {
        const { core } = await guest("echo-js")
        const echo = await run("echo-js", await FuelWorker.instrumentFuelInWorker(core))
        const meter = FuelMeter.fuelMeter(echo.cores)!
        meter.refill(ResourceLimits.defaults.fuel)
        assert.deepStrictEqual(outcome(() => echo.process(text("warm up"))), { ok: "warm up" })
        meter.refill(ResourceLimits.defaults.fuel)
        assert.deepStrictEqual(outcome(() => echo.process(text("hello, SpiderMonkey"))), { ok: "hello, SpiderMonkey" })
        assert.isAbove(meter.consumed(), 100)
        meter.refill(100)
        assert.property(outcome(() => echo.process(text("starved"))), "trap")
        assert.isTrue(meter.exhausted())
      }),
    120_000
  )
})
