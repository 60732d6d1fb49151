/**
 * Supervision at OTP parity (issue 14), with real wasm actors under TestClock: stopping a supervised
 * actor on purpose, start failures, kills, calls to dead actors, Temporary children, the dynamic API.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Schedule, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Actor, Component, Supervisor } from "../src/index.ts"
import * as Registry from "../src/Registry.ts"
import { decode, guestPath, logRecorder, text } from "./fixtures.ts"

const load = (name: string) => Component.fromFile(guestPath(name))

/** An actor of guests/flaky.wat (echoes, traps on "trap..."); `log` records its postStop hooks. */
const flaky = (id: string, log?: Array<string>) =>
  Effect.flatMap(load("flaky"), (component) =>
    Actor.make(component, {
      id,
      imports: logRecorder().imports,
      ...(log === undefined ? {} : { hooks: { postStop: () => Effect.sync(() => void log.push(`stop:${id}`)) } })
    }))

const settle = (steps = 20) =>
  Effect.gen(function*() {
    for (let i = 0; i < steps; i++) yield* TestClock.adjust("10 millis")
  })

/** Runs `effect` and asserts it failed without waiting (no clock advance, one yield). */
const failsAtOnce = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(Effect.flip(effect), { startImmediately: true })
    yield* Effect.yieldNow
    assert.isDefined(fiber.pollUnsafe(), "the call waited instead of failing at once")
    return yield* Fiber.join(fiber)
  })

const echo = (actor: Actor.ActorRef, s: string) => Effect.map(actor.request(text(s)), (reply) => decode(reply!))

const states = (children: ReadonlyArray<Supervisor.ChildInfo>) =>
  Object.fromEntries(children.map((child) => [child.id, child.state]))

