/**
 * Loading a component: cold (jco transpiles) and warm (a cache hit), in a new process and in a running one,
 * beside jco's transpile as-is and V8's compile of the same core module, measured in the same run.
 *
 * - cold, new process: an empty cache directory; the child process pays jco's import and first transpile.
 * - warm, new process: the same cache directory, now filled: the child transpiles nothing (checked).
 * - cold, in process: bytes never seen (a custom section appended changes the hash), no cache directory.
 * - warm, disk cache hit, in process: bytes whose transpile is on disk but not in this process's memory
 *   (they were first loaded under other limits, which is another in-memory artifact over the same disk entry).
 * - warm, process cache hit: the same bytes again: a hash and a map lookup.
 *
 * A child process is this file run with `--child DIR`: it loads the echo component with that cache
 * directory and prints the time and the transpile count as JSON.
 *
 * Real toolchain guests (issue 12): `build/guests/c-processor.wasm` (clang + wasi-libc + the preview1
 * adapter) and `build/guests/qjs-processor.wasm` (componentize-qjs), each in fresh child processes (a
 * process's first load of them is what "cold" means, and V8 would otherwise reuse compiled code):
 * - `--real-cold FILE compile|transpile|load`: a running host (the echo guest loaded first), then timed, one
 *   per process: jco's transpile as-is, V8's
 *   `WebAssembly.compile` of the core modules it yields, and `Component.fromBytes` with the default limits
 *   (memory cap and fuel metering) and no cache;
 * - `--real-fill FILE DIR`, then `--real-disk FILE DIR`: the second process loads from the disk cache
 *   the first one filled (0 transpiles, checked).
 * A guest that is not built is skipped, and the run says so.
 */
import { Effect, Metric } from "effect"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Component, ResourceLimits } from "../src/index.ts"
import { guestBytes, guestPath } from "../test/fixtures.ts"
import { measureBatch, measureSync, median, type Options, type Row } from "./harness.ts"

const suite = "load"

interface ChildReport {
  readonly ns: number
  readonly transpiles: number
}

/** Runs this file as a child process that loads the echo component once with `cacheDirectory`. */
const loadInChild = (cacheDirectory: string): ChildReport => {
  const child = spawnSync(process.execPath, [import.meta.filename, "--child", cacheDirectory], { encoding: "utf8" })
  const line = child.stdout.split("\n").find((l) => l.startsWith("{"))
  if (child.status !== 0 || line === undefined) throw new Error(`load child failed: ${child.stderr}`)
  return JSON.parse(line) as ChildReport
}

// jco's CLI package (imported by engine.ts too) compiles its own wasm in the background for ~100 ms of CPU
// after it is imported: the child processes that time a load from the disk cache import neither, so
// that work does not share their cores.
const jco = () => import("@bytecodealliance/jco")

