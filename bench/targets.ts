/**
 * The performance targets of issues 2–7, each tied to the bench row that measures it, and how the row's
 * figure is held against it. `node bench/run.ts --markdown` prints them as a table with met / not met.
 */
import { findRow, formatNs, type Row } from "./harness.ts"

export interface Target {
  readonly issue: number
  /** The target as the issue words it. */
  readonly text: string
  /** The row that measures it: `"suite: name"`. */
  readonly row: string
  /** The limit in ns per op, from the row (its `targetNs`) unless given here. */
  readonly limitNs?: (row: Row, rows: ReadonlyArray<Row>) => number | undefined
  /** How the measured figure is shown (default: the row's time per op). */
  readonly show?: (row: Row, rows: ReadonlyArray<Row>) => string
}

const perSecond = (ns: number): string =>
  1e9 / ns >= 1e6 ? `${(1e9 / ns / 1e6).toFixed(2)} M msg/s` : `${(1e9 / ns / 1e3).toFixed(0)} k msg/s`

const ref = (rows: ReadonlyArray<Row>, from: Row, reference: string): Row | undefined => findRow(rows, from, reference)

export const targets: ReadonlyArray<Target> = [
  { issue: 2, text: "16 B `process` through `Instance` ≤ 2 µs", row: "engine: Instance.process (16 B)" },
  { issue: 2, text: "instantiate from a cached Component ≤ 100 µs", row: "engine: Component.instantiate (cached)" },
  { issue: 3, text: "spawn (instance of a cached component + actor ready) ≤ 50 µs", row: "actor: Actor.spawn, warm pool" },
  { issue: 3, text: "restart after a trap until serving again ≤ 100 µs", row: "actor: restart after trap → serving" },
  { issue: 3, text: "request-response through an actor, real wasm call (16 B) ≤ 3 µs", row: "actor: Actor.request (16 B, wasm)" },
  {
    issue: 4,
    text: "host routing with 1000 actors ≥ 3 M msg/s",
    row: "messaging: Router.send host → 1000 actors",
    show: (row) => perSecond(row.nsPerOp)
  },
  {
    issue: 4,
    text: "fire-and-forget into one wasm actor, handled in wasm ≥ 1 M msg/s",
    row: "scaling: Actor.send → 1 wasm actor (throughput)",
    show: (row) => perSecond(row.nsPerOp)
  },
  {
    issue: 4,
    text: "… the same through the router",
    row: "messaging: Router.send → wasm actor (16 B)",
    show: (row) => perSecond(row.nsPerOp)
  },
  { issue: 4, text: "registry lookup ≤ 50 ns", row: "messaging: Registry.lookupUnsafe (1000 actors)" },
  {
    issue: 4,
    text: "per-message cost flat from 10 to 10,000 actors (ratio ≤ 1.2), host routing",
    row: "messaging: Router.send per message, 10,000 actors",
    show: (row, rows) => {
      const base = ref(rows, row, "Router.send per message, 10 actors")
      return base === undefined ? formatNs(row.nsPerOp) : `${(row.nsPerOp / base.nsPerOp).toFixed(2)}x the 10-actor cost`
    }
  },
  {
    issue: 5,
    text: "capability check + audit per host call ≤ 200 ns over the bare call",
    row: "linker: linked, memory Audit",
    show: (row, rows) => {
      const base = ref(rows, row, "bare: memory storage get")
      return base === undefined ? formatNs(row.nsPerOp) : `+${formatNs(row.nsPerOp - base.nsPerOp)} over the bare call`
    }
  },
  {
    issue: 6,
    text: "fuel overhead on a hot loop ≤ 10% (tightest loop)",
    row: "fuel: sum 1..n (i64 add): metered",
    show: (row, rows) => {
      const base = ref(rows, row, "sum 1..n (i64 add): raw")
      return base === undefined ? formatNs(row.nsPerOp) : `+${((row.nsPerOp / base.nsPerOp - 1) * 100).toFixed(1)}%`
    }
  }
]

export interface Verdict {
  readonly target: Target
  readonly row: Row | undefined
  readonly measured: string
  /** Measured / limit: ≤ 1 is met. */
  readonly ratio: number | undefined
  readonly met: boolean | undefined
}

export const verdicts = (rows: ReadonlyArray<Row>): ReadonlyArray<Verdict> =>
  targets.map((target) => {
    const row = rows.find((r) => `${r.suite}: ${r.name}` === target.row)
    if (row === undefined) return { target, row, measured: "not measured", ratio: undefined, met: undefined }
    const limit = target.limitNs?.(row, rows) ?? row.targetNs
    const measured = target.show?.(row, rows) ?? formatNs(row.nsPerOp)
    if (limit === undefined) return { target, row, measured, ratio: undefined, met: undefined }
    const ratio = row.nsPerOp / limit
    return { target, row, measured, ratio, met: ratio <= 1 }
  })

export const markdownTargets = (rows: ReadonlyArray<Row>): string =>
  [
    "| issue | target | measured (row) | measured / target | |",
    "| --- | --- | --- | --- | --- |",
    ...verdicts(rows).map(({ measured, met, ratio, target }) =>
      `| ${target.issue} | ${target.text} | ${measured} (\`${target.row}\`) | ${ratio === undefined ? "—" : `${ratio.toFixed(2)}x`} | ${
        met === undefined ? "—" : met ? "met" : "**not met**"
      } |`
    )
  ].join("\n")
