import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Metric, Tracer } from "effect"
import { TestClock } from "effect/testing"
import { Actor, Component, DeadLetters } from "../src/index.ts"
import { decode, guestPath, logRecorder, spanRecorder, text } from "./fixtures.ts"

const load = (name: string) => Component.fromFile(guestPath(name))


/** A private dead-letter store for one test. */
const withDeadLetters = <A, E, R>(f: (store: DeadLetters.Store) => Effect.Effect<A, E, R>) => {
  const store = DeadLetters.makeStore()
  return f(store).pipe(Effect.provideService(DeadLetters.DeadLetters, store))
}

describe("Actor", () => {
  it.effect("request - an idle actor replies through a real wasm call", () =>
    Effect.gen(function*() {
      const host = logRecorder()
      const actor = yield* Actor.spawn(yield* load("flaky"), { id: "flaky-1", imports: host.imports })
      assert.strictEqual(actor.status, "Running")
      const reply = yield* actor.request(text("hello"))
      assert.strictEqual(decode(reply!), "hello")
      assert.deepStrictEqual(host.logged, ["hello"])
    }))

  it.effect("start - an incarnation that cannot link is a StartFailed crash, and the actor says Crashed", () =>
    Effect.gen(function*() {
      // flaky imports logging; nothing provides it.
      const actor = yield* Actor.make(yield* load("flaky"), { id: "unlinked" })
      const error = yield* Effect.flip(actor.run)
      assert.strictEqual(error.reason, "StartFailed")
      assert.include(error.message, "airssys:component/logging")
      assert.strictEqual(actor.status, "Crashed")
    }))

  it.effect("send - messages are handled one at a time, in order", () =>
    Effect.gen(function*() {
      const host = logRecorder()
      const actor = yield* Actor.spawn(yield* load("flaky"), { id: "flaky-order", imports: host.imports })
      for (let i = 0; i < 50; i++) yield* actor.send(text(`m${i}`))
      const last = yield* actor.request(text("last"))
      assert.strictEqual(decode(last!), "last")
      assert.deepStrictEqual(host.logged, [...Array.from({ length: 50 }, (_, i) => `m${i}`), "last"])
      assert.strictEqual((yield* actor.stats).handled, 51)
    }))

  it.effect("crash - the poisoned message goes to dead letters, the requester gets the Trap, the rest wait", () =>
    withDeadLetters((store) =>
      Effect.gen(function*() {
        const host = logRecorder()
        const actor = yield* Actor.make(yield* load("flaky"), { id: "flaky-crash", imports: host.imports })
        // Queue before anything runs: a request that traps, then two more messages.
        const trapped = yield* Effect.forkChild(actor.request(text("trap!")), { startImmediately: true })
        yield* actor.send(text("after-1"))
        yield* actor.send(text("after-2"))
        const first = yield* Effect.flip(Effect.scoped(actor.run))
        assert.strictEqual(first._tag, "ActorCrashed")
        assert.strictEqual(first.reason, "Trap")
        const error = yield* Effect.flip(Fiber.join(trapped))
        assert.strictEqual(error._tag, "Trap")
        assert.strictEqual(actor.status, "Crashed")
        assert.strictEqual((yield* actor.stats).mailboxDepth, 2)
        const letters = yield* store.letters
        assert.deepStrictEqual(letters.map((l) => [l.target, decode(l.message.payload), l.reason]), [["flaky-crash", "trap!", "Trapped"]])
        // The next incarnation (fresh instance) serves what waited.
        yield* Effect.forkScoped(actor.run, { startImmediately: true })
        assert.strictEqual(decode((yield* actor.request(text("after-3")))!), "after-3")
        assert.deepStrictEqual(host.logged, ["after-1", "after-2", "after-3"])
      })
    ))

  it.effect("mailbox - full: failFast gives MailboxFull, otherwise send waits for room", () =>
    Effect.gen(function*() {
      const host = logRecorder()
      const actor = yield* Actor.make(yield* load("flaky"), { id: "small", imports: host.imports, mailbox: { capacity: 2 } })
      yield* actor.send(text("a"))
      yield* actor.send(text("b"))
      const full = yield* Effect.flip(actor.send(text("c"), { failFast: true }))
      assert.strictEqual(full._tag, "MailboxFull")
      const waiting = yield* Effect.forkChild(actor.send(text("c")), { startImmediately: true })
      assert.isUndefined(waiting.pollUnsafe())
      yield* Effect.forkScoped(actor.run, { startImmediately: true })
      yield* Fiber.join(waiting)
      yield* actor.request(text("d"))
      assert.deepStrictEqual(host.logged, ["a", "b", "c", "d"])
    }))

  it.effect("mailbox - many senders waiting for room all get in, each in its own order", () =>
    Effect.gen(function*() {
      const host = logRecorder()
      const actor = yield* Actor.make(yield* load("flaky"), { id: "crowded", imports: host.imports, mailbox: { capacity: 2 } })
      const senders = yield* Effect.forEach([0, 1, 2, 3], (s) =>
        Effect.forkChild(
          Effect.forEach([0, 1, 2], (i) => actor.send(text(`s${s}-${i}`)), { discard: true }),
          { startImmediately: true }
        ))
      assert.strictEqual((yield* actor.stats).mailboxDepth, 2)
      yield* Effect.forkScoped(actor.run, { startImmediately: true })
      yield* Effect.forEach(senders, Fiber.join, { discard: true })
      yield* actor.request(text("last"))
      assert.strictEqual(host.logged.length, 13)
      assert.strictEqual(host.logged.at(-1), "last")
      for (const s of [0, 1, 2, 3]) {
        assert.deepStrictEqual(host.logged.filter((m) => m.startsWith(`s${s}-`)), [0, 1, 2].map((i) => `s${s}-${i}`))
      }
    }))

  it.effect("request - a timeout is a RequestTimeout and the expired request is dead-lettered, not handled", () =>
    withDeadLetters((store) =>
      Effect.gen(function*() {
        const host = logRecorder()
        const actor = yield* Actor.make(yield* load("flaky"), { id: "slow", imports: host.imports })
        const pending = yield* Effect.forkChild(actor.request(text("late"), { timeout: "1 second" }), { startImmediately: true })
        yield* TestClock.adjust("1 second")
        const error = yield* Effect.flip(Fiber.join(pending))
        assert.strictEqual(error._tag, "RequestTimeout")
        yield* Effect.forkScoped(actor.run, { startImmediately: true })
        yield* actor.request(text("next"))
        assert.deepStrictEqual(host.logged, ["next"])
        assert.deepStrictEqual((yield* store.letters).map((l) => [decode(l.message.payload), l.reason]), [["late", "Expired"]])
      })
    ))

  it.effect("lifecycle - guest init gets the config, shutdown runs on a graceful stop, host hooks run", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const actor = yield* Actor.spawn(yield* load("lifecycle"), {
        id: "life",
        config: text("12345"),
        hooks: {
          preStart: (ref) => Effect.sync(() => void events.push(`preStart:${ref.id}`)),
          postStop: (ref) => Effect.sync(() => void events.push(`postStop:${ref.status}`))
        }
      })
      const count = yield* actor.request(text("x"))
      assert.strictEqual(new DataView(count!.buffer).getUint32(0, true), 6)
      yield* actor.send(text("queued"))
      yield* actor.stop()
      assert.strictEqual(actor.status, "Stopped")
      assert.strictEqual((yield* actor.stats).handled, 2)
      assert.deepStrictEqual(events, ["preStart:life", "postStop:Stopping"])
      const refused = yield* Effect.flip(actor.send(text("too late")))
      assert.strictEqual(refused._tag, "ActorStopped")
    }))

  it.effect("lifecycle - init that returns err is an InitFailed crash", () =>
    Effect.gen(function*() {
      const actor = yield* Actor.make(yield* load("lifecycle"), { id: "bad-config", config: text("fail") })
      const error = yield* Effect.flip(Effect.scoped(actor.run))
      assert.strictEqual(error.reason, "InitFailed")
      assert.include(error.message, "init refused")
    }))

  it.effect("spawn - closing its scope interrupts the incarnation (postStop runs) and dead-letters the queue", () =>
    withDeadLetters((store) =>
      Effect.gen(function*() {
        const events: Array<string> = []
        const host = logRecorder()
        const actor = yield* Effect.scoped(Effect.gen(function*() {
          const actor = yield* Actor.spawn(yield* load("flaky"), {
            id: "scoped",
            imports: host.imports,
            hooks: { postStop: (ref) => Effect.sync(() => void events.push(`postStop:${ref.status}`)) }
          })
          assert.strictEqual(actor.status, "Running")
          // Sent in this fiber's steps: the actor handles what it gets to before the scope closes.
          for (let i = 0; i < 5; i++) yield* actor.send(text(`m${i}`))
          return actor
        }))
        assert.strictEqual(actor.status, "Stopped")
        // Interrupted, not stopped gracefully: the hook sees the incarnation end while it was still serving.
        assert.deepStrictEqual(events, ["postStop:Running"])
        const letters = yield* store.letters
        assert.isAbove(letters.length, 0)
        assert.isTrue(letters.every((l) => l.reason === "Stopped" && l.error === "the actor's scope closed"))
        // Nothing lost: each message was handled or dead-lettered, in order.
        assert.deepStrictEqual(
          [...host.logged, ...letters.map((l) => decode(l.message.payload))],
          ["m0", "m1", "m2", "m3", "m4"]
        )
        assert.strictEqual((yield* Effect.flip(actor.request(text("late"))))._tag, "ActorStopped")
      })
    ))

  it.effect("stop - what is left after a forced stop goes to dead letters; waiting requesters get ActorStopped", () =>
    withDeadLetters((store) =>
      Effect.gen(function*() {
        const actor = yield* Actor.make(yield* load("flaky"), { id: "never-ran", imports: logRecorder().imports })
        const pending = yield* Effect.forkChild(actor.request(text("q")), { startImmediately: true })
        yield* actor.send(text("s"))
        yield* actor.stop()
        assert.strictEqual((yield* Effect.flip(Fiber.join(pending)))._tag, "ActorStopped")
        assert.deepStrictEqual((yield* store.letters).map((l) => [decode(l.message.payload), l.reason]), [["q", "Stopped"], ["s", "Stopped"]])
      })
    ))
})

