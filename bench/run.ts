/**
 * Runs the benchmark suites and prints one table, each row beside its same-run baseline.
 *
 * Usage: npm run bench [-- --smoke] [suite ...]   (results also go to bench/results/latest.json)
 */
import * as os from "node:os"
import * as path from "node:path"
import { actor } from "./actor.ts"
import { engine, writeJson } from "./engine.ts"
import { isolation } from "./isolation.ts"
import { linker } from "./linker.ts"
import { messaging } from "./messaging.ts"
import { printTable, type Row } from "./harness.ts"

const smoke = process.argv.includes("--smoke")
const rows: Array<Row> = []
const suites = { engine, actor, isolation, messaging, linker }
const only = process.argv.slice(2).filter((arg) => !arg.startsWith("--"))
for (const [name, suite] of Object.entries(suites)) {
  if (only.length === 0 || only.includes(name)) rows.push(...await suite({ smoke }))
}

console.log(`airssys-wasm bench — node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"} x${os.cpus().length}${smoke ? " (smoke: numbers mean nothing)" : ""}`)
printTable(rows)
writeJson(path.resolve(import.meta.dirname, "results", smoke ? "smoke.json" : "latest.json"), rows)
