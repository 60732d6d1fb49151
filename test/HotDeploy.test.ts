import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Actor, Audit, Component, DeadLetters, Deployment } from "../src/index.ts"
import * as Registry from "../src/Registry.ts"
import * as Router from "../src/Router.ts"
import { decode, guestPath, logRecorder, text } from "./fixtures.ts"

const load = (name: string) => Component.fromFile(guestPath(name))

/** A fresh registry, router and deployment manager per test, with its own dead letters. */
const withHost = <A, E, R>(f: Effect.Effect<A, E, R>) => {
  const deadLetters = DeadLetters.makeStore()
  const host = Layer.mergeAll(Router.Router.layer, Deployment.Deployment.layer).pipe(Layer.provideMerge(Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 1000 }))))
  return f.pipe(Effect.provide(host), Effect.provideService(DeadLetters.DeadLetters, deadLetters))
}

const ask = (target: string, who: string) =>
  Router.Router.use((router) => router.request("host", target, text(who))).pipe(
    Effect.map((reply) => decode(reply!)),
    Effect.catch((error) => Effect.succeed(error._tag))
  )

const statuses = (name: string) =>
  Deployment.Deployment.use((d) => d.versions(name)).pipe(Effect.map((versions) => versions.map((v) => `${v.version} ${v.status}`)))

/** Registry events as `Kind id`, recorded from now on. */
const recordEvents = Effect.gen(function*() {
  const events: Array<string> = []
  const registry = yield* Registry.Registry
  yield* Effect.forkScoped(
    Stream.runForEach(registry.events, (event) => Effect.sync(() => void events.push(`${event._tag} ${event.entry.id}`))),
    { startImmediately: true }
  )
  return events
})

