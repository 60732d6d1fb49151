import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, Context, Deferred, Duration, Effect, Exit, Fiber, Metric, Schedule, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Supervisor from "../src/Supervisor.ts"

/**
 * What one incarnation of a test child does after recording its start:
 * - `run`: waits for a command (`crash`, `die`, `finish`) from the test;
 * - `{ crashAfter }`: fails after that long;
 * - `interrupt`: interrupts itself.
 */
type Behaviour = "run" | "interrupt" | { readonly crashAfter: Duration.Input }

interface TestChild {
  readonly restart?: Supervisor.RestartType
  readonly shutdownTimeout?: Duration.Input
  /** Behaviour of the n-th incarnation (0 = first start). Default: always `run`. */
  readonly behaviour?: (incarnation: number) => Behaviour
  /** Log `stopping:` / `stopped:` around a 10 ms finalizer instead of `stop:` when interrupted. */
  readonly slowStop?: boolean
  /** Ignore interruption for an hour when stopped. */
  readonly stubborn?: boolean
}

class Greeting extends Context.Service<Greeting, string>()("test/Greeting") {}
class Count extends Context.Service<Count, number>()("test/Count") {}

const makeHarness = () => {
  const log: Array<string> = []
  const starts = new Map<string, Array<number>>()
  const triggers = new Map<string, Deferred.Deferred<void, string>>()

  const child = (id: string, options: TestChild = {}): Supervisor.ChildSpec<string> => {
    let incarnation = 0
    const onStop = options.stubborn
      ? Effect.sleep("1 hour")
      : options.slowStop
      ? Effect.sync(() => log.push(`stopping:${id}`)).pipe(
        Effect.andThen(Effect.sleep("10 millis")),
        Effect.andThen(Effect.sync(() => log.push(`stopped:${id}`)))
      )
      : Effect.sync(() => log.push(`stop:${id}`))
    return {
      id,
      ...(options.restart === undefined ? {} : { restart: options.restart }),
      ...(options.shutdownTimeout === undefined ? {} : { shutdownTimeout: options.shutdownTimeout }),
      start: Effect.gen(function*() {
        const behaviour = options.behaviour?.(incarnation++) ?? "run"
        log.push(`start:${id}`)
        const now = yield* Clock.currentTimeMillis
        starts.set(id, [...(starts.get(id) ?? []), now])
        const trigger = yield* Deferred.make<void, string>()
        triggers.set(id, trigger)
        if (behaviour === "interrupt") return yield* Effect.interrupt
        if (behaviour !== "run") return yield* Effect.andThen(Effect.sleep(behaviour.crashAfter), Effect.fail("boom"))
        yield* Deferred.await(trigger)
      }).pipe(Effect.onInterrupt(() => onStop))
    }
  }

  const trigger = (id: string) => {
    const deferred = triggers.get(id)
    assert.isDefined(deferred, `child ${id} never started`)
    return deferred!
  }

  return {
    log,
    starts,
    child,
    crash: (id: string) => Deferred.fail(trigger(id), `crash ${id}`),
    die: (id: string) => Deferred.die(trigger(id), new Error(`die ${id}`)),
    finish: (id: string) => Deferred.succeed(trigger(id), undefined)
  }
}

/**
 * Runs `effect` on a fiber that TestClock wakes 1 ms from now and advances the clock by `advance`, so
 * everything the effect causes (exits, stops, backoff timers) runs inside TestClock's wake tracking and
 * has settled when this returns.
 */
const act = <A, E, R>(effect: Effect.Effect<A, E, R>, advance: Duration.Input = "1 millis") =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Effect.andThen(Effect.sleep("1 millis"), effect), { startImmediately: true })
    yield* TestClock.adjust(advance)
    const exit = fiber.pollUnsafe()
    assert.isDefined(exit, "the action did not complete within the advanced time")
    return yield* Fiber.join(fiber)
  })

/** Delays between each crash (`crashAfter` after a start) and the next start. */
const delaysAfterCrashes = (starts: ReadonlyArray<number>, crashAfter: number) =>
  starts.slice(1).map((start, i) => start - (starts[i]! + crashAfter))

const states = (children: ReadonlyArray<Supervisor.ChildInfo>) =>
  Object.fromEntries(children.map((child) => [child.id, `${child.state}/${child.ownRestarts + child.groupRestarts}`]))