describe("Actor observability", () => {
  it.effect("metrics carry the actor id; an installed tracer sees a span per guest call", () =>
    Effect.gen(function*() {
      const { spans, tracer: recordingTracer } = spanRecorder()
      const host = logRecorder()
      const actor = yield* Actor.spawn(yield* load("flaky"), { id: "observed", imports: host.imports }).pipe(
        Effect.provideService(Tracer.Tracer, recordingTracer)
      )
      yield* actor.request(text("one"))
      yield* actor.send(text("two"))
      yield* actor.request(text("three"))
      yield* Effect.flip(actor.request(text("trap")))
      const calls = spans.filter((s) => s.name === "Actor.handleMessage")
      assert.strictEqual(calls.length, 4)
      assert.isTrue(calls.every((s) => s.ended && s.attributes.actor === "observed"))
      const handled = yield* Metric.value(Metric.withAttributes(Actor.metrics.handled, { actor: "observed" }))
      const traps = yield* Metric.value(Metric.withAttributes(Actor.metrics.traps, { actor: "observed" }))
      const durations = yield* Metric.value(Metric.withAttributes(Actor.metrics.callDuration, { actor: "observed" }))
      assert.strictEqual(handled.count, 3)
      assert.strictEqual(traps.count, 1)
      assert.strictEqual(durations.count, 4)
    }))

  it.effect("metrics - a stopped actor's series stay for exporters; past the retained count the oldest go", () =>
    Effect.gen(function*() {
      const component = yield* load("lifecycle")
      const seriesOf = (prefix: string) =>
        Effect.map(Metric.snapshot, (all) =>
          new Set(
            all.filter((series) => series.id === Actor.metrics.handled.id)
              .map((series) => String(series.attributes?.["actor"]))
              .filter((actor) => actor.startsWith(prefix))
          ))
      // One actor after another, each handling a message and stopping.
      const total = Actor.retainedStoppedSeries + 3
      for (let i = 0; i < total; i++) {
        yield* Effect.scoped(Effect.gen(function*() {
          const actor = yield* Actor.spawn(component, { id: `gone-${i}`, imports: {} })
          yield* actor.request(text("hi"))
        }))
        if (i === 0) {
          const kept = yield* seriesOf("gone-")
          assert.isTrue(kept.has("gone-0"), "a stopped actor's series are still there to export")
        }
      }
      const left = yield* seriesOf("gone-")
      assert.strictEqual(left.size, Actor.retainedStoppedSeries)
      for (const removed of ["gone-0", "gone-1", "gone-2"]) assert.isFalse(left.has(removed))
      assert.isTrue(left.has("gone-3") && left.has(`gone-${total - 1}`))
      // A live actor's series are never removed, however many others stop.
      const live = yield* Actor.spawn(component, { id: "gone-live", imports: {} })
      yield* live.request(text("hi"))
      for (let i = 0; i < 5; i++) {
        yield* Effect.scoped(Effect.asVoid(Actor.spawn(component, { id: `gone-more-${i}`, imports: {} })))
      }
      assert.isTrue((yield* seriesOf("gone-")).has("gone-live"))
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())), 60_000)
})