describe("hot deploy", () => {
  it.effect("v2 registered while v1 serves; blue-green switch; v1 drains and stops; rollback; unload", () =>
    withHost(Effect.gen(function*() {
      const deployment = yield* Deployment.Deployment
      const registry = yield* Registry.Registry
      // Something else on the same host, which must keep serving throughout.
      const other = yield* Actor.spawn(yield* load("lifecycle"), { id: "other" })
      yield* registry.register("other", "1", other)
      const events = yield* recordEvents

      yield* deployment.deploy("greeter", "1", yield* load("greeter-v1"))
      assert.strictEqual(yield* ask("greeter", "ann"), "hello, ann")
      yield* deployment.deploy("greeter", "2", yield* load("greeter-v2"))
      // v2 runs beside v1; the name still routes to v1.
      assert.strictEqual(yield* ask("greeter", "bob"), "hello, bob")
      assert.strictEqual(yield* ask("greeter@2", "bob"), "welcome back, bob")
      assert.deepStrictEqual(yield* statuses("greeter"), ["1 Serving", "2 Standby"])

      yield* deployment.promote("greeter", "2")
      assert.strictEqual(yield* ask("greeter", "cy"), "welcome back, cy")
      assert.deepStrictEqual(yield* statuses("greeter"), ["1 Retired", "2 Serving"])
      assert.strictEqual(yield* ask("greeter@1", "cy"), "UnknownTarget")
      assert.deepStrictEqual(events.splice(0), [
        "Registered greeter@1",
        "Routed greeter@1",
        "Registered greeter@2",
        "Routed greeter@2",
        "Stopped greeter@1", // a graceful stop, not a crash
        "Unregistered greeter@1"
      ])

      // Rollback: v1 comes back (a fresh instance of the same component); v2 drains and stops.
      yield* deployment.rollback("greeter")
      assert.strictEqual(yield* ask("greeter", "dee"), "hello, dee")
      assert.deepStrictEqual(yield* statuses("greeter"), ["1 Serving", "2 Retired"])
      assert.deepStrictEqual(events.splice(0), [
        "Registered greeter@1",
        "Routed greeter@1",
        "Stopped greeter@2",
        "Unregistered greeter@2"
      ])
      const noEarlier = yield* Effect.flip(deployment.rollback("greeter"))
      assert.strictEqual(noEarlier.reason, "NoPreviousVersion")

      // Unload: the name is gone, the host serves on.
      yield* deployment.unload("greeter")
      assert.strictEqual(yield* ask("greeter", "eve"), "UnknownTarget")
      assert.deepStrictEqual(yield* statuses("greeter"), [])
      assert.deepStrictEqual(yield* registry.versions("greeter"), [])
      const count = yield* Router.Router.use((router) => router.request("host", "other", text("x")))
      assert.strictEqual(new DataView(count!.buffer, count!.byteOffset).getUint32(0, true), 1)
      assert.deepStrictEqual(
        (yield* (yield* DeadLetters.DeadLetters).letters).map((l) => `${l.reason} ${l.target}`),
        ["UnknownTarget greeter@1", "UnknownTarget greeter"]
      )
    })))

  it.effect("a switch under load loses nothing: every message is handled by v1 or v2", () =>
    withHost(Effect.gen(function*() {
      const deployment = yield* Deployment.Deployment
      const router = yield* Router.Router
      // Small mailboxes: the sender waits for room in v1's when the switch retires it.
      const mailbox = { capacity: 4 }
      const v1 = yield* deployment.deploy("greeter", "1", yield* load("greeter-v1"), { mailbox })
      const v2 = yield* deployment.deploy("greeter", "2", yield* load("greeter-v2"), { mailbox })
      const sent = 200
      const sender = yield* Effect.forkChild(
        Effect.forEach(Array.from({ length: sent }, (_, i) => i), (i) => router.send("host", "greeter", text(`m${i}`)), {
          discard: true
        }),
        { startImmediately: true }
      )
      // The sender is blocked on v1's full mailbox now.
      assert.strictEqual((yield* v1.ref.stats).mailboxDepth, 4)
      yield* deployment.promote("greeter", "2")
      yield* Fiber.join(sender)
      // Barrier: v2 handles in order, so its answer comes after everything sent before it.
      assert.strictEqual(yield* ask("greeter", "end"), "welcome back, end")
      const handled1 = (yield* v1.ref.stats).handled
      const handled2 = (yield* v2.ref.stats).handled
      assert.strictEqual(handled1 + handled2, sent + 1)
      // v1 handled at least what it had queued when the switch came; v2 the rest.
      assert.isAtLeast(handled1, 4)
      assert.isAbove(handled2, 1)
      assert.strictEqual(v1.ref.status, "Stopped")
      assert.deepStrictEqual(yield* (yield* DeadLetters.DeadLetters).letters, [])
    })))

  it.effect("a version that cannot start is not deployed, and the serving one keeps serving", () =>
    withHost(Effect.gen(function*() {
      const deployment = yield* Deployment.Deployment
      yield* deployment.deploy("greeter", "1", yield* load("greeter-v1"))
      // messenger imports logging and messaging; this host gives it neither (no Linker, no imports).
      const error = yield* Effect.flip(deployment.deploy("greeter", "2", yield* load("messenger")))
      assert.strictEqual(error._tag, "DeploymentError")
      assert.strictEqual(error._tag === "DeploymentError" && error.reason, "StartFailed")
      assert.include(error.message, "imports airssys:component/logging but no implementation was found")
      assert.deepStrictEqual(yield* statuses("greeter"), ["1 Serving"])
      assert.deepStrictEqual(yield* (yield* Registry.Registry).versions("greeter"), ["1"])
      assert.strictEqual(yield* ask("greeter", "ann"), "hello, ann")
      const unknown = yield* Effect.flip(deployment.promote("greeter", "2"))
      assert.strictEqual(unknown.reason, "UnknownVersion")
      const again = yield* Effect.flip(deployment.deploy("greeter", "1", yield* load("greeter-v2")))
      assert.strictEqual(again._tag === "DeploymentError" && again.reason, "AlreadyDeployed")
    })))
  it.effect("a version that traps is restarted by its supervisor, on the same mailbox (TestClock)", () =>
    withHost(Effect.gen(function*() {
      const deployment = yield* Deployment.Deployment
      const router = yield* Router.Router
      const { imports, logged } = logRecorder()
      const v1 = yield* deployment.deploy("svc", "1", yield* load("flaky"), { imports })
      const events = yield* recordEvents
      yield* router.send("host", "svc", text("trap now"))
      const after = yield* Effect.forkChild(ask("svc", "after"), { startImmediately: true })
      // The supervisor's first backoff is 100 ms.
      yield* TestClock.adjust("100 millis")
      assert.strictEqual(yield* Fiber.join(after), "after")
      assert.deepStrictEqual(logged, ["after"])
      assert.deepStrictEqual(events, ["Crashed svc@1", "Restarted svc@1"])
      assert.strictEqual((yield* v1.ref.stats).incarnations, 2)
      assert.deepStrictEqual(
        (yield* (yield* DeadLetters.DeadLetters).letters).map((l) => `${l.reason} ${decode(l.message.payload)}`),
        ["Trapped trap now"]
      )
      assert.deepStrictEqual(yield* statuses("svc"), ["1 Serving"])
    })))
  it.effect("unload one version: the name falls back to the version still deployed", () =>
    withHost(Effect.gen(function*() {
      const deployment = yield* Deployment.Deployment
      yield* deployment.deploy("greeter", "1", yield* load("greeter-v1"))
      yield* deployment.deploy("greeter", "2", yield* load("greeter-v2"))
      yield* deployment.unload("greeter", "1")
      assert.strictEqual(yield* ask("greeter", "fay"), "welcome back, fay")
      assert.deepStrictEqual(yield* statuses("greeter"), ["2 Serving"])
      assert.strictEqual((yield* Effect.flip(deployment.unload("greeter", "1"))).reason, "UnknownVersion")
      assert.strictEqual((yield* Effect.flip(deployment.promote("nothing", "1"))).reason, "UnknownName")
    })))
})
