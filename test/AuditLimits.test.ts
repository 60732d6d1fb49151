/**
 * Limit kills (fuel, timeout, memory), traps that poison an instance, and supervisor restarts are
 * audit events: an operator reading the log after an incident finds what stopped which component, by
 * which limit, at what value.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Layer, Schedule } from "effect"
import { TestClock } from "effect/testing"
import * as Actor from "../src/Actor.ts"
import * as Audit from "../src/Audit.ts"
import * as Logging from "../src/capability/Logging.ts"
import * as Messaging from "../src/capability/Messaging.ts"
import * as Storage from "../src/capability/Storage.ts"
import * as Capability from "../src/Capability.ts"
import * as Component from "../src/Component.ts"
import * as DeadLetters from "../src/DeadLetters.ts"
import * as Linker from "../src/Linker.ts"
import * as Registry from "../src/Registry.ts"
import * as Router from "../src/Router.ts"
import * as Supervisor from "../src/Supervisor.ts"
import { guestPath, program, text } from "./fixtures.ts"

const host = Linker.layer([Logging.hostInterface, Messaging.hostInterface, Storage.hostInterface]).pipe(
  Layer.provideMerge(Layer.mergeAll(Logging.layerMemory, Messaging.layer, Storage.layerMemory())),
  Layer.provideMerge(Router.Router.layer),
  Layer.provideMerge(Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 1000 })))
)

const grants = Capability.makeGrants([new Capability.Storage({ namespace: "ns" }), new Capability.Messaging({ pattern: "*" })])

/** The lifecycle events recorded so far (after letting forked records run). */
const lifecycle = Effect.gen(function*() {
  yield* Effect.yieldNow
  yield* Effect.yieldNow
  const events = yield* Audit.events
  return events.filter((event) => event.kind === "lifecycle")
})

describe("audit - limit kills, poisoning traps and restarts", () => {
  it.effect("fuel - a limit-exceeded event with the component id, the limit and its value", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("loop"), { limits: { fuel: 100_000 } })
      const instance = yield* Linker.instantiate(component, { id: "looper", grants })
      const error = yield* Effect.flip(instance.process(text("x")))
      assert.strictEqual(error._tag, "LimitExceeded")
      // A later call is refused (poisoned) and records nothing more.
      yield* Effect.flip(instance.process(text("x")))
      const events = yield* lifecycle
      assert.deepStrictEqual(events.map((e) => [e.component, e.action, e.limit, e.value]), [["looper", "limit-exceeded", "fuel", 100_000]])
      assert.include(events[0]!.detail, "process")
    }).pipe(Effect.provide(host)))

  it.effect("fuel, worker-isolated - the same limit-exceeded event from an instance in a worker", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("loop"), { limits: { fuel: 100_000, isolation: "worker" } })
      const instance = yield* Linker.instantiate(component, { id: "isolated-looper", grants })
      const error = yield* Effect.flip(instance.process(text("x")))
      assert.strictEqual(error._tag, "LimitExceeded")
      yield* Effect.flip(instance.process(text("x")))
      const events = yield* lifecycle
      assert.deepStrictEqual(events.map((e) => [e.component, e.action, e.limit, e.value]), [["isolated-looper", "limit-exceeded", "fuel", 100_000]])
    }).pipe(Effect.provide(host)), { timeout: 60_000 })

  it.effect("memory - a limit-exceeded event with the memory cap", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("spinner"), { limits: { memoryBytes: 2 * 1024 * 1024 } })
      const instance = yield* Linker.instantiate(component, { id: "grower", grants })
      yield* Effect.flip(instance.handleMessage({ sender: "t", payload: text("grow") }))
      const events = yield* lifecycle
      assert.deepStrictEqual(events.map((e) => [e.component, e.action, e.limit, e.value]), [["grower", "limit-exceeded", "memory", 2 * 1024 * 1024]])
    }).pipe(Effect.provide(host)))

  it.effect("timeout - a limit-exceeded event with the timeout in ms", () =>
    Effect.gen(function*() {
      const base = yield* Clock.Clock
      let now = 0
      const ticking: Clock.Clock = { ...base, currentTimeMillisUnsafe: () => ++now }
      yield* Effect.gen(function*() {
        const component = yield* Component.fromFile(guestPath("liar-linked"), { limits: { timeout: Duration.millis(200) } })
        const instance = yield* Linker.instantiate(component, { id: "chatty", grants })
        const error = yield* Effect.flip(instance.handleMessage({ sender: "t", payload: program("x", 100_000, 0, text("hi")) }))
        assert.strictEqual(error._tag, "LimitExceeded")
      }).pipe(Effect.provideService(Clock.Clock, ticking))
      const events = yield* lifecycle
      assert.deepStrictEqual(events.map((e) => [e.component, e.action, e.limit, e.value]), [["chatty", "limit-exceeded", "timeout", 200]])
    }).pipe(Effect.provide(host)))

  it.effect("trap - a trapped event with the trap's message", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("liar"))
      const instance = yield* Linker.instantiate(component, { id: "liar", grants })
      yield* Effect.flip(instance.handleMessage({ sender: "t", payload: program("o", 0xffff_fff0, 64) }))
      const events = yield* lifecycle
      assert.deepStrictEqual(events.map((e) => [e.component, e.action]), [["liar", "trapped"]])
      assert.include(events[0]!.detail, "outside linear memory")
    }).pipe(Effect.provide(host)))

  it.effect("restart - a supervised actor killed by its fuel: limit-exceeded, then restarted (value: the restart count)", () => {
    const store = DeadLetters.makeStore()
    return Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("spinner"), { limits: { fuel: 1_000_000 } })
      const actor = yield* Actor.make(component, { id: "spinner", imports: yield* Linker.imports(component, { id: "spinner", grants }) })
      yield* Supervisor.start({ id: "limits", backoff: Schedule.spaced("10 millis"), children: [Actor.child(actor)] })
      yield* TestClock.adjust("10 millis")
      yield* Effect.flip(actor.request(text("loop")))
      yield* TestClock.adjust("10 millis")
      yield* TestClock.adjust("10 millis")
      const events = yield* lifecycle
      assert.deepStrictEqual(
        events.map((e) => [e.component, e.action, e.limit, e.value]),
        [["spinner", "limit-exceeded", "fuel", 1_000_000], ["spinner", "restarted", undefined, 1]]
      )
      // The new fields are part of the hash chain: the events re-verify.
      const all = yield* Audit.events
      const verified = yield* Audit.verify(all.map((event) => JSON.stringify(event)).join("\n") + "\n")
      assert.strictEqual(verified.events, all.length)
    }).pipe(Effect.provide(host), Effect.provideService(DeadLetters.DeadLetters, store))
  })
})
