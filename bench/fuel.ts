/**
 * Fuel overhead: hot loops in a WAT core module, run raw and instrumented by `instrumentFuel`, in the same
 * process, rounds interleaved so that both see the same machine. Prints time per 1,000 iterations, the
 * ratio, and the fuel each call used.
 *
 * Usage: node bench/fuel.ts [--smoke]
 */
import { parse } from "@bytecodealliance/jco"
import * as Fuel from "../src/internal/load/fuelInstrument.ts"
import * as FuelMeter from "../src/internal/run/fuelMeter.ts"
import { printTable, type Row } from "./harness.ts"

const smoke = process.argv.includes("--smoke")

const source = `(module
  (memory (export "memory") 16)
  ;; 1 + 2 + ... + n in an i64: the tightest loop there is, one add per iteration.
  (func (export "sum") (param $n i32) (result i64)
    (local $acc i64)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (local.get $n))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $acc))
  ;; Sum of the first n i32s in memory (n <= 262144), repeated: a load and an add per iteration.
  (func (export "sumMemory") (param $n i32) (param $times i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $again
      (local.set $i (i32.const 0))
      (loop $next
        (local.set $acc (i32.add (local.get $acc) (i32.load (i32.shl (local.get $i) (i32.const 2)))))
        (br_if $next (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
      (br_if $again (local.tee $times (i32.sub (local.get $times) (i32.const 1)))))
    (local.get $acc))
  ;; FNV-1a over the first n bytes of memory, repeated: a parser-like byte loop.
  (func (export "fnv") (param $n i32) (param $times i32) (result i32)
    (local $i i32) (local $h i32)
    (local.set $h (i32.const 0x811c9dc5))
    (loop $again
      (local.set $i (i32.const 0))
      (loop $next
        (local.set $h (i32.mul (i32.xor (local.get $h) (i32.load8_u (local.get $i))) (i32.const 0x01000193)))
        (br_if $next (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
      (br_if $again (local.tee $times (i32.sub (local.get $times) (i32.const 1)))))
    (local.get $h))
  ;; A call per iteration to a small function that V8 does not inline: call-heavy code.
  (func $mix (param $x i32) (result i32)
    (i32.xor (i32.mul (local.get $x) (i32.const 0x9e3779b1)) (i32.shr_u (local.get $x) (i32.const 15))))
  (func (export "calls") (param $n i32) (result i32)
    (local $x i32)
    (loop $next
      (local.set $x (call $mix (i32.add (local.get $x) (local.get $n))))
      (br_if $next (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $x)))`

interface Exports {
  readonly memory: WebAssembly.Memory
  readonly sum: (n: number) => bigint
  readonly sumMemory: (n: number, times: number) => number
  readonly fnv: (n: number, times: number) => number
  readonly calls: (n: number) => number
}

const raw = await parse(source)
const started = performance.now()
const instrumented = await Fuel.instrumentFuel(raw)
const instrumentMs = performance.now() - started

const instantiate = (bytes: Uint8Array) => {
  const host = FuelMeter.makeFuelHost()
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {
    [Fuel.fuelImport.module]: host.imports
  })
  const exports = instance.exports as unknown as Exports
  new Uint8Array(exports.memory.buffer).forEach((_, i, bytes) => (bytes[i] = (i * 2654435761) >>> 24))
  return { exports, meter: FuelMeter.fuelMeter([instance], host) }
}

const plain = instantiate(raw)
const metered = instantiate(instrumented)
const fuel = Number.MAX_SAFE_INTEGER

