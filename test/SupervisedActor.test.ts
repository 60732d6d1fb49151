import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Schedule } from "effect"
import { TestClock } from "effect/testing"
import { Actor, Component, DeadLetters, Supervisor } from "../src/index.ts"
import { decode, guestPath, logRecorder, text } from "./fixtures.ts"

const load = (name: string) => Component.fromFile(guestPath(name))


/** Lets supervision and backoff sleeps run: advance the TestClock in small steps. */
const settle = (steps = 50, step = "10 millis" as const) =>
  Effect.gen(function*() {
    for (let i = 0; i < steps; i++) yield* TestClock.adjust(step)
  })

describe("supervised actors (real trapping guests)", () => {
  it.effect("100 messages, every 10th traps: 90 handled in order, 10 dead letters, 0 lost", () => {
    const store = DeadLetters.makeStore()
    return Effect.gen(function*() {
      const host = logRecorder()
      const component = yield* load("flaky")
      const actor = yield* Actor.make(component, { id: "flaky", imports: host.imports })
      const payloads = Array.from({ length: 100 }, (_, i) => (i + 1) % 10 === 0 ? `trap-${i + 1}` : `m${i + 1}`)
      for (const payload of payloads) yield* actor.send(text(payload))
      const supervisor = yield* Supervisor.start({
        id: "root",
        intensity: { maxRestarts: 20, period: "1 minute" },
        backoff: Schedule.spaced("10 millis"),
        children: [Actor.child(actor)]
      })
      yield* settle(30)
      assert.deepStrictEqual(host.logged, payloads.filter((p) => !p.startsWith("trap")))
      const letters = yield* store.letters
      assert.deepStrictEqual(letters.map((l) => decode(l.message.payload)), payloads.filter((p) => p.startsWith("trap")))
      assert.isTrue(letters.every((l) => l.reason === "Trapped" && l.target === "flaky"))
      const stats = yield* actor.stats
      assert.strictEqual(stats.handled, 90)
      assert.strictEqual(stats.traps, 10)
      assert.strictEqual(stats.mailboxDepth, 0)
      assert.strictEqual(stats.incarnations, 11)
      const [child] = yield* supervisor.children
      assert.strictEqual(child!.ownRestarts, 10)
      // Still serving after all that.
      assert.strictEqual(decode((yield* actor.request(text("alive")))!), "alive")
    }).pipe(Effect.provideService(DeadLetters.DeadLetters, store))
  })

  const strategyCase = (strategy: Supervisor.Strategy, expected: [number, number, number]) =>
    it.effect(`${strategy} - which actors get a new instance when the middle one traps`, () =>
      Effect.gen(function*() {
        const component = yield* load("flaky")
        const actors = yield* Effect.forEach(["a", "b", "c"], (id) => Actor.make(component, { id, imports: logRecorder().imports }))
        yield* Supervisor.start({
          id: strategy,
          strategy,
          backoff: Schedule.spaced("10 millis"),
          children: actors.map((actor) => Actor.child(actor))
        })
        yield* settle(5)
        yield* Effect.flip(actors[1]!.request(text("trap")))
        yield* settle(10)
        const incarnations = yield* Effect.forEach(actors, (actor) => Effect.map(actor.stats, (s) => s.incarnations))
        assert.deepStrictEqual(incarnations, expected)
        for (const actor of actors) assert.strictEqual(decode((yield* actor.request(text("ok")))!), "ok")
      }))
  strategyCase("OneForOne", [1, 2, 1])
  strategyCase("OneForAll", [2, 2, 2])
  strategyCase("RestForOne", [1, 2, 2])

  it.effect("intensity exceeded by a guest that keeps trapping: the supervisor escalates", () =>
    Effect.gen(function*() {
      const component = yield* load("flaky")
      const actor = yield* Actor.make(component, { id: "crashy", imports: logRecorder().imports })
      for (let i = 0; i < 5; i++) yield* actor.send(text(`trap-${i}`))
      const supervisor = yield* Supervisor.start({
        id: "strict",
        intensity: { maxRestarts: 2, period: "1 minute" },
        backoff: Schedule.spaced("10 millis"),
        children: [Actor.child(actor)]
      })
      const escalation = yield* Effect.forkChild(Effect.exit(supervisor.await), { startImmediately: true })
      yield* settle(10)
      const exit = yield* Fiber.join(escalation)
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(supervisor.await)
      assert.strictEqual(error._tag, "SupervisorEscalation")
      assert.strictEqual(error.child, "crashy")
    }))

  it.effect("snapshot - the live tree as plain data, with mailbox depth and restart counts", () =>
    Effect.gen(function*() {
      const component = yield* load("flaky")
      const worker = yield* Actor.make(component, { id: "worker", imports: logRecorder().imports })
      const idle = yield* Actor.make(component, { id: "idle", imports: logRecorder().imports })
      const supervisor = yield* Supervisor.start({
        id: "root",
        backoff: Schedule.spaced("10 millis"),
        children: [
          Actor.child(worker),
          {
            id: "inner",
            start: Supervisor.run({ id: "inner", children: [Actor.child(idle)] })
          }
        ]
      })
      yield* settle(5)
      yield* Effect.flip(worker.request(text("trap")))
      yield* settle(5)
      const snapshot = yield* supervisor.snapshot
      const roundTrip = JSON.parse(JSON.stringify(snapshot))
      assert.deepStrictEqual(roundTrip, snapshot)
      const workerChild = snapshot.children[0]!
      assert.strictEqual(workerChild.id, "worker")
      assert.strictEqual(workerChild.ownRestarts, 1)
      assert.strictEqual(workerChild.details?.status, "Running")
      assert.strictEqual(workerChild.details?.mailboxDepth, 0)
      assert.strictEqual(workerChild.details?.traps, 1)
      assert.strictEqual(snapshot.children[1]!.supervisor?.children[0]?.details?.id, "idle")
    }))
})
