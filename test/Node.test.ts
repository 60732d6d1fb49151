/**
 * `Node.CurrentNode`: where it is set, a supervisor's snapshot, an actor's metric series and every event
 * of an audit name the node; where it is not (the default), none of them changes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Metric } from "effect"
import { Actor, Audit, Component, Node, Supervisor } from "../src/index.ts"
import { TestClock } from "effect/testing"
import { guestBytes, text } from "./fixtures.ts"

const load = (name: string) => Component.fromBytes(guestBytes(name))

/** An audit whose events are kept, and whose lines are kept too (to verify the chain they make). */
const auditWithLines = Effect.gen(function*() {
  const lines: Array<string> = []
  const memory = Audit.memorySink({ capacity: 100 })
  const audit = yield* Audit.make([
    memory,
    { write: (_event, line) => void lines.push(line + "\n"), writeBatch: (_events, batch) => void lines.push(batch) }
  ])
  return { audit, events: memory.events, text: Effect.map(audit.flush, () => lines.join("")) }
})

describe("Node", () => {
  it.effect("unset by default: snapshots, series and events carry no node", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* Node.CurrentNode, undefined)
      const supervisor = yield* Supervisor.start({ id: "plain", children: [{ id: "idle", start: Effect.never }] })
      assert.isFalse("node" in (yield* supervisor.snapshot))
      const { audit, events } = yield* auditWithLines
      yield* audit.record({ kind: "lifecycle", component: "c", action: "started" })
      assert.isFalse("node" in (yield* events)[0]!)
      const actor = yield* Actor.spawn(yield* load("lifecycle"), { id: "unnamed-node" })
      yield* actor.request(text("tick"))
      const series = (yield* Metric.snapshot).filter((s) => s.id === Actor.metrics.handled.id && s.attributes?.["actor"] === "unnamed-node")
      assert.deepStrictEqual(series.map((s) => s.attributes), [{ actor: "unnamed-node" }])
    }).pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, new Map())))

  it.effect("set: a supervisor's snapshot (and a nested one's) names the node it started on", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor.start({
        id: "top",
        children: [
          { id: "inner", start: Supervisor.run({ id: "inner", children: [{ id: "idle", start: Effect.never }] }) }
        ]
      }).pipe(Effect.provideService(Node.CurrentNode, "10.0.0.7:4000"))
      const snapshot = yield* supervisor.snapshot
      assert.strictEqual(snapshot.node, "10.0.0.7:4000")
      assert.strictEqual(snapshot.children[0]!.supervisor?.node, "10.0.0.7:4000")
    }).pipe(Effect.scoped))

  it.effect("set: an actor's metric series carry `node` beside `actor`; the same id on another node is another series", () =>
    Effect.gen(function*() {
      const component = yield* load("lifecycle")
      const onA = yield* Actor.spawn(component, { id: "counter/1" }).pipe(Effect.provideService(Node.CurrentNode, "a:1"))
      const onB = yield* Actor.spawn(component, { id: "counter/1" }).pipe(Effect.provideService(Node.CurrentNode, "b:2"))
      yield* onA.request(text("tick"))
      yield* onA.request(text("tick"))
      yield* onB.request(text("tick"))
      const handled = (node: string) => Metric.value(Metric.withAttributes(Actor.metrics.handled, { actor: "counter/1", node }))
      assert.strictEqual((yield* handled("a:1")).count, 2)
      assert.strictEqual((yield* handled("b:2")).count, 1)
      const incarnations = (yield* Metric.snapshot).filter((s) => s.id === Actor.metrics.incarnations.id)
      assert.deepStrictEqual(
        incarnations.map((s) => s.attributes?.["node"]).sort(),
        ["a:1", "b:2"]
      )
    }).pipe(Effect.scoped, Effect.provideService(Metric.MetricRegistry, new Map())))

  it.effect("set: every event of an audit made there carries the node, and its chain verifies (the node is hashed)", () =>
    Effect.gen(function*() {
      const { audit, events, text: log } = yield* auditWithLines.pipe(Effect.provideService(Node.CurrentNode, "runner-7"))
      yield* audit.record({ kind: "capability", component: "c", capability: "FileRead", resource: "/etc", decision: "denied" })
      yield* audit.record({ kind: "lifecycle", component: "c", action: "restarted", value: 1, detail: "restart 1" })
      // Frozen entries are encoded once and reused (the Linker's per-resource entries): the node still follows.
      const frozen = Object.freeze({ kind: "capability", component: "c", capability: "Storage", resource: "k", decision: "granted" } as const)
      yield* audit.record(frozen)
      yield* audit.record(frozen)
      const recorded = yield* events
      assert.deepStrictEqual(recorded.map((event) => event.node), ["runner-7", "runner-7", "runner-7", "runner-7"])
      const lines = yield* log
      assert.strictEqual((yield* Audit.verify(lines)).events, 4)
      // Canonical JSON: `node` is the last field before `prev`.
      assert.include(lines.split("\n")[0]!, `"decision":"denied","node":"runner-7","prev"`)
      // Editing the node breaks the chain: it is part of what is hashed.
      const edited = yield* Effect.flip(Audit.verify(lines.replace(`"node":"runner-7"`, `"node":"runner-8"`)))
      assert.strictEqual(edited.reason, "Edited")
    }).pipe(Effect.scoped))

  it.effect("set through a layer: an Audit layer built on it stamps every event, a supervisor's audited restart included", () =>
    Effect.gen(function*() {
      let starts = 0
      const supervisor = yield* Supervisor.start({
        id: "restarts",
        backoff: Supervisor.exponentialBackoff({ base: 0 }),
        children: [{ id: "once", start: Effect.suspend(() => ++starts === 1 ? Effect.andThen(Effect.sleep("1 second"), Effect.fail("crash")) : Effect.never) }]
      })
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* supervisor.children)[0]!.ownRestarts, 1)
      const restarted = (yield* Audit.events).filter((event) => event.action === "restarted")
      assert.strictEqual(restarted.length, 1)
      assert.strictEqual(restarted[0]!.node, "eu-1")
    }).pipe(
      Effect.scoped,
      Effect.provide(Audit.layerMemory({ capacity: 100 }).pipe(Layer.provide(Node.layer("eu-1"))))
    ))
})