const size = (n: number): number => (smoke ? Math.max(1, Math.round(n / 1000)) : n)
const repeat = (n: number): number => (smoke ? 1 : n)
const loops: ReadonlyArray<{
  readonly name: string
  readonly iterations: number
  readonly call: (exports: Exports) => unknown
}> = [
  { name: "sum 1..n (i64 add)", iterations: size(100_000_000), call: (e) => e.sum(size(100_000_000)) },
  { name: "sum of i32s in memory", iterations: 262_144 * repeat(400), call: (e) => e.sumMemory(262_144, repeat(400)) },
  { name: "fnv-1a over bytes", iterations: 1_048_576 * repeat(100), call: (e) => e.fnv(1_048_576, repeat(100)) },
  { name: "call per iteration", iterations: size(50_000_000), call: (e) => e.calls(size(50_000_000)) }
]

const median = (values: ReadonlyArray<number>): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const time = (f: () => unknown): [number, unknown] => {
  const start = process.hrtime.bigint()
  const result = f()
  return [Number(process.hrtime.bigint() - start), result]
}

// The in-process timeout: fuel handed out in slices, with a clock read between slices.
const deadline = { at: 0 }
const expired = () => performance.now() > deadline.at

const percent = (ratio: number): string => `${ratio >= 1 ? "+" : ""}${((ratio - 1) * 100).toFixed(1)}%`

const rows: Array<Row> = []
const summary: Array<string> = []
for (const loop of loops) {
  const rounds = smoke ? 2 : 9
  const rawTimes: Array<number> = []
  const fuelTimes: Array<number> = []
  const slicedTimes: Array<number> = []
  const ratios: Array<number> = []
  const slicedRatios: Array<number> = []
  let used = 0
  for (let round = 0; round <= rounds; round++) {
    const [rawNs, expected] = time(() => loop.call(plain.exports))
    metered.meter!.refill(fuel)
    const [fuelNs, actual] = time(() => loop.call(metered.exports))
    if (actual !== expected) throw new Error(`${loop.name}: instrumented result ${actual} differs from ${expected}`)
    used = metered.meter!.consumed()
    deadline.at = performance.now() + 60_000
    metered.meter!.refill(fuel, expired)
    const [slicedNs, sliced] = time(() => loop.call(metered.exports))
    if (sliced !== expected) throw new Error(`${loop.name}: sliced result ${sliced} differs from ${expected}`)
    if (metered.meter!.consumed() !== used) throw new Error(`${loop.name}: slices changed the fuel used`)
    if (round === 0) continue // warm-up: tier-up to optimized code
    rawTimes.push((rawNs / loop.iterations) * 1000)
    fuelTimes.push((fuelNs / loop.iterations) * 1000)
    slicedTimes.push((slicedNs / loop.iterations) * 1000)
    ratios.push(fuelNs / rawNs)
    slicedRatios.push(slicedNs / rawNs)
  }
  const ratio = median(ratios)
  const slicedRatio = median(slicedRatios)
  rows.push({ suite: "fuel", name: `${loop.name}: raw`, nsPerOp: median(rawTimes) })
  rows.push({
    suite: "fuel",
    name: `${loop.name}: metered`,
    nsPerOp: median(fuelTimes),
    baseline: `${loop.name}: raw`,
    note: `${used} units/call, median of per-round ratios ${ratio.toFixed(3)}`
  })
  rows.push({
    suite: "fuel",
    name: `${loop.name}: metered, timed`,
    nsPerOp: median(slicedTimes),
    baseline: `${loop.name}: raw`,
    note: `${FuelMeter.sliceUnits}-unit slices, clock read between; median of per-round ratios ${slicedRatio.toFixed(3)}`
  })
  summary.push(`${loop.name}: ${percent(ratio)} (with a deadline: ${percent(slicedRatio)})`)
}

printTable(rows)
console.log(`\n"per op" is per 1,000 iterations; target ≤ 10% overhead. Instrumenting this module took ${instrumentMs.toFixed(0)} ms (binaryen ${Fuel.fuelVersion}).`)
console.log(summary.join("\n"))

/** The rows above, for the `fuel` suite of bench/run.ts (which imports this file in a child process). */
export const fuelRows = (): ReadonlyArray<Row> => rows
