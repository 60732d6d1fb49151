/**
 * A small benchmark harness: every row is measured in rounds, reported as the median time per operation,
 * and printed beside the baselines it is compared with, measured in the same run.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as v8 from "node:v8"
import * as vm from "node:vm"

export interface Row {
  readonly suite: string
  readonly name: string
  /** Median nanoseconds per operation. */
  readonly nsPerOp: number
  /**
   * The rows this one is compared with: a name of the same suite, or `"suite: name"` for a row of another
   * suite (skipped when that suite did not run). The first is the main baseline.
   */
  readonly baseline?: string | ReadonlyArray<string>
  /** A target from the issues, in ns per op, when there is one. */
  readonly targetNs?: number
  readonly note?: string
}

export interface Options {
  /** Tiny iteration counts: proves every row still runs, measures nothing. */
  readonly smoke: boolean
}

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

/** Times `iterations` synchronous calls of `op`, `rounds` times after one warm-up round. */
export const measureSync = (options: Options, iterations: number, op: (i: number) => void, rounds = 7): number => {
  const n = options.smoke ? Math.min(iterations, 20) : iterations
  const times: Array<number> = []
  for (let round = 0; round <= (options.smoke ? 1 : rounds); round++) {
    const started = process.hrtime.bigint()
    for (let i = 0; i < n; i++) op(i)
    const elapsed = Number(process.hrtime.bigint() - started) / n
    if (round > 0) times.push(elapsed)
  }
  return median(times)
}

/** Times a whole batch of `iterations` operations done by `batch`, which may be asynchronous. */
export const measureBatch = async (
  options: Options,
  iterations: number,
  batch: (n: number) => unknown,
  rounds = 7,
  /** Untimed preparation before each round (e.g. filling a pool for `n` operations). */
  setup?: (n: number) => unknown
): Promise<number> => {
  const n = options.smoke ? Math.min(iterations, 20) : iterations
  const times: Array<number> = []
  for (let round = 0; round <= (options.smoke ? 1 : rounds); round++) {
    await setup?.(n)
    const started = process.hrtime.bigint()
    await batch(n)
    const elapsed = Number(process.hrtime.bigint() - started) / n
    if (round > 0) times.push(elapsed)
  }
  return median(times)
}

/** A full garbage collection, for RSS readings (exposed at run time: no `--expose-gc` needed). */
export const collectGarbage: () => void = (() => {
  if (typeof globalThis.gc === "function") return globalThis.gc
  v8.setFlagsFromString("--expose-gc")
  return vm.runInNewContext("gc") as () => void
})()

export const rssMiB = (): number => process.memoryUsage().rss / 2 ** 20

export const formatNs = (ns: number): string =>
  ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(0)} ns`

const formatRatio = (ratio: number): string =>
  `${ratio >= 10 ? ratio.toFixed(0) : ratio >= 0.1 ? ratio.toFixed(2) : ratio.toPrecision(2)}x`

const baselineNames = (row: Row): ReadonlyArray<string> =>
  row.baseline === undefined ? [] : typeof row.baseline === "string" ? [row.baseline] : row.baseline

/** Finds a row by `name` (same suite as `from`) or `"suite: name"`. */
export const findRow = (rows: ReadonlyArray<Row>, from: Row, reference: string): Row | undefined =>
  rows.find((r) => r.suite === from.suite && r.name === reference) ??
    rows.find((r) => `${r.suite}: ${r.name}` === reference)

/** Each baseline of `row` present in `rows`, with the ratio row / baseline. */
export const ratios = (rows: ReadonlyArray<Row>, row: Row): ReadonlyArray<{ readonly baseline: Row; readonly ratio: number }> =>
  baselineNames(row).flatMap((reference) => {
    const baseline = findRow(rows, row, reference)
    return baseline === undefined ? [] : [{ baseline, ratio: row.nsPerOp / baseline.nsPerOp }]
  })

const targetCell = (row: Row): string =>
  row.targetNs === undefined ? "" : `≤ ${formatNs(row.targetNs)} ${row.nsPerOp <= row.targetNs ? "met" : "NOT met"}`

const cells = (rows: ReadonlyArray<Row>, row: Row, markdown: boolean): Array<string> => {
  const vs = ratios(rows, row)
    .map(({ baseline, ratio }) => `${formatRatio(ratio)} ${baseline.suite === row.suite ? baseline.name : `${baseline.suite}: ${baseline.name}`}`)
    .join("; ")
  const escape = (cell: string) => (markdown ? cell.replaceAll("|", "\\|") : cell)
  return [row.suite, row.name, formatNs(row.nsPerOp), vs, targetCell(row), row.note ?? ""].map(escape)
}

const header = ["suite", "row", "per op", "vs baseline (same run)", "target", "note"]

/** The table as aligned text. */
export const textTable = (rows: ReadonlyArray<Row>): string => {
  const lines = [header, ...rows.map((row) => cells(rows, row, false))]
  const widths = header.map((_, col) => Math.max(...lines.map((line) => line[col]!.length)))
  const out: Array<string> = []
  for (const [i, line] of lines.entries()) {
    out.push(line.map((cell, col) => cell.padEnd(widths[col]!)).join("  ").trimEnd())
    if (i === 0) out.push(widths.map((w) => "-".repeat(w)).join("  "))
  }
  return out.join("\n")
}

/** The table as GitHub Markdown. */
export const markdownTable = (rows: ReadonlyArray<Row>): string =>
  [header, header.map(() => "---"), ...rows.map((row) => cells(rows, row, true))]
    .map((line) => `| ${line.join(" | ")} |`)
    .join("\n")

export const printTable = (rows: ReadonlyArray<Row>): void => console.log(textTable(rows))

/** What the numbers were measured on. */
export interface Machine {
  readonly node: string
  readonly v8: string
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly platform: string
  readonly loadAverage: ReadonlyArray<number>
  readonly date: string
}

export const machine = (): Machine => ({
  node: process.version,
  v8: process.versions.v8,
  cpu: os.cpus()[0]?.model.trim() ?? "unknown",
  cores: os.availableParallelism(),
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  platform: `${os.type()} ${os.release()} ${os.arch()}`,
  loadAverage: os.loadavg().map((n) => Math.round(n * 100) / 100),
  date: new Date().toISOString()
})

export const describeMachine = (m: Machine): string =>
  `node ${m.node} (V8 ${m.v8}), ${m.cpu} x${m.cores}, ${m.memoryGiB} GiB, ${m.platform}, load average ${m.loadAverage.join(" ")} at start`

/** Rows, their ratios and the machine, as JSON. */
export const writeJson = (file: string, rows: ReadonlyArray<Row>, info: Machine & { readonly smoke: boolean }): void => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const withRatios = rows.map((row) => ({
    ...row,
    ratios: Object.fromEntries(ratios(rows, row).map(({ baseline, ratio }) => [`${baseline.suite}: ${baseline.name}`, ratio]))
  }))
  fs.writeFileSync(file, JSON.stringify({ machine: info, rows: withRatios }, null, 2))
}