describe("Supervisor at OTP parity (real wasm actors)", () => {
  it.effect("1. ref.stop on a Permanent child is terminate_child: not restarted, no churn, siblings untouched", () =>
    Effect.gen(function*() {
      const a = yield* flaky("a")
      const b = yield* flaky("b")
      const supervisor = yield* Supervisor.start({
        id: "root",
        intensity: { maxRestarts: 1, period: "1 minute" },
        children: [Actor.child(a), Actor.child(b)]
      })
      yield* a.stop()
      yield* settle(100)
      // No restart, no escalation: the supervisor runs, b serves, a is stopped and says so at once.
      assert.strictEqual((yield* supervisor.snapshot).status, "running")
      assert.deepStrictEqual(states(yield* supervisor.children), { a: "stopped", b: "running" })
      assert.strictEqual((yield* a.stats).incarnations, 1)
      assert.strictEqual(a.status, "Stopped")
      const error = yield* failsAtOnce(a.request(text("hello")))
      assert.strictEqual(error._tag, "ActorStopped")
      assert.strictEqual(error._tag === "ActorStopped" && error.reason, "Stopped")
      assert.strictEqual(yield* echo(b, "still here"), "still here")
      // restart_child gives it a running incarnation again.
      yield* supervisor.restartChild("a")
      assert.strictEqual(a.status, "Running")
      assert.strictEqual(yield* echo(a, "back"), "back")
    }))

  it.effect("1. a group restart after a stop starts the stopped child again, running (as OTP restarts terminated children)", () =>
    Effect.gen(function*() {
      const a = yield* flaky("a")
      const b = yield* flaky("b")
      yield* Supervisor.start({ id: "all", strategy: "OneForAll", children: [Actor.child(a), Actor.child(b)] })
      yield* a.stop()
      yield* Effect.flip(b.request(text("trap")))
      yield* settle(30)
      assert.strictEqual(a.status, "Running")
      assert.strictEqual(yield* echo(a, "running again"), "running again")
      assert.strictEqual(yield* echo(b, "b too"), "b too")
    }))

  it.effect("2. a child that fails to start fails start: FailedToStartChild, later children never start, earlier stop in reverse", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const a = yield* flaky("a", log)
      const b = yield* flaky("b", log)
      const bad = yield* Actor.make(yield* load("lifecycle"), { id: "bad", config: text("fail") })
      const c = yield* flaky("c", log)
      const error = yield* Effect.flip(Supervisor.start({
        id: "boot",
        children: [Actor.child(a), Actor.child(b), Actor.child(bad), Actor.child(c)]
      }))
      assert.strictEqual(error._tag, "SupervisorError")
      assert.strictEqual(error.reason, "FailedToStartChild")
      assert.strictEqual(error.supervisor, "boot")
      assert.strictEqual(error.child, "bad")
      assert.include(error.cause, "init refused")
      assert.deepStrictEqual(log, ["stop:b", "stop:a"])
      assert.strictEqual((yield* c.stats).incarnations, 0)
      // Nothing will run a or b again: calls fail at once.
      const stopped = yield* failsAtOnce(a.request(text("x")))
      assert.strictEqual(stopped._tag === "ActorStopped" && stopped.reason, "SupervisorStopped")
      // Nothing restarted meanwhile.
      yield* settle(50)
      assert.strictEqual((yield* bad.stats).incarnations, 1)
    }))

  it.effect("2. nested: an inner supervisor whose child fails to start fails the outer start", () =>
    Effect.gen(function*() {
      const bad = yield* Actor.make(yield* load("lifecycle"), { id: "bad", config: text("fail") })
      const error = yield* Effect.flip(Supervisor.start({
        id: "outer",
        children: [{ id: "inner", start: Supervisor.run({ id: "inner", children: [Actor.child(bad)] }) }]
      }))
      assert.strictEqual(error.reason, "FailedToStartChild")
      assert.strictEqual(error.child, "inner")
      assert.include(error.cause, "bad")
    }))

  it.effect("3. a child killed after its shutdown timeout ends: hook interrupted, instance closed, nothing runs again", () =>
    Effect.gen(function*() {
      let ticks = 0
      let abandoned = false
      let stops = 0
      const ticker = yield* Actor.make(yield* load("flaky"), {
        id: "ticker",
        imports: logRecorder().imports,
        hooks: {
          // The first time, a host hook that never finishes: it ticks every 100 ms.
          postStop: () =>
            stops++ > 0 ? Effect.void : Effect.forever(Effect.andThen(Effect.sleep("100 millis"), Effect.sync(() => ticks++))).pipe(
              Effect.onInterrupt(() => Effect.sync(() => (abandoned = true)))
            )
        }
      })
      const supervisor = yield* Supervisor.start({
        id: "root",
        children: [Actor.child(ticker, { shutdownTimeout: "1 second" })]
      })
      const terminate = yield* Effect.forkChild(supervisor.terminateChild("ticker"), { startImmediately: true })
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(terminate)
      const [child] = yield* supervisor.children
      assert.strictEqual(child!.lastExit?.reason, "ShutdownTimedOut")
      assert.isTrue(abandoned, "the hook was interrupted")
      const ticksAtKill = ticks
      assert.isAtLeast(ticksAtKill, 9)
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(ticks, ticksAtKill, "nothing of the killed incarnation runs after the kill")
      assert.strictEqual(ticker.status, "Stopped")
      const error = yield* failsAtOnce(ticker.request(text("x")))
      assert.strictEqual(error._tag === "ActorStopped" && error.reason, "Terminated")
      // Its incarnation is over: restart_child starts a new one (not `AlreadyRunning`), which serves.
      yield* supervisor.restartChild("ticker")
      assert.strictEqual(yield* echo(ticker, "fresh"), "fresh")
    }))

  it.effect("3. a kill during a group restart: the killed incarnation's hook stops, the next incarnation serves", () =>
    Effect.gen(function*() {
      let ticks = 0
      let stopping = false
      const slow = yield* Actor.make(yield* load("flaky"), {
        id: "slow",
        imports: logRecorder().imports,
        hooks: {
          postStop: () =>
            stopping
              ? Effect.void
              : Effect.andThen(
                Effect.sync(() => (stopping = true)),
                Effect.forever(Effect.andThen(Effect.sleep("100 millis"), Effect.sync(() => ticks++)))
              )
        }
      })
      const crasher = yield* flaky("crasher")
      yield* Supervisor.start({
        id: "group",
        strategy: "OneForAll",
        // No delay: the next incarnation starts while the killed one's fiber is still to wind down.
        backoff: Schedule.spaced("0 millis"),
        children: [Actor.child(slow, { shutdownTimeout: "500 millis" }), Actor.child(crasher)]
      })
      yield* Effect.flip(crasher.request(text("trap")))
      yield* TestClock.adjust("600 millis")
      const ticksAtKill = ticks
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(ticks, ticksAtKill)
      assert.strictEqual(slow.status, "Running")
      assert.strictEqual((yield* slow.stats).incarnations, 2)
      assert.strictEqual(yield* echo(slow, "after the kill"), "after the kill")
    }))

  it.effect("4. calls fail at once for a Temporary actor that trapped; 5. it is deleted from the child list", () =>
    Effect.gen(function*() {
      const temp = yield* flaky("temp")
      const other = yield* flaky("other")
      const supervisor = yield* Supervisor.start({
        id: "root",
        children: [Actor.child(temp, { restart: "Temporary" }), Actor.child(other)]
      })
      yield* Effect.flip(temp.request(text("trap")))
      assert.deepStrictEqual(states(yield* supervisor.children), { other: "running" })
      assert.strictEqual(temp.status, "Stopped")
      const request = yield* failsAtOnce(temp.request(text("anyone?")))
      assert.strictEqual(request._tag, "ActorStopped")
      assert.strictEqual(request._tag === "ActorStopped" && request.reason, "NotRestarted")
      assert.include(request.message, "temp")
      const send = yield* failsAtOnce(temp.send(text("anyone?")))
      assert.strictEqual(send._tag === "ActorStopped" && send.reason, "NotRestarted")
    }))

  it.effect("4. after a clean supervisor shutdown actors read Stopped (nested too) and calls fail at once", () =>
    Effect.gen(function*() {
      const top = yield* flaky("top")
      const deep = yield* flaky("deep")
      const scope = yield* Scope.make()
      yield* Supervisor.start({
        id: "root",
        children: [
          Actor.child(top),
          { id: "inner", start: Supervisor.run({ id: "inner", children: [Actor.child(deep)] }) }
        ]
      }).pipe(Scope.provide(scope))
      assert.strictEqual(yield* echo(deep, "up"), "up")
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(top.status, "Stopped")
      assert.strictEqual(deep.status, "Stopped")
      for (const actor of [top, deep]) {
        const error = yield* failsAtOnce(actor.request(text("x")))
        assert.strictEqual(error._tag === "ActorStopped" && error.reason, "SupervisorStopped")
      }
    }))

  it.effect("4. after a top-level supervisor escalates its actors read Stopped and calls fail at once", () =>
    Effect.gen(function*() {
      const crashy = yield* flaky("crashy")
      const sibling = yield* flaky("sibling")
      for (let i = 0; i < 3; i++) yield* crashy.send(text(`trap ${i}`))
      const supervisor = yield* Supervisor.start({
        id: "strict",
        intensity: { maxRestarts: 1, period: "1 minute" },
        backoff: Schedule.spaced("10 millis"),
        children: [Actor.child(sibling), Actor.child(crashy)]
      })
      yield* settle(10)
      assert.strictEqual((yield* supervisor.snapshot).status, "escalated")
      for (const actor of [crashy, sibling]) {
        assert.strictEqual(actor.status, "Stopped")
        const error = yield* failsAtOnce(actor.request(text("x")))
        assert.strictEqual(error._tag === "ActorStopped" && error.reason, "SupervisorStopped")
      }
    }))

  it.effect("4. calls to an actor that is restarting wait and are answered by the next incarnation", () =>
    Effect.gen(function*() {
      const actor = yield* flaky("phoenix")
      yield* Supervisor.start({
        id: "root",
        backoff: Supervisor.exponentialBackoff({ base: "1 second" }),
        children: [Actor.child(actor)]
      })
      yield* Effect.flip(actor.request(text("trap")))
      assert.strictEqual(actor.status, "Crashed")
      const waiting = yield* Effect.forkChild(actor.request(text("patience"), { timeout: "1 minute" }), { startImmediately: true })
      yield* TestClock.adjust("500 millis")
      assert.isUndefined(waiting.pollUnsafe())
      yield* TestClock.adjust("600 millis")
      assert.strictEqual(decode((yield* Fiber.join(waiting))!), "patience")
    }))

  it.effect("6. dynamic API: start / terminate / restart / delete, which and count children, stop with a reason", () =>
    Effect.gen(function*() {
      const a = yield* flaky("a")
      const b = yield* flaky("b")
      const supervisor = yield* Supervisor.start({ id: "root", children: [Actor.child(a)] })
      const info = yield* supervisor.startChild(Actor.child(b, { id: "worker-b" }))
      assert.deepStrictEqual([info.id, info.state], ["worker-b", "running"])
      assert.strictEqual(yield* echo(b, "dynamic"), "dynamic")
      assert.deepStrictEqual(yield* supervisor.countChildren, { specs: 2, active: 2, supervisors: 0, workers: 2 })
      assert.strictEqual((yield* Effect.flip(supervisor.startChild(Actor.child(b, { id: "worker-b" })))).reason, "AlreadyStarted")
      assert.strictEqual((yield* Effect.flip(supervisor.restartChild("worker-b"))).reason, "Running")
      assert.strictEqual((yield* Effect.flip(supervisor.deleteChild("worker-b"))).reason, "Running")
      assert.strictEqual((yield* Effect.flip(supervisor.terminateChild("nobody"))).reason, "NotFound")

      yield* supervisor.terminateChild("worker-b")
      assert.deepStrictEqual(states(yield* supervisor.children), { a: "running", "worker-b": "stopped" })
      const terminated = yield* failsAtOnce(b.request(text("x")))
      assert.strictEqual(terminated._tag === "ActorStopped" && terminated.reason, "Terminated")
      assert.deepStrictEqual(yield* supervisor.countChildren, { specs: 2, active: 1, supervisors: 0, workers: 2 })
      assert.strictEqual((yield* Effect.flip(supervisor.startChild(Actor.child(b, { id: "worker-b" })))).reason, "AlreadyPresent")
      yield* supervisor.restartChild("worker-b")
      assert.strictEqual(yield* echo(b, "again"), "again")
      yield* supervisor.terminateChild("worker-b")
      yield* supervisor.deleteChild("worker-b")
      assert.deepStrictEqual(states(yield* supervisor.children), { a: "running" })

      yield* supervisor.stop("maintenance")
      yield* supervisor.await
      const snapshot = yield* supervisor.snapshot
      assert.strictEqual(snapshot.status, "stopped")
      assert.strictEqual(snapshot.stopReason, "maintenance")
      assert.strictEqual(a.status, "Stopped")
      assert.strictEqual((yield* Effect.flip(supervisor.startChild(Actor.child(b)))).reason, "SupervisorNotRunning")
    }))

  it.effect("6. startChild of a child that fails to start: FailedToStartChild, not kept", () =>
    Effect.gen(function*() {
      const supervisor = yield* Supervisor.start({ id: "root", children: [] })
      const bad = yield* Actor.make(yield* load("lifecycle"), { id: "bad", config: text("fail") })
      const error = yield* Effect.flip(supervisor.startChild(Actor.child(bad)))
      assert.strictEqual(error.reason, "FailedToStartChild")
      assert.include(error.cause, "init refused")
      assert.deepStrictEqual(yield* supervisor.children, [])
      assert.strictEqual((yield* supervisor.snapshot).status, "running")
    }))

  it.effect("6. dynamic supervisor: children of one spec up to maxChildren, restarted one for one, deleted when terminated", () =>
    Effect.gen(function*() {
      const actors = yield* Effect.forEach(["w1", "w2", "w3"], (id) => flaky(id))
      const pool = yield* Supervisor.startDynamic({
        id: "pool",
        maxChildren: 2,
        backoff: Supervisor.exponentialBackoff({ base: "10 millis" }),
        child: (actor: Actor.ActorRef) => Actor.child(actor, { restart: "Transient" })
      })
      yield* pool.startChild(actors[0]!)
      yield* pool.startChild(actors[1]!)
      const full = yield* Effect.flip(pool.startChild(actors[2]!))
      assert.strictEqual(full.reason, "MaxChildren")
      const snapshot = yield* pool.snapshot
      assert.strictEqual(snapshot.dynamic, true)
      assert.strictEqual(snapshot.maxChildren, 2)
      assert.deepStrictEqual(snapshot.children.map((child) => [child.id, child.state, child.details?.status]), [
        ["w1", "running", "Running"],
        ["w2", "running", "Running"]
      ])
      // A crash restarts only that child.
      yield* Effect.flip(actors[0]!.request(text("trap")))
      yield* settle(5)
      assert.strictEqual(yield* echo(actors[0]!, "w1 back"), "w1 back")
      assert.strictEqual((yield* actors[1]!.stats).incarnations, 1)
      // Terminated: deleted, which makes room.
      yield* pool.terminateChild("w2")
      assert.deepStrictEqual((yield* pool.children).map((child) => child.id), ["w1"])
      yield* pool.startChild(actors[2]!)
      assert.deepStrictEqual(yield* pool.countChildren, { specs: 2, active: 2, supervisors: 0, workers: 2 })
      assert.strictEqual(yield* echo(actors[2]!, "w3"), "w3")
      // A Transient child that stops on purpose is deleted too.
      yield* actors[2]!.stop()
      yield* settle(2)
      assert.deepStrictEqual((yield* pool.children).map((child) => child.id), ["w1"])
    }))

  it.effect("6. the dynamic API in the Registry's lifecycle events: startChild is Started, terminate Stopped + Unregistered, restart Restarted", () =>
    Effect.gen(function*() {
      const registry = yield* Registry.Registry
      const events = yield* Effect.forkChild(Stream.runCollect(Stream.take(registry.events, 8)), { startImmediately: true })
      const worker = yield* Actor.make(yield* load("flaky"), { id: "svc@1", imports: logRecorder().imports, hooks: registry.hooks })
      yield* registry.register("svc", "1", worker)
      const supervisor = yield* Supervisor.start({ id: "root", children: [] })
      yield* supervisor.startChild(Actor.child(worker))
      assert.strictEqual(yield* echo(worker, "registered"), "registered")
      yield* supervisor.terminateChild("svc@1")
      // Registered again, restarted with restartChild.
      yield* registry.register("svc", "1", worker)
      yield* supervisor.restartChild("svc@1")
      const seen = (yield* Fiber.join(events)).map((event) => `${event._tag} ${event.entry.id}`)
      assert.deepStrictEqual(seen, [
        "Registered svc@1",
        "Routed svc@1",
        "Started svc@1",
        "Stopped svc@1",
        "Unregistered svc@1",
        "Registered svc@1",
        "Routed svc@1",
        "Restarted svc@1"
      ])
    }).pipe(Effect.provide(Registry.Registry.layer)))

  it.effect("also: a spawned ref handed to Actor.child is refused (AlreadyRunning), not started twice", () =>
    Effect.gen(function*() {
      const spawned = yield* Actor.spawn(yield* load("flaky"), { id: "spawned", imports: logRecorder().imports })
      const error = yield* Effect.flip(Supervisor.start({ id: "root", children: [Actor.child(spawned)] }))
      assert.strictEqual(error.reason, "FailedToStartChild")
      assert.include(error.cause, "already running")
      assert.strictEqual((yield* spawned.stats).incarnations, 1)
      // The spawned incarnation is untouched and serves.
      assert.strictEqual(yield* echo(spawned, "one incarnation"), "one incarnation")
    }))
})
