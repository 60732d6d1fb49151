/**
 * Runs the benchmark suites and prints one table, each row beside its same-run baseline.
 *
 * Usage: npm run bench [-- --smoke]   (results also go to bench/results/latest.json)
 */
import * as os from "node:os"
import * as path from "node:path"
import { engine, writeJson } from "./engine.ts"
import { printTable, type Row } from "./harness.ts"

const smoke = process.argv.includes("--smoke")
const rows: Array<Row> = []
rows.push(...await engine({ smoke }))

console.log(`airssys-wasm bench — node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"} x${os.cpus().length}${smoke ? " (smoke: numbers mean nothing)" : ""}`)
printTable(rows)
writeJson(path.resolve(import.meta.dirname, "results", smoke ? "smoke.json" : "latest.json"), rows)