const restartsMetric = (supervisor: string, child: string) =>
  Metric.value(Metric.withAttributes(Supervisor.restartsTotal, { supervisor, child })).pipe(
    Effect.map((state) => state.count)
  )

describe("Supervisor", () => {
  describe("lifecycle", () => {
    it.effect("start - children start in order, each after the previous one is ready", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        const slowInit: Supervisor.ChildSpec<string> = {
          id: "a",
          awaitReady: true,
          start: Effect.gen(function*() {
            h.log.push("start:a")
            yield* Effect.sleep("50 millis")
            h.log.push("ready:a")
            yield* Supervisor.ready
            return yield* Effect.never
          })
        }
        const ref = yield* act(
          Supervisor.start({ id: "order", children: [slowInit, h.child("b"), h.child("c")] }),
          "100 millis"
        )
        assert.deepStrictEqual(h.log, ["start:a", "ready:a", "start:b", "start:c"])
        assert.deepStrictEqual(states(yield* ref.children), { a: "running/0", b: "running/0", c: "running/0" })
      }))

    it.effect("scope close - children stop in reverse order, one after the other", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        const scope = yield* Scope.make()
        const ref = yield* act(
          Supervisor.start({
            id: "stop-order",
            children: ["a", "b", "c"].map((id) => h.child(id, { slowStop: true }))
          }).pipe(Scope.provide(scope))
        )
        assert.deepStrictEqual(h.log, ["start:a", "start:b", "start:c"])
        yield* act(Scope.close(scope, Exit.void), "1 second")
        assert.deepStrictEqual(h.log.slice(3), [
          "stopping:c",
          "stopped:c",
          "stopping:b",
          "stopped:b",
          "stopping:a",
          "stopped:a"
        ])
        const children = yield* ref.children
        assert.deepStrictEqual(children.map((child) => [child.id, child.state, child.lastExit?.reason]), [
          ["a", "stopped", "Shutdown"],
          ["b", "stopped", "Shutdown"],
          ["c", "stopped", "Shutdown"]
        ])
        assert.isTrue(Exit.isSuccess(yield* Effect.exit(ref.await)))
        assert.strictEqual((yield* ref.snapshot).status, "stopped")
      }))

    it.effect("shutdown timeout - a child that does not stop in time is given up on", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        const scope = yield* Scope.make()
        const ref = yield* act(
          Supervisor.start({
            id: "stubborn",
            children: [h.child("a"), h.child("b", { stubborn: true, shutdownTimeout: "1 second" })]
          }).pipe(Scope.provide(scope))
        )
        const closing = yield* Effect.forkChild(Effect.andThen(Effect.sleep("1 millis"), Scope.close(scope, Exit.void)), {
          startImmediately: true
        })
        yield* TestClock.adjust("1 millis") // closing starts; b is interrupted and ignores it
        yield* TestClock.adjust("999 millis")
        assert.isUndefined(closing.pollUnsafe(), "gave up before the shutdown timeout")
        assert.deepStrictEqual(h.log, ["start:a", "start:b"], "a stopped before b was given up on")
        yield* TestClock.adjust("1 millis")
        yield* Fiber.join(closing)
        assert.deepStrictEqual(h.log, ["start:a", "start:b", "stop:a"])
        const children = yield* ref.children
        assert.deepStrictEqual(children.map((child) => child.lastExit?.reason), ["Shutdown", "ShutdownTimedOut"])
      }))

    it.effect("kill - after the shutdown timeout the child's scope is closed at once, whatever its fiber is stuck in", () =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const stuck: Supervisor.ChildSpec<never> = {
          id: "stuck",
          shutdownTimeout: "1 second",
          start: Effect.gen(function*() {
            yield* Effect.acquireRelease(Effect.sync(() => log.push("acquired")), () => Effect.sync(() => log.push("released")))
            // Ignores its interruption for an hour.
            return yield* Effect.never.pipe(Effect.onInterrupt(() => Effect.sleep("1 hour")))
          })
        }
        const ref = yield* act(Supervisor.start({ id: "kill", children: [stuck] }))
        const terminating = yield* Effect.forkChild(ref.terminateChild("stuck"), { startImmediately: true })
        yield* TestClock.adjust("999 millis")
        assert.deepStrictEqual(log, ["acquired"])
        yield* TestClock.adjust("1 millis")
        yield* Fiber.join(terminating)
        assert.deepStrictEqual(log, ["acquired", "released"], "its scope closed with the kill")
        const [child] = yield* ref.children
        assert.deepStrictEqual([child!.state, child!.lastExit?.reason], ["stopped", "ShutdownTimedOut"])
      }))

    it.effect("start - a child that fails before it runs fails start; earlier children stop in reverse, later ones never start", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        const failing: Supervisor.ChildSpec<string> = { id: "bad", start: Effect.fail("no config") }
        const exit = yield* Effect.exit(act(Supervisor.start({
          id: "boot",
          children: [h.child("a", { slowStop: true }), h.child("b"), failing, h.child("c")]
        }), "20 millis"))
        assert.isTrue(Exit.isFailure(exit))
        const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
        assert.deepStrictEqual(
          error?._tag === "Some" ? { reason: error.value.reason, child: error.value.child, cause: error.value.cause } : undefined,
          { reason: "FailedToStartChild", child: "bad", cause: "no config" }
        )
        assert.deepStrictEqual(h.log, ["start:a", "start:b", "stop:b", "stopping:a", "stopped:a"])
      }))

    it.effect("start - an awaitReady child that fails before calling ready fails start; one that fails after it is a crash", () =>
      Effect.gen(function*() {
        const before: Supervisor.ChildSpec<string> = {
          id: "before",
          awaitReady: true,
          start: Effect.andThen(Effect.sleep("10 millis"), Effect.fail("init failed"))
        }
        const failed = yield* Effect.flip(act(Supervisor.start({ id: "ready-1", children: [before] }), "20 millis"))
        assert.strictEqual(failed.reason, "FailedToStartChild")
        let starts = 0
        const after: Supervisor.ChildSpec<string> = {
          id: "after",
          awaitReady: true,
          start: Effect.gen(function*() {
            starts++
            yield* Supervisor.ready
            yield* Effect.sleep("10 millis")
            return yield* Effect.fail("later")
          })
        }
        const ref = yield* act(Supervisor.start({ id: "ready-2", intensity: { maxRestarts: 10, period: "1 minute" }, children: [after] }))
        yield* TestClock.adjust("200 millis")
        assert.isAbove(starts, 1, "restarted, as a crash")
        assert.strictEqual((yield* ref.snapshot).status, "running")
      }))

    it.effect("start - children run with the caller's services; their requirements add up", () =>
      Effect.gen(function*() {
        const log: Array<string> = []
        const program = Supervisor.start({
          id: "services",
          children: [
            { id: "a", start: Effect.andThen(Effect.map(Greeting, (text) => log.push(text)), Effect.never) },
            { id: "b", start: Effect.andThen(Effect.map(Count, (n) => log.push(`${n}`)), Effect.never) }
          ]
        })
        // The type lists both children's services, and nothing else but Scope.
        const provided: Effect.Effect<Supervisor.SupervisorRef, Supervisor.SupervisorError, Scope.Scope> = program.pipe(
          Effect.provideService(Greeting, "hello"),
          Effect.provideService(Count, 42)
        )
        yield* act(provided)
        assert.deepStrictEqual(log, ["hello", "42"])
      }))

    it.effect("start - two children with one id is a defect", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        const exit = yield* Effect.exit(Supervisor.start({ id: "dup", children: [h.child("a"), h.child("a")] }))
        assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
        assert.deepStrictEqual(h.log, [])
      }))
  })

  describe("strategies", () => {
    const cases: ReadonlyArray<[Supervisor.Strategy, ReadonlyArray<string>, Record<string, string>]> = [
      ["OneForOne", ["start:b"], { a: "running/0", b: "running/1", c: "running/0" }],
      ["OneForAll", ["stop:c", "stop:a", "start:a", "start:b", "start:c"], {
        a: "running/1",
        b: "running/1",
        c: "running/1"
      }],
      ["RestForOne", ["stop:c", "start:b", "start:c"], { a: "running/0", b: "running/1", c: "running/1" }]
    ]
    for (const [strategy, expected, expectedStates] of cases) {
      it.effect(`${strategy} - which siblings restart and in which order`, () =>
        Effect.gen(function*() {
          const h = makeHarness()
          const id = `strategy-${strategy}`
          const ref = yield* act(
            Supervisor.start({ id, strategy, children: ["a", "b", "c"].map((id) => h.child(id)) })
          )
          yield* act(h.crash("b"))
          // Stopped at once, started again only after the first backoff delay (100 ms).
          assert.deepStrictEqual(h.log.slice(3), expected.filter((event) => event.startsWith("stop:")))
          assert.strictEqual(
            (yield* ref.children).find((child) => child.id === "b")?.state,
            "restarting"
          )
          yield* TestClock.adjust("99 millis")
          assert.deepStrictEqual(h.log.slice(3), expected.filter((event) => event.startsWith("stop:")))
          yield* TestClock.adjust("1 millis")
          assert.deepStrictEqual(h.log.slice(3), expected)
          assert.deepStrictEqual(states(yield* ref.children), expectedStates)
          for (const child of ["a", "b", "c"]) {
            assert.strictEqual(yield* restartsMetric(id, child), Number(expectedStates[child]!.split("/")[1]))
          }
        }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))
    }

    it.effect("RestForOne - a crash before a pending group restart takes the group over", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        const ref = yield* act(
          Supervisor.start({
            id: "rest-merge",
            strategy: "RestForOne",
            children: ["a", "b", "c"].map((id) => h.child(id))
          })
        )
        yield* act(h.crash("b")) // b and c wait 100 ms
        yield* act(h.crash("a")) // a's group (a, b, c) restarts after a's own first delay
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(h.log.slice(3), ["stop:c", "start:a", "start:b", "start:c"])
        assert.deepStrictEqual(states(yield* ref.children), { a: "running/1", b: "running/1", c: "running/1" })
      }))
  })

  describe("restart types", () => {
    it.effect("Transient - a normal exit is not restarted, a failure or a defect is", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        const ref = yield* act(
          Supervisor.start({
            id: "transient",
            children: [
              h.child("normal", { restart: "Transient" }),
              h.child("failing", { restart: "Transient" }),
              h.child("dying", { restart: "Transient" })
            ]
          })
        )
        yield* act(h.finish("normal"))
        yield* act(h.crash("failing"))
        yield* act(h.die("dying"))
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(h.log.slice(3), ["start:failing", "start:dying"])
        const children = yield* ref.children
        assert.deepStrictEqual(states(children), { normal: "stopped/0", failing: "running/1", dying: "running/1" })
        assert.deepStrictEqual(children.map((child) => child.lastExit?.reason), ["Normal", "Failure", "Defect"])
        assert.strictEqual(children[1]!.lastExit?.message, "crash failing")
        assert.strictEqual(children[2]!.lastExit?.message, "die dying")
      }))

    it.effect("Transient - interrupting itself is a shutdown, not a crash; Permanent restarts anyway", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        const once = (n: number): Behaviour => n === 0 ? "interrupt" : "run"
        const ref = yield* act(
          Supervisor.start({
            id: "self-interrupt",
            children: [
              h.child("transient", { restart: "Transient", behaviour: once }),
              h.child("permanent", { behaviour: once })
            ]
          }),
          "1 second"
        )
        assert.deepStrictEqual(h.log, [
          "start:transient",
          "stop:transient",
          "start:permanent",
          "stop:permanent",
          "start:permanent"
        ])
        const children = yield* ref.children
        assert.deepStrictEqual(states(children), { transient: "stopped/0", permanent: "running/1" })
        assert.strictEqual(children[0]!.lastExit?.reason, "Interrupted")
      }))

    it.effect("Temporary - a crash is not restarted", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        const ref = yield* act(
          Supervisor.start({ id: "temporary", children: [h.child("temp", { restart: "Temporary" }), h.child("b")] })
        )
        yield* act(h.crash("temp"))
        yield* TestClock.adjust("1 minute")
        assert.deepStrictEqual(h.log, ["start:temp", "start:b"])
        // Deleted from the child list, as in OTP.
        assert.deepStrictEqual(states(yield* ref.children), { b: "running/0" })
      }))

    it.effect("Temporary - a sibling stopped by a group restart is not restarted", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        const ref = yield* act(
          Supervisor.start({
            id: "temporary-group",
            strategy: "OneForAll",
            children: [h.child("a"), h.child("temp", { restart: "Temporary" }), h.child("c")]
          })
        )
        yield* act(h.crash("a"))
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(h.log.slice(3), ["stop:c", "stop:temp", "start:a", "start:c"])
        assert.deepStrictEqual(states(yield* ref.children), { a: "running/1", c: "running/1" })
        // And it stays out of later group restarts.
        yield* act(h.crash("c"))
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(h.log.slice(7), ["stop:a", "start:a", "start:c"])
      }))

    it.effect("Transient - a child that exited normally is started again by a group restart (as in OTP)", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        const ref = yield* act(
          Supervisor.start({
            id: "transient-group",
            strategy: "OneForAll",
            children: [h.child("a"), h.child("done", { restart: "Transient" })]
          })
        )
        yield* act(h.finish("done"))
        yield* act(h.crash("a"))
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(h.log.slice(2), ["start:a", "start:done"])
        assert.deepStrictEqual(states(yield* ref.children), { a: "running/1", done: "running/1" })
      }))
  })

  describe("backoff", () => {
    it.effect("default - 100 ms doubling per consecutive restart, capped at 30 s", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        const ref = yield* act(
          Supervisor.start({
            id: "backoff-default",
            intensity: { maxRestarts: 1000, period: "1 hour" },
            children: [h.child("a", { behaviour: () => ({ crashAfter: "10 millis" }) })]
          })
        )
        yield* TestClock.adjust("3 minutes")
        const starts = h.starts.get("a")!
        assert.deepStrictEqual(delaysAfterCrashes(starts, 10).slice(0, 12), [
          100,
          200,
          400,
          800,
          1600,
          3200,
          6400,
          12800,
          25600,
          30000,
          30000,
          30000
        ])
        const [a] = yield* ref.children
        assert.strictEqual(a!.ownRestarts, starts.length - 1)
        assert.strictEqual(yield* restartsMetric("backoff-default", "a"), starts.length - 1)
      }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))

    it.effect("reset - a child that ran for a whole intensity period starts its backoff over", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        yield* act(
          Supervisor.start({
            id: "backoff-reset",
            children: [
              h.child("a", {
                behaviour: (n) => n < 3 || n === 4 ? { crashAfter: "10 millis" } : n === 3 ? { crashAfter: "6 seconds" } : "run"
              })
            ]
          })
        )
        yield* TestClock.adjust("1 minute")
        const starts = h.starts.get("a")!
        assert.strictEqual(starts.length, 6)
        const crashAfter = [10, 10, 10, 6000, 10]
        const delays = starts.slice(1).map((start, i) => start - (starts[i]! + crashAfter[i]!))
        // The 4th restart comes after the intensity window (3 in 5 s) has cleared, so no escalation.
        assert.deepStrictEqual(delays, [100, 200, 400, 100, 200])
      }))

    it.effect("custom schedule - used as given; when it ends, the supervisor escalates", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        const ref = yield* act(
          Supervisor.start({
            id: "backoff-finite",
            intensity: { maxRestarts: 100, period: "1 hour" },
            backoff: Schedule.spaced("1 second").pipe(Schedule.upTo({ times: 2 })),
            children: [h.child("a", { behaviour: () => ({ crashAfter: "10 millis" }) }), h.child("b")]
          })
        )
        yield* TestClock.adjust("1 minute")
        assert.deepStrictEqual(delaysAfterCrashes(h.starts.get("a")!, 10), [1000, 1000])
        const exit = yield* Effect.exit(ref.await)
        assert.isTrue(Exit.isFailure(exit))
        const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
        assert.strictEqual(error?._tag === "Some" ? error.value.reason : undefined, "BackoffExhausted")
        assert.deepStrictEqual(h.log.slice(-1), ["stop:b"])
      }))

    it.effect("jitter - each delay is scaled by a factor in [0.8, 1.2]", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        yield* act(
          Supervisor.start({
            id: "backoff-jitter",
            intensity: { maxRestarts: 100, period: "1 hour" },
            backoff: Schedule.spaced("1 second"),
            jitter: true,
            children: [h.child("a", { behaviour: () => ({ crashAfter: "10 millis" }) })]
          })
        )
        yield* TestClock.adjust("1 minute")
        const delays = delaysAfterCrashes(h.starts.get("a")!, 10)
        assert.isAbove(delays.length, 40)
        for (const delay of delays) assert.isTrue(delay >= 800 && delay <= 1200, `delay ${delay}`)
        assert.isAbove(new Set(delays).size, 1, "no jitter at all")
      }))
  })

  describe("intensity", () => {
    it.effect("one restart too many stops the other children in reverse order and escalates", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        const ref = yield* act(
          Supervisor.start({
            id: "intensity",
            children: [h.child("a"), h.child("b", { behaviour: () => ({ crashAfter: "10 millis" }) }), h.child("c")]
          })
        )
        yield* TestClock.adjust("10 seconds")
        // Default 3 restarts in 5 s: crashes at 11, 121, 331 ms are restarted, the one at 741 ms escalates.
        assert.deepStrictEqual(h.log, [
          "start:a",
          "start:b",
          "start:c",
          "start:b",
          "start:b",
          "start:b",
          "stop:c",
          "stop:a"
        ])
        const exit = yield* Effect.exit(ref.await)
        assert.isTrue(Exit.isFailure(exit))
        const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
        assert.isTrue(error?._tag === "Some")
        const escalation = error?._tag === "Some" ? error.value : undefined
        assert.instanceOf(escalation, Supervisor.SupervisorEscalation)
        assert.deepStrictEqual(
          {
            supervisor: escalation!.supervisor,
            child: escalation!.child,
            reason: escalation!.reason,
            exitsInPeriod: escalation!.exitsInPeriod,
            maxRestarts: escalation!.maxRestarts,
            periodMillis: escalation!.periodMillis
          },
          { supervisor: "intensity", child: "b", reason: "Intensity", exitsInPeriod: 4, maxRestarts: 3, periodMillis: 5000 }
        )
        assert.include(escalation!.cause, "boom")
        const snapshot = yield* ref.snapshot
        assert.strictEqual(snapshot.status, "escalated")
        assert.deepStrictEqual(states(snapshot.children), { a: "stopped/0", b: "failed/3", c: "stopped/0" })
      }))

    it.effect("restarts older than the period no longer count", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        const ref = yield* act(
          Supervisor.start({
            id: "intensity-window",
            intensity: { maxRestarts: 1, period: "1 second" },
            children: [h.child("a")]
          })
        )
        yield* act(h.crash("a")) // at 2 ms, restarted at 102 ms
        yield* TestClock.adjust("1001 millis")
        yield* act(h.crash("a")) // at 1004 ms: the restart at 2 ms is out of the window; restarted at 1204 ms
        assert.deepStrictEqual(states(yield* ref.children), { a: "restarting/1" })
        yield* TestClock.adjust("200 millis")
        assert.deepStrictEqual(states(yield* ref.children), { a: "running/2" })
        yield* act(h.crash("a")) // at 1205 ms: a second restart within 1 s of the one at 1004 ms
        assert.deepStrictEqual(states(yield* ref.children), { a: "failed/2" })
        assert.isTrue(Exit.isFailure(yield* Effect.exit(ref.await)))
      }))

    it.effect("a restart exactly one period after another still counts (as in OTP)", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        const ref = yield* act(
          Supervisor.start({
            id: "intensity-boundary",
            intensity: { maxRestarts: 1, period: "1 second" },
            children: [h.child("a")]
          })
        )
        yield* act(h.crash("a")) // at 2 ms, restarted at 102 ms
        yield* TestClock.adjust("999 millis")
        yield* act(h.crash("a")) // at 1002 ms
        assert.deepStrictEqual(states(yield* ref.children), { a: "failed/1" })
      }))

    it.effect("nested - the outer supervisor restarts an escalating inner one, whose children start again in order", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        const inner = Supervisor.run({
          id: "inner",
          intensity: { maxRestarts: 0, period: "5 seconds" },
          children: [h.child("p"), h.child("q", { behaviour: (n) => n === 0 ? { crashAfter: "10 millis" } : "run" })]
        })
        const scope = yield* Scope.make()
        const outer = yield* act(
          Supervisor.start({ id: "outer", children: [{ id: "inner", start: inner }, h.child("x")] }).pipe(
            Scope.provide(scope)
          )
        )
        // The inner supervisor's children run before its sibling x starts.
        assert.deepStrictEqual(h.log, ["start:p", "start:q", "start:x"])
        yield* TestClock.adjust("1 second")
        // q crashes at 11 ms, inner escalates (stops p), outer restarts inner 100 ms later; x untouched.
        assert.deepStrictEqual(h.log.slice(3), ["stop:p", "start:p", "start:q"])
        const snapshot = yield* outer.snapshot
        assert.deepStrictEqual(JSON.parse(JSON.stringify(snapshot)), snapshot, "snapshot is plain data")
        assert.deepStrictEqual(snapshot, {
          id: "outer",
          strategy: "OneForOne",
          status: "running",
          intensity: { maxRestarts: 3, periodMillis: 5000 },
          children: [
            {
              id: "inner",
              restartType: "Permanent",
              state: "running",
              ownRestarts: 1,
              groupRestarts: 0,
              lastExit: {
                reason: "Failure",
                message: snapshot.children[0]!.lastExit!.message!,
                at: 11
              },
              supervisor: {
                id: "inner",
                strategy: "OneForOne",
                status: "running",
                intensity: { maxRestarts: 0, periodMillis: 5000 },
                children: [
                  { id: "p", restartType: "Permanent", state: "running", ownRestarts: 0, groupRestarts: 0 },
                  { id: "q", restartType: "Permanent", state: "running", ownRestarts: 0, groupRestarts: 0 }
                ]
              }
            },
            { id: "x", restartType: "Permanent", state: "running", ownRestarts: 0, groupRestarts: 0 }
          ]
        })
        assert.include(snapshot.children[0]!.lastExit!.message!, "supervisor inner escalates")
        // Closing the outer scope stops x, then the inner supervisor, which stops q, then p.
        yield* act(Scope.close(scope, Exit.void))
        assert.deepStrictEqual(h.log.slice(6), ["stop:x", "stop:q", "stop:p"])
      }))

    it.effect("nested - an escalation the outer supervisor cannot absorb escalates further", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        const inner = Supervisor.run({
          id: "inner",
          intensity: { maxRestarts: 0, period: "5 seconds" },
          children: [h.child("q", { behaviour: () => ({ crashAfter: "10 millis" }) })]
        })
        const exit = yield* act(
          Effect.exit(Supervisor.run({
            id: "outer",
            intensity: { maxRestarts: 1, period: "5 seconds" },
            children: [h.child("a"), { id: "inner", start: inner }]
          })),
          "10 seconds"
        )
        assert.isTrue(Exit.isFailure(exit))
        const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
        assert.strictEqual(error?._tag === "Some" ? `${error.value.supervisor}/${error.value.child}` : "", "outer/inner")
        assert.deepStrictEqual(h.log, ["start:a", "start:q", "start:q", "stop:a"])
      }))
  })

  describe("snapshot", () => {
    it.effect("plain data with states, restart counts and last exits", () =>
      Effect.gen(function*() {
        const h = makeHarness()
        const ref = yield* act(
          Supervisor.start({
            id: "snap",
            strategy: "RestForOne",
            intensity: { maxRestarts: 5, period: "1 minute" },
            children: [h.child("a"), h.child("b"), h.child("t", { restart: "Temporary" })]
          })
        )
        yield* act(h.crash("a")) // at 2 ms: a restarts, b with it, t is stopped for good
        const during = yield* ref.snapshot
        // t is Temporary: stopped with the group, deleted from the list.
        assert.deepStrictEqual(states(during.children), { a: "restarting/0", b: "restarting/0" })
        yield* TestClock.adjust("1 second")
        const snapshot = yield* ref.snapshot
        assert.deepStrictEqual(JSON.parse(JSON.stringify(snapshot)), snapshot)
        assert.deepStrictEqual(snapshot, {
          id: "snap",
          strategy: "RestForOne",
          status: "running",
          intensity: { maxRestarts: 5, periodMillis: 60000 },
          children: [
            {
              id: "a",
              restartType: "Permanent",
              state: "running",
              ownRestarts: 1,
              groupRestarts: 0,
              lastExit: { reason: "Failure", message: "crash a", at: 2 }
            },
            {
              id: "b",
              restartType: "Permanent",
              state: "running",
              ownRestarts: 0,
              groupRestarts: 1,
              lastExit: { reason: "Shutdown", at: 2 }
            }
          ]
        })
      }))
  })
})
