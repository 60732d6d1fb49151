/**
 * A smoke pass of the benchmark suite (`node bench/run.ts --smoke`), so that it cannot rot: every suite
 * runs with tiny counts, against real guests, and every expected row comes out with a finite positive
 * figure and baselines that exist. Nothing here looks at how fast anything is.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Row } from "../bench/harness.ts"
import { ratios } from "../bench/harness.ts"
import { docsMarkers, targets } from "../bench/targets.ts"

const root = path.resolve(import.meta.dirname, "..")
const pinnedNode = path.join(root, "node_modules", ".bin", "node")
const node = fs.existsSync(pinnedNode) ? pinnedNode : process.execPath

/** Rows of the suites this file's owner keeps, by suite; other suites must just produce rows. */
const expected: Readonly<Record<string, ReadonlyArray<string>>> = {
  engine: [
    "raw core call (16 B)",
    "jco glue as-is (16 B)",
    "Instance.process (16 B)",
    "raw new WebAssembly.Instance",
    "jco instantiate as-is",
    "Component.instantiate (cached)"
  ],
  peer: [
    "await per call (no work)",
    "Extism plugin.call (16 B echo)",
    "Instance.process (16 B)",
    "Extism createPlugin (bytes: compile + instantiate)",
    "Extism createPlugin (compiled Module)",
    "Component.instantiate (cached)",
    "Component.instantiate (cached, warm pool)",
    "Component.fromBytes (new bytes) + instantiate"
  ],
  load: [
    "raw WebAssembly.Module (echo core module)",
    "jco transpile as-is (new bytes)",
    "cold load, in process (transpile, compile)",
    "cold load, new process (import jco, transpile, compile)",
    "warm load, new process (disk cache hit)",
    "warm load, in process (disk cache hit)",
    "warm load, in process (memory cache hit)"
  ],
  actor: [
    "Component.instantiate",
    "Actor.spawn, warm pool",
    "restart after trap → serving",
    "Effect Queue+Deferred round trip",
    "Actor.request (16 B, wasm)",
    "Actor.send (16 B, wasm)"
  ],
  lifecycle: [
    "raw: new Instance + call (16 B)",
    "jco as-is: instantiate + call",
    "Effect fiber: fork, Queue/Deferred request, interrupt",
    "full lifecycle: cached load → spawn → request → stop",
    "full lifecycle, warm pool"
  ],
  scaling: [
    "Instance.handleMessage (16 B), direct",
    "Actor.sendNow → 1 wasm actor (throughput)",
    "Actor.sendNow per message, 10 wasm actors",
    "Actor.sendNow per message, 100 wasm actors"
  ],
  isolation: [],
  messaging: [],
  linker: [],
  http: ["node fetch", "Http.fetch (host code)", "wasi:http guest fetch (componentize-js)", "componentize-js process, no request"],
  fuel: [],
  cluster: [
    "cluster request, effect/cluster entity, no wasm (16 B)",
    "cluster request, wasm entity (16 B)",
    "cluster requests, 64 in flight over 64 wasm entities, 1 runner (per message)",
    "cluster requests, 64 in flight over 64 wasm entities, 2 runners (per message)",
    "cluster requests, 64 in flight over 64 wasm entities, 3 runners (per message)",
    "hand-off: SIGTERM of a runner → its actors answer on the others",
    "failover: SIGKILL of a runner → its actors answer on the survivors"
  ]
}

const run = (args: ReadonlyArray<string>) =>
  Effect.callback<{ readonly stdout: string; readonly stderr: string }, Error>((resume) => {
    execFile(node, [path.join(root, "bench", "run.ts"), ...args], { cwd: root, maxBuffer: 64 * 2 ** 20 }, (error, stdout, stderr) =>
      resume(error === null ? Effect.succeed({ stdout, stderr }) : Effect.fail(new Error(`${error.message}\n${stderr}`))))
  })

describe("bench", () => {
  // Minutes under load: the cluster group alone starts four runner processes and waits out a shard-lock
  // expiry (~50 s of a smoke run at load average 15 on 2 cores).
  it.effect("run.ts --smoke - every suite runs and every expected row has a finite positive figure", () =>
    Effect.gen(function*() {
      const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "airssys-bench-")), "smoke.json")
      const { stdout } = yield* run(["--smoke", "--markdown", `--out=${out}`])
      const report = JSON.parse(fs.readFileSync(out, "utf8")) as {
        readonly machine: { readonly node: string; readonly cores: number; readonly cpu: string; readonly smoke: boolean }
        readonly rows: ReadonlyArray<Row>
      }
      const rows = report.rows
      assert.isTrue(report.machine.smoke)
      assert.match(report.machine.node, /^v\d+/)
      assert.isAbove(report.machine.cores, 0)

      for (const [suite, names] of Object.entries(expected)) {
        const ofSuite = rows.filter((row) => row.suite === suite)
        assert.isAbove(ofSuite.length, 0, `suite ${suite} produced no rows`)
        for (const name of names) assert.isDefined(ofSuite.find((row) => row.name === name), `${suite}: ${name} is missing`)
      }
      for (const row of rows) {
        assert.isTrue(Number.isFinite(row.nsPerOp) && row.nsPerOp > 0, `${row.suite}: ${row.name} = ${row.nsPerOp}`)
        const references = row.baseline === undefined ? 0 : typeof row.baseline === "string" ? 1 : row.baseline.length
        assert.strictEqual(ratios(rows, row).length, references, `${row.suite}: ${row.name} names a baseline that is not there`)
      }
      // Every target of the issues points at a row that exists, so docs/PERFORMANCE.md can be regenerated.
      for (const target of targets) {
        // A row over a toolchain-built guest is measured where the guest is built.
        if (target.guest !== undefined && !fs.existsSync(path.join(root, "build", "guests", `${target.guest}.wasm`))) continue
        assert.isDefined(rows.find((row) => `${row.suite}: ${row.name}` === target.row), `target row ${target.row} is missing`)
      }
      // The Extism peer is in the call-cost and instantiation comparisons.
      const ours = rows.find((row) => row.suite === "peer" && row.name === "Instance.process (16 B)")!
      assert.include(ratios(rows, ours).map(({ baseline }) => baseline.name), "Extism plugin.call (16 B echo)")
      // The Markdown that docs/PERFORMANCE.md is made of.
      assert.include(stdout, "| suite | row | per op | vs baseline (same run) | target | note |")
      assert.include(stdout, "| issue | target | measured (row) | measured / target | |")
      // …and the section of it that `--write-docs` replaces.
      const doc = fs.readFileSync(path.join(root, "docs", "PERFORMANCE.md"), "utf8")
      assert.isAtLeast(doc.indexOf(docsMarkers.begin), 0)
      assert.isAbove(doc.indexOf(docsMarkers.end), doc.indexOf(docsMarkers.begin))
    }), 300_000)
})
