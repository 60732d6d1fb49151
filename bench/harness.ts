/**
 * A small benchmark harness: every row is measured in rounds, reported as the median time per operation,
 * and printed beside the baseline it is compared with, measured in the same run.
 */
export interface Row {
  readonly suite: string
  readonly name: string
  /** Median nanoseconds per operation. */
  readonly nsPerOp: number
  /** The row of the same suite this one is compared with. */
  readonly baseline?: string
  /** A target from the issues, in ns per op, when there is one. */
  readonly targetNs?: number
  readonly note?: string
}

export interface Options {
  /** Tiny iteration counts: proves every row still runs, measures nothing. */
  readonly smoke: boolean
}

const median = (values: ReadonlyArray<number>): number => {
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

const formatNs = (ns: number): string =>
  ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(0)} ns`

export const printTable = (rows: ReadonlyArray<Row>): void => {
  const lines: Array<Array<string>> = [["suite", "row", "per op", "vs baseline", "target", ""]]
  for (const row of rows) {
    const base = row.baseline === undefined
      ? undefined
      : rows.find((r) => r.suite === row.suite && r.name === row.baseline)
    const ratio = base === undefined ? "" : `${(row.nsPerOp / base.nsPerOp).toFixed(2)}x ${base.name}`
    const target = row.targetNs === undefined
      ? ""
      : `≤ ${formatNs(row.targetNs)} ${row.nsPerOp <= row.targetNs ? "met" : "NOT met"}`
    lines.push([row.suite, row.name, formatNs(row.nsPerOp), ratio, target, row.note ?? ""])
  }
  const widths = lines[0]!.map((_, col) => Math.max(...lines.map((line) => line[col]!.length)))
  for (const [i, line] of lines.entries()) {
    console.log(line.map((cell, col) => cell.padEnd(widths[col]!)).join("  ").trimEnd())
    if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "))
  }
}