export const load = async (options: Options): Promise<ReadonlyArray<Row>> => {
  const { transpile } = await jco()
  const { withCustomSection } = await import("./engine.ts")
  const bytes = guestBytes("echo")
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-bench-load-"))
  let unique = 0
  const fresh = () => withCustomSection(bytes, `load-${process.pid}-${unique++}`)
  try {
    // --- new processes -----------------------------------------------------------------------------
    const children = options.smoke ? 1 : 5
    const cold: Array<number> = []
    const warm: Array<number> = []
    for (let i = 0; i < children; i++) {
      const directory = path.join(scratch, `child-${i}`)
      const first = loadInChild(directory)
      const second = loadInChild(directory)
      if (first.transpiles !== 1 || second.transpiles !== 0) {
        throw new Error(`expected 1 then 0 transpiles, got ${first.transpiles} then ${second.transpiles}`)
      }
      cold.push(first.ns)
      warm.push(second.ns)
    }

    // --- in this process -----------------------------------------------------------------------------
    // jco as-is and V8 alone, on the same bytes: what any load must at least pay.
    const core = (await transpile(bytes, { name: "echo", instantiation: "async", noTypescript: true })).files["echo.core.wasm"]!
    const compileNs = measureSync(options, 200, () => new WebAssembly.Module(core as Uint8Array<ArrayBuffer>))
    const loads = options.smoke ? 1 : 5
    const transpileNs = await measureBatch(options, loads, async (n) => {
      for (let i = 0; i < n; i++) await transpile(fresh(), { name: "echo", instantiation: "async", noTypescript: true })
    }, 3)
    const coldNs = await measureBatch(options, loads, (n) =>
      Effect.runPromise(Effect.gen(function*() {
        for (let i = 0; i < n; i++) yield* Component.fromBytes(fresh())
      })), 3)
    // Each round: new bytes loaded (untimed) with default limits and the cache directory, which puts their
    // transpile on disk; then timed, the same bytes without limits: another artifact, so the memory cache
    // misses and the disk cache hits.
    const diskDirectory = path.join(scratch, "in-process")
    let pending: Array<Uint8Array> = []
    const diskNs = await measureBatch(options, loads, (n) =>
      Effect.runPromise(Effect.gen(function*() {
        const before = (yield* Metric.value(Component.transpiles)).count
        for (let i = 0; i < n; i++) {
          yield* Component.fromBytes(pending[i]!, { cacheDirectory: diskDirectory, limits: ResourceLimits.unlimited })
        }
        if ((yield* Metric.value(Component.transpiles)).count !== before) throw new Error("a disk cache hit transpiled")
      })), 3, (n) =>
      Effect.runPromise(Effect.gen(function*() {
        pending = Array.from({ length: n }, fresh)
        for (const b of pending) yield* Component.fromBytes(b, { cacheDirectory: diskDirectory })
      })))
    await Effect.runPromise(Component.fromBytes(bytes))
    const memoryNs = await measureBatch(options, 10_000, (n) =>
      Effect.runSync(Effect.gen(function*() {
        for (let i = 0; i < n; i++) yield* Component.fromBytes(bytes)
      })))

    const real = realGuestRows(options, scratch)
    const coldChild = "cold load, new process (import jco, transpile, compile)"
    const coldHere = "cold load, in process (transpile, compile)"
    return [
      { suite, name: "raw WebAssembly.Module (echo core module)", nsPerOp: compileNs, note: "V8 compile only" },
      { suite, name: "jco transpile as-is (new bytes)", nsPerOp: transpileNs, baseline: "raw WebAssembly.Module (echo core module)" },
      {
        suite,
        name: coldHere,
        nsPerOp: coldNs,
        baseline: ["jco transpile as-is (new bytes)", "peer: Extism createPlugin (bytes: compile + instantiate)"],
        note: "new bytes each time; default limits (cap + fuel, instrumentation cached by hash)"
      },
      { suite, name: coldChild, nsPerOp: median(cold), note: `median of ${children} child processes, empty cache directory; default limits, so the fuel rewrite runs too` },
      {
        suite,
        name: "warm load, new process (disk cache hit)",
        nsPerOp: median(warm),
        baseline: coldChild,
        note: "the second child on the same directory: 0 transpiles (checked)"
      },
      {
        suite,
        name: "warm load, in process (disk cache hit)",
        nsPerOp: diskNs,
        baseline: coldHere,
        note: "memory cache missed, disk hit: 0 transpiles (checked)"
      },
      { suite, name: "warm load, in process (memory cache hit)", nsPerOp: memoryNs, baseline: coldHere, note: "sha-256 + map lookup" },
      ...real
    ]
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true })
  }
}

/** The real toolchain guests of the load targets: file, label, targets (ns) for a cold and a disk-cache load. */
const realGuests = [
  { name: "c-processor", label: "C guest", coldTargetNs: 150e6, diskTargetNs: 20e6 },
  { name: "qjs-processor", label: "QuickJS guest", coldTargetNs: 600e6, diskTargetNs: 20e6 }
] as const

interface RealCold {
  readonly ns: number
  /** CPU time of the process (all its threads) over the same span: on a busy machine, the wall time also waits for a core. */
  readonly cpuNs: number
  readonly coreModules: number
}

// Each measurement in a process of its own: jco's own code (wasm) speeds up as it runs, so a transpile
// after another one of the same bytes would be cheaper than a first.
const realModes = ["compile", "transpile", "load"] as const

const runChild = <A>(args: ReadonlyArray<string>): A => {
  const child = spawnSync(process.execPath, [import.meta.filename, ...args], { encoding: "utf8" })
  const line = child.stdout.split("\n").find((l) => l.startsWith("{"))
  if (child.status !== 0 || line === undefined) throw new Error(`load child ${args.join(" ")} failed: ${child.stderr}`)
  return JSON.parse(line) as A
}

