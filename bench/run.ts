/**
 * Runs the benchmark suites and prints one table, each row beside its same-run baselines, then the
 * targets of the issues with met / not met. Results also go to bench/results/latest.json (smoke.json
 * with `--smoke`), with the machine they were measured on.
 *
 * Usage: node bench/run.ts [--smoke] [--markdown] [--write-docs] [--out=FILE] [suite ...]
 *   --smoke       tiny iteration counts: proves every row runs; the numbers mean nothing
 *   --markdown    print the tables as Markdown (what docs/PERFORMANCE.md holds)
 *   --write-docs  replace the generated part of docs/PERFORMANCE.md with this run's tables
 *   --out=FILE    write the JSON there instead of bench/results/
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { actor } from "./actor.ts"
import { cluster } from "./cluster.ts"
import { engine } from "./engine.ts"
import { httpSuite } from "./http.ts"
import { describeMachine, machine, markdownTable, type Options, type Row, textTable, writeJson } from "./harness.ts"
import { isolation } from "./isolation.ts"
import { lifecycle } from "./lifecycle.ts"
import { linker } from "./linker.ts"
import { load } from "./load.ts"
import { mailbox } from "./mailbox.ts"
import { messaging } from "./messaging.ts"
import { observer } from "./observer.ts"
import { peer } from "./peer.ts"
import { scaling } from "./scaling.ts"
import { storage } from "./storage.ts"
import { docsMarkers, markdownTargets, verdicts } from "./targets.ts"

/**
 * bench/fuel.ts measures when imported (top level), so it runs in a child process of its own, which also
 * keeps its hot loops away from this process's heap. Its rows are per 1,000 loop iterations; the target
 * (≤ 10% overhead) is added here.
 */
const fuel = (options: Options): ReadonlyArray<Row> => {
  const script = `const { fuelRows } = await import(${JSON.stringify(path.join(import.meta.dirname, "fuel.ts"))});` +
    `console.log("FUEL-ROWS " + JSON.stringify(fuelRows()))`
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", script, "--", ...(options.smoke ? ["--smoke"] : [])], {
    encoding: "utf8",
    maxBuffer: 16 * 2 ** 20
  })
  const line = child.stdout.split("\n").find((l) => l.startsWith("FUEL-ROWS "))
  if (child.status !== 0 || line === undefined) throw new Error(`bench/fuel.ts failed:\n${child.stderr}`)
  const rows = JSON.parse(line.slice("FUEL-ROWS ".length)) as ReadonlyArray<Row>
  return rows.map((row) => {
    const raw = typeof row.baseline === "string" ? rows.find((r) => r.name === row.baseline) : undefined
    return {
      ...row,
      ...(raw === undefined ? {} : { targetNs: raw.nsPerOp * 1.1 }),
      note: `per 1,000 loop iterations${row.note === undefined ? "" : `; ${row.note}`}`
    }
  })
}

export const suites: Readonly<Record<string, (options: Options) => ReadonlyArray<Row> | Promise<ReadonlyArray<Row>>>> = {
  engine,
  peer,
  load,
  actor,
  mailbox,
  lifecycle,
  scaling,
  isolation,
  messaging,
  linker,
  http: httpSuite,
  fuel,
  observer,
  cluster,
  storage
}

const args = process.argv.slice(2)
const smoke = args.includes("--smoke")
const markdown = args.includes("--markdown")
const only = args.filter((arg) => !arg.startsWith("--"))
const unknown = only.filter((name) => !(name in suites))
if (unknown.length > 0) throw new Error(`unknown suite(s): ${unknown.join(", ")}; known: ${Object.keys(suites).join(", ")}`)

const info = { ...machine(), smoke }
const rows: Array<Row> = []
for (const [name, suite] of Object.entries(suites)) {
  if (only.length > 0 && !only.includes(name)) continue
  const started = performance.now()
  rows.push(...await suite({ smoke }))
  console.error(`${name}: ${((performance.now() - started) / 1000).toFixed(1)} s`)
}

const title = `airssys-wasm bench — ${describeMachine(info)}${smoke ? " (smoke: the numbers mean nothing)" : ""}`
if (markdown) {
  console.log(`${title}\n\n${markdownTable(rows)}\n\n${markdownTargets(rows)}`)
} else {
  console.log(`${title}\n\n${textTable(rows)}\n`)
  for (const { measured, met, target } of verdicts(rows)) {
    const verdict = met === undefined ? "—" : met ? "met" : "NOT met"
    console.log(`issue ${target.issue}: ${target.text}: ${measured} — ${verdict}`)
  }
}
const out = args.find((arg) => arg.startsWith("--out="))?.slice("--out=".length)
writeJson(out ?? path.resolve(import.meta.dirname, "results", smoke ? "smoke.json" : "latest.json"), rows, info)

if (args.includes("--write-docs")) {
  const doc = path.resolve(import.meta.dirname, "..", "docs", "PERFORMANCE.md")
  const { begin, end } = docsMarkers
  const text = fs.readFileSync(doc, "utf8")
  const from = text.indexOf(begin)
  const to = text.indexOf(end)
  if (from < 0 || to < from) throw new Error(`${doc} has no ${begin} … ${end} section`)
  const generated = [
    `Measured ${info.date.slice(0, 16).replace("T", " ")} UTC on ${describeMachine(info)}.`,
    smoke ? "**Smoke run: these numbers mean nothing.**" : "",
    "### Targets from the issues",
    markdownTargets(rows),
    "### Every row",
    markdownTable(rows)
  ].filter((part) => part !== "").join("\n\n")
  fs.writeFileSync(doc, `${text.slice(0, from + begin.length)}\n\n${generated}\n\n${text.slice(to)}`)
  console.error(`wrote ${doc}`)
}