const realGuestRows = (options: Options, scratch: string): ReadonlyArray<Row> => {
  const runs = options.smoke ? 1 : 3
  return realGuests.flatMap(({ name, label, coldTargetNs, diskTargetNs }) => {
    const file = guestPath(name)
    if (!fs.existsSync(file)) {
      console.error(`bench load: skipped the ${label} rows: ${path.relative(process.cwd(), file)} is not built (the guest build needs clang + wasi-libc / componentize-qjs)`)
      return []
    }
    const size = `${(fs.statSync(file).size / 1024).toFixed(0)} KiB`
    // Round by round, so that each row sees the same spells of a busy machine.
    const rounds = Array.from({ length: runs }, () => realModes.map((mode) => runChild<RealCold>(["--real-cold", file, mode])))
    const [compiles, transpiles, loads] = realModes.map((_, i) => rounds.map((round) => round[i]!)) as [Array<RealCold>, Array<RealCold>, Array<RealCold>]
    const disks = Array.from({ length: runs }, (_, i) => {
      const directory = path.join(scratch, `${name}-${i}`)
      runChild(["--real-fill", file, directory])
      return runChild<ChildReport & { readonly cpuNs: number }>(["--real-disk", file, directory])
    })
    if (disks.some((d) => d.transpiles !== 0)) throw new Error(`${name}: a disk cache hit transpiled`)
    const compile = `WebAssembly.compile (${label} core modules)`
    const transpiled = `jco transpile as-is (${label})`
    const cold = `cold load, ${label} (default limits, no cache)`
    return [
      {
        suite,
        name: compile,
        nsPerOp: median(compiles.map((c) => c.ns)),
        note: `V8 alone, ${compiles[0]!.coreModules} core modules, a fresh process each (median of ${runs}); ${cpuOf(compiles)}`
      },
      { suite, name: transpiled, nsPerOp: median(transpiles.map((c) => c.ns)), baseline: compile, note: `after loading another guest; ${cpuOf(transpiles)}` },
      {
        suite,
        name: cold,
        nsPerOp: median(loads.map((c) => c.ns)),
        baseline: [compile, transpiled],
        targetNs: coldTargetNs,
        note: `${size}; transpile (stub core modules), memory cap, fuel metering (one-pass rewrite), compile; after loading another guest; ${cpuOf(loads)}`
      },
      {
        suite,
        name: `disk cache load, ${label} (new process)`,
        nsPerOp: median(disks.map((d) => d.ns)),
        baseline: [compile, cold],
        targetNs: diskTargetNs,
        note: `default limits; 0 transpiles (checked); ${cpuOf(disks)}`
      }
    ]
  })
}

const cpuOf = (runs: ReadonlyArray<{ readonly cpuNs: number }>): string => `CPU ${(median(runs.map((r) => r.cpuNs)) / 1e6).toFixed(0)} ms`

const bytesOf = (file: string) => new Uint8Array(fs.readFileSync(file))

if (process.argv[2] === "--real-cold") {
  const { transpile } = await jco()
  const bytes = bytesOf(process.argv[3]!)
  // A running host: jco's first transpile and WIT extraction pay jco's own start (wasm modules of its
  // own), which is not this guest's cost: load another guest first.
  await Effect.runPromise(Component.fromBytes(guestBytes("echo")))
  const mode = process.argv[4]
  let started = process.hrtime.bigint()
  let cpu = process.cpuUsage()
  let coreModules = 0
  if (mode === "load") {
    await Effect.runPromise(Component.fromBytes(bytes, { entryPoints: [] }))
  } else {
    const out = await transpile(bytes, { name: "guest", instantiation: "async", noTypescript: true })
    const cores = Object.entries(out.files).filter(([file]) => file.endsWith(".wasm")).map(([, core]) => core)
    coreModules = cores.length
    // The compile row times V8 alone: the transpile that gave it the core modules is not counted.
    if (mode === "compile") {
      started = process.hrtime.bigint()
      cpu = process.cpuUsage()
    }
    for (const core of mode === "compile" ? cores : []) await WebAssembly.compile(core as Uint8Array<ArrayBuffer>)
  }
  const ns = Number(process.hrtime.bigint() - started)
  const used = process.cpuUsage(cpu)
  console.log(JSON.stringify({ ns, cpuNs: (used.user + used.system) * 1000, coreModules }))
}

if (process.argv[2] === "--real-fill" || process.argv[2] === "--real-disk") {
  const bytes = bytesOf(process.argv[3]!)
  const cacheDirectory = process.argv[4]!
  const started = process.hrtime.bigint()
  const cpu = process.cpuUsage()
  await Effect.runPromise(Component.fromBytes(bytes, { cacheDirectory, entryPoints: [] }))
  const ns = Number(process.hrtime.bigint() - started)
  const used = process.cpuUsage(cpu)
  const transpiles = (await Effect.runPromise(Metric.value(Component.transpiles))).count
  console.log(JSON.stringify({ ns, cpuNs: (used.user + used.system) * 1000, transpiles }))
}

if (process.argv[2] === "--child") {
  const cacheDirectory = process.argv[3]!
  const bytes = new Uint8Array(fs.readFileSync(guestPath("echo")))
  const started = process.hrtime.bigint()
  await Effect.runPromise(Component.fromBytes(bytes, { cacheDirectory }))
  const ns = Number(process.hrtime.bigint() - started)
  const transpiles = (await Effect.runPromise(Metric.value(Component.transpiles))).count
  console.log(JSON.stringify({ ns, transpiles }))
}
