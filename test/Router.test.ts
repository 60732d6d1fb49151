import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Scope, Tracer } from "effect"
import * as ConfigProvider from "effect/ConfigProvider"
import { TestClock } from "effect/testing"
import { Actor, Audit, Capability, Component, DeadLetters } from "../src/index.ts"
import * as Registry from "../src/Registry.ts"
import * as Router from "../src/Router.ts"
import { decode, failuresUnderEnv, guestPath, spanRecorder, text } from "./fixtures.ts"

const load = (name: string) => Component.fromFile(guestPath(name))

interface Env {
  readonly registry: Registry.Registry["Service"]
  readonly router: Router.Router["Service"]
  readonly deadLetters: DeadLetters.Store
}

/** A fresh registry, router, memory audit and dead-letter store per test, built under the test's clock. */
const withRouter = <A, E, R>(
  f: (env: Env) => Effect.Effect<A, E, R>,
  options?: Router.Options | ConfigProvider.ConfigProvider
) => {
  const deadLetters = DeadLetters.makeStore()
  const router = options === undefined
    ? Router.Router.layer
    : "load" in options
    ? Router.Router.layerConfig().pipe(Layer.provide(ConfigProvider.layer(options)))
    : Router.Router.layerWith(options)
  const layer = Layer.provideMerge(router, Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 100 })))
  return Effect.gen(function*() {
    return yield* f({ registry: yield* Registry.Registry, router: yield* Router.Router, deadLetters })
  }).pipe(
    Effect.provide(layer),
    Effect.provideService(DeadLetters.DeadLetters, deadLetters)
  )
}

/** A `flaky` actor (replies with its payload) that records what it handles. */
const echo = (env: Env, id: string, name: string, version: string, patterns: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const logged: Array<string> = []
    const ref = yield* Actor.spawn(yield* load("flaky"), {
      id,
      imports: {
        "airssys:component/logging": { log: (_level: string, message: string) => Effect.sync(() => void logged.push(message)) }
      }
    })
    const grants = yield* Capability.decodeGrants(patterns.map((pattern) => ({ type: "Messaging", pattern })))
    yield* env.registry.register(name, version, ref, { grants })
    return { ref, logged }
  })

/** A `lifecycle` actor: replies with its message count. */
const counter = (env: Env, id: string, name: string, version: string) =>
  Effect.gen(function*() {
    const ref = yield* Actor.spawn(yield* load("lifecycle"), { id })
    yield* env.registry.register(name, version, ref)
    return ref
  })

const u32 = (bytes: Uint8Array | undefined) => new DataView(bytes!.buffer, bytes!.byteOffset).getUint32(0, true)

describe("Router", () => {
  it.effect("send and request - real guests, from the host and between actors", () =>
    withRouter((env) =>
      Effect.gen(function*() {
        const a = yield* echo(env, "a", "a", "1", ["b"])
        const b = yield* echo(env, "b", "b", "1")
        yield* env.router.send("host", "a", text("one"))
        yield* env.router.send("a", "b", text("two"))
        assert.strictEqual(decode((yield* env.router.request("a", "b", text("three")))!), "three")
        assert.strictEqual(decode((yield* env.router.request("host", "a@1", text("four")))!), "four")
        assert.deepStrictEqual(a.logged, ["one", "four"])
        assert.deepStrictEqual(b.logged, ["two", "three"])
      })
    ))

  it.effect("send - by name, following a route switch; queued messages stay with the old version", () =>
    withRouter((env) =>
      Effect.gen(function*() {
        const v1 = yield* counter(env, "svc@1", "svc", "1")
        const v2 = yield* counter(env, "svc@2", "svc", "2")
        assert.strictEqual(u32(yield* env.router.request("host", "svc", text("x"))), 1)
        // Sent to v1, then the route switches: v1 still handles them.
        for (let i = 0; i < 3; i++) yield* env.router.send("host", "svc", text("queued"))
        yield* env.registry.route("svc", "2")
        assert.strictEqual(u32(yield* env.router.request("host", "svc", text("x"))), 1)
        assert.strictEqual(u32(yield* env.router.request("host", "svc@1", text("x"))), 5)
        yield* env.registry.rollback("svc")
        assert.strictEqual(u32(yield* env.router.request("host", "svc", text("x"))), 6)
        assert.strictEqual((yield* v2.stats).handled, 1)
        assert.strictEqual((yield* v1.stats).handled, 6)
      })
    ))

  it.effect("request - a timeout is a RequestTimeout; the expired request is dead-lettered, not handled", () =>
    withRouter((env) =>
      Effect.gen(function*() {
        const ref = yield* Actor.make(yield* load("lifecycle"), { id: "sleepy" })
        yield* env.registry.register("sleepy", "1", ref)
        const pending = yield* Effect.forkChild(
          env.router.request("host", "sleepy", text("late"), { timeout: "2 seconds" }),
          { startImmediately: true }
        )
        yield* TestClock.adjust("1999 millis")
        assert.isUndefined(pending.pollUnsafe())
        yield* TestClock.adjust("1 millis")
        const error = yield* Effect.flip(Fiber.join(pending))
        assert.strictEqual(error._tag, "RequestTimeout")
        yield* Effect.forkScoped(ref.run, { startImmediately: true })
        assert.strictEqual(u32(yield* env.router.request("host", "sleepy", text("next"))), 1)
        const letters = yield* env.deadLetters.letters
        assert.deepStrictEqual(letters.map((l) => [l.target, decode(l.message.payload), l.reason]), [
          ["sleepy", "late", "Expired"]
        ])
        // Every request carries a correlation id into the message (the guest's `correlation-id`).
        assert.strictEqual(typeof letters[0]!.message.correlationId, "bigint")
      })
    ))

  it.effect("unknown target - send dead-letters it, request also fails with UnknownTarget", () =>
    withRouter((env) =>
      Effect.gen(function*() {
        yield* echo(env, "a", "a", "1", ["**"])
        yield* env.router.send("a", "ghost", text("boo"))
        const error = yield* Effect.flip(env.router.request("host", "ghost@2", text("hello?")))
        assert.strictEqual(error._tag, "UnknownTarget")
        assert.deepStrictEqual(
          (yield* env.deadLetters.letters).map((l) => [l.target, l.message.sender, decode(l.message.payload), l.reason]),
          [["ghost", "a", "boo", "UnknownTarget"], ["ghost@2", "host", "hello?", "UnknownTarget"]]
        )
      })
    ))

  it.effect("guard - a payload over the limit is PayloadTooLarge (default 1 MiB, configurable)", () =>
    Effect.gen(function*() {
      yield* withRouter((env) =>
        Effect.gen(function*() {
          const a = yield* echo(env, "a", "a", "1")
          const error = yield* Effect.flip(env.router.send("host", "a", new Uint8Array(1024 * 1024 + 1)))
          assert.strictEqual(error._tag, "PayloadTooLarge")
          assert.strictEqual((error as Router.PayloadTooLarge).limit, 1024 * 1024)
          yield* env.router.send("host", "a", new Uint8Array(1024 * 1024).fill(65))
          yield* env.router.request("host", "a", text("sync"))
          assert.strictEqual(a.logged.length, 2)
        })
      )
      yield* withRouter((env) =>
        Effect.gen(function*() {
          const a = yield* echo(env, "a", "a", "1", ["t"])
          const tooBig = text("seventeen bytes!!")
          const attempts: ReadonlyArray<Effect.Effect<unknown, Router.RequestError | Router.SendError>> = [
            env.router.send("host", "a", tooBig),
            env.router.request("a", "a", tooBig),
            env.router.publish("a", "t", tooBig)
          ]
          for (const attempt of attempts) {
            const error = yield* Effect.flip(attempt)
            assert.strictEqual(error._tag, "PayloadTooLarge")
          }
          yield* env.router.request("host", "a", text("sixteen bytes!!!"))
          assert.deepStrictEqual(a.logged, ["sixteen bytes!!!"])
        }), { maxPayloadBytes: 16 })
    }))

  it.effect("spans - the cold paths are spans: building the router and its audit, registering an actor", () =>
    Effect.gen(function*() {
      const { spans, tracer } = spanRecorder()
      yield* withRouter((env) => echo(env, "a", "a", "1")).pipe(Effect.provideService(Tracer.Tracer, tracer))
      const names = spans.map((span) => span.name)
      for (const name of ["Audit.make", "Router.make", "Registry.register"]) assert.include(names, name)
    }))

  it.effect("layerConfig - the guards read from ROUTER_* names (paths from fromUnknown, variables from fromEnv)", () =>
    Effect.gen(function*() {
      const fromEnv = ConfigProvider.fromEnv({
        env: { ROUTER_MAX_PAYLOAD_BYTES: "16", ROUTER_RATE_PER_SECOND: "2", ROUTER_RATE_BURST: "3", ROUTER_REQUEST_TIMEOUT: "50 millis" }
      })
      const read = yield* Router.config.parse(fromEnv)
      assert.deepStrictEqual(
        [read.maxPayloadBytes, read.rateLimit, Duration.toMillis(Duration.fromInputUnsafe(read.requestTimeout!))],
        [16, { perSecond: 2, burst: 3 }, 50]
      )
      // Nothing set: the defaults.
      const defaults = yield* Router.config.parse(ConfigProvider.fromUnknown({}))
      assert.deepStrictEqual(
        [defaults.maxPayloadBytes, defaults.rateLimit, Duration.toMillis(Duration.fromInputUnsafe(defaults.requestTimeout!))],
        [Router.defaultMaxPayloadBytes, { perSecond: Router.defaultRatePerSecond, burst: undefined }, 5000]
      )
      // The layer enforces what it read.
      yield* withRouter((env) =>
        Effect.gen(function*() {
          yield* echo(env, "a", "a", "1", ["counter"])
          const target = yield* counter(env, "counter@1", "counter", "1")
          const tooBig = yield* Effect.flip(env.router.send("host", "counter", text("seventeen bytes!!")))
          assert.deepStrictEqual([tooBig._tag, (tooBig as Router.PayloadTooLarge).limit], ["PayloadTooLarge", 16])
          for (let i = 0; i < 3; i++) yield* env.router.send("a", "counter", text("m"))
          const limited = yield* Effect.flip(env.router.send("a", "counter", text("m")))
          assert.deepStrictEqual([limited._tag, (limited as Router.RateLimited).perSecond], ["RateLimited", 2])
          yield* env.router.request("host", "counter", text("m"))
          assert.strictEqual((yield* target.stats).handled, 4)
        }), ConfigProvider.fromUnknown({ ROUTER: { MAX_PAYLOAD_BYTES: 16, RATE_PER_SECOND: 2, RATE_BURST: 3 } }))
    }))

  it.effect("layerConfig - a value present but invalid fails the layer with a ConfigError", () =>
    Effect.gen(function*() {
      const envs = [
        { ROUTER_MAX_PAYLOAD_BYTES: "lots" },
        { ROUTER_MAX_PAYLOAD_BYTES: "0" },
        { ROUTER_MAX_PAYLOAD_BYTES: "1.5" },
        { ROUTER_RATE_PER_SECOND: "-1" },
        { ROUTER_RATE_BURST: "none" },
        { ROUTER_REQUEST_TIMEOUT: "soon" }
      ]
      const router = Layer.build(Router.Router.layerConfig().pipe(Layer.provide(Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 1 })))))
      assert.deepStrictEqual(yield* failuresUnderEnv(envs, router), envs.map(() => "ConfigError"))
    }))

  it.effect("guard - 1000 messages per second per sender; the bucket refills with the clock", () =>
    withRouter((env) =>
      Effect.gen(function*() {
        yield* echo(env, "a", "a", "1", ["counter"])
        yield* echo(env, "b", "b", "1", ["counter"])
        const target = yield* counter(env, "counter@1", "counter", "1")
        for (let i = 0; i < 1000; i++) yield* env.router.send("a", "counter", text("m"))
        const limited = yield* Effect.flip(env.router.send("a", "counter", text("m")))
        assert.strictEqual(limited._tag, "RateLimited")
        assert.strictEqual((limited as Router.RateLimited).retryAfterMillis, 1)
        // Other senders and the host have their own budgets.
        yield* env.router.send("b", "counter", text("m"))
        yield* env.router.send("host", "counter", text("m"))
        // One millisecond is one token at 1000/s.
        yield* TestClock.adjust("1 millis")
        yield* env.router.send("a", "counter", text("m"))
        assert.strictEqual((yield* Effect.flip(env.router.send("a", "counter", text("m"))))._tag, "RateLimited")
        // A full second refills the bucket to its burst, not beyond.
        yield* TestClock.adjust("10 seconds")
        for (let i = 0; i < 1000; i++) yield* env.router.request("a", "counter", text("m"))
        assert.strictEqual((yield* Effect.flip(env.router.request("a", "counter", text("m"))))._tag, "RateLimited")
        assert.strictEqual((yield* target.stats).handled, 2003)
      })
    ))

  it.effect("guard - capability denied for a target and for a topic; the host is trusted; denials are audited", () =>
    withRouter(
        (env) =>
          Effect.gen(function*() {
            const a = yield* echo(env, "a", "a", "1", ["b", "news.*"])
            yield* echo(env, "b", "b", "1", ["news.sports"])
            yield* echo(env, "c", "c", "1")
            const denied = [
              yield* Effect.flip(env.router.send("a", "c", text("x"))),
              yield* Effect.flip(env.router.request("a", "b@1", text("x"))),
              yield* Effect.flip(env.router.publish("b", "news.weather", text("x"))),
              yield* Effect.flip(env.router.subscribe("c", "news.sports")),
              yield* Effect.flip(env.router.send("stranger", "a", text("x")))
            ]
            assert.deepStrictEqual(
              denied.map((e) => e._tag === "CapabilityDenied" ? `${e.component} ${e.detail} ${e.resource}` : e._tag),
              ["a target c", "a target b@1", "b topic news.weather", "c topic news.sports", "stranger target a"]
            )
            // Granted paths work, and the host needs no grant.
            yield* env.router.send("a", "b", text("ok"))
            yield* env.router.subscribe("a", "news.sports")
            assert.strictEqual(yield* env.router.publish("b", "news.sports", text("goal")), 1)
            yield* env.router.send("host", "c", text("from host"))
            assert.strictEqual(decode((yield* env.router.request("host", "a", text("sync")))!), "sync")
            assert.deepStrictEqual(a.logged, ["goal", "sync"])
            const events = yield* (yield* Audit.MemoryLog).events
            assert.deepStrictEqual(
              events.map((e) => [e.component, e.capability, e.resource, e.decision]),
              [
                ["a", "Messaging", "c", "denied"],
                ["a", "Messaging", "b@1", "denied"],
                ["b", "Messaging", "news.weather", "denied"],
                ["c", "Messaging", "news.sports", "denied"],
                ["stranger", "Messaging", "a", "denied"]
              ]
            )
          })
      ))

  it.effect("guard - an id registered again is checked against its new grants at once", () =>
    withRouter((env) =>
      Effect.gen(function*() {
        yield* echo(env, "b", "b", "1")
        const flaky = yield* load("flaky")
        const ref = yield* Actor.spawn(flaky, { id: "a", imports: { "airssys:component/logging": { log: () => Effect.void } } })
        const grants = yield* Capability.decodeGrants([{ type: "Messaging", pattern: "b" }])
        yield* env.registry.register("a", "1", ref, { grants })
        yield* env.router.send("a", "b", text("allowed"))
        yield* env.registry.unregister("a")
        yield* env.registry.register("a", "2", ref)
        const error = yield* Effect.flip(env.router.send("a", "b", text("denied")))
        assert.strictEqual(error._tag, "CapabilityDenied")
      })
    ))

  it.effect("guard - checked in order: size, then rate, then capability", () =>
    withRouter((env) =>
      Effect.gen(function*() {
        yield* echo(env, "a", "a", "1") // no grants at all
        const tags = []
        tags.push((yield* Effect.flip(env.router.send("a", "b", new Uint8Array(9))))._tag)
        tags.push((yield* Effect.flip(env.router.send("a", "b", text("x"))))._tag)
        tags.push((yield* Effect.flip(env.router.send("a", "b", text("x"))))._tag)
        tags.push((yield* Effect.flip(env.router.send("a", "b", new Uint8Array(9))))._tag)
        assert.deepStrictEqual(tags, ["PayloadTooLarge", "CapabilityDenied", "RateLimited", "PayloadTooLarge"])
      }), { maxPayloadBytes: 8, rateLimit: { perSecond: 1 } }))

  it.effect("guard - a sender that leaves loses its grants at once; registered again, it starts afresh", () =>
    withRouter((env) =>
      Effect.gen(function*() {
        yield* echo(env, "b", "b", "1")
        const first = yield* Scope.make()
        const a1 = yield* echo(env, "a", "a", "1", ["b"]).pipe(Scope.provide(first))
        yield* env.router.sendNow("a", "b", text("one"))
        assert.strictEqual((yield* Effect.flip(env.router.sendNow("a", "b", text("two"))))._tag, "RateLimited")
        // Unregistered (no fiber step for the router to hear of it): no grants, whatever it held before.
        assert.isTrue(yield* env.registry.unregister("a"))
        assert.strictEqual((yield* Effect.flip(env.router.sendNow("a", "b", text("three"))))._tag, "CapabilityDenied")
        // The same id again, with other grants: a new bucket, the new grants.
        yield* env.registry.register("a", "2", a1.ref, { grants: yield* Capability.decodeGrants([]) })
        assert.strictEqual((yield* Effect.flip(env.router.sendNow("a", "b", text("four"))))._tag, "CapabilityDenied")
        yield* Scope.close(first, Exit.void)
      }), { rateLimit: { perSecond: 1 } }))

  it.effect("publish - fan-out to every subscriber, in order; unsubscribe; leavers are dropped", () =>
    withRouter((env) =>
      Effect.gen(function*() {
        const subscribers = [
          yield* echo(env, "s1", "s1", "1", ["prices.*"]),
          yield* echo(env, "s2", "s2", "1", ["prices.**"]),
          yield* echo(env, "s3", "s3", "1", ["prices.eur"])
        ]
        const scope = yield* Scope.make()
        yield* echo(env, "s4", "s4", "1", ["prices.eur"]).pipe(Scope.provide(scope))
        for (const id of ["s1", "s2", "s3", "s4"]) yield* env.router.subscribe(id, "prices.eur")
        yield* env.router.subscribe("s1", "prices.eur") // idempotent
        assert.deepStrictEqual(yield* env.router.subscribers("prices.eur"), ["s1", "s2", "s3", "s4"])
        yield* Scope.close(scope, Exit.void)
        yield* Effect.yieldNow
        assert.deepStrictEqual(yield* env.router.subscribers("prices.eur"), ["s1", "s2", "s3"])
        for (const price of ["1.01", "1.02", "1.03"]) {
          assert.strictEqual(yield* env.router.publish("host", "prices.eur", text(price)), 3)
        }
        assert.isTrue(yield* env.router.unsubscribe("s2", "prices.eur"))
        assert.isFalse(yield* env.router.unsubscribe("s2", "prices.eur"))
        assert.strictEqual(yield* env.router.publish("host", "prices.eur", text("1.04")), 2)
        assert.strictEqual(yield* env.router.publish("host", "prices.usd", text("0.99")), 0)
        for (const s of subscribers) yield* s.ref.request(text("sync"))
        assert.deepStrictEqual(subscribers.map((s) => s.logged), [
          ["1.01", "1.02", "1.03", "1.04", "sync"],
          ["1.01", "1.02", "1.03", "sync"],
          ["1.01", "1.02", "1.03", "1.04", "sync"]
        ])
        assert.strictEqual((yield* Effect.flip(env.router.subscribe("nobody", "prices.eur")))._tag, "UnknownTarget")
        // A subscriber that stopped (still registered: no registry hooks here) gets a dead letter instead.
        yield* subscribers[0]!.ref.stop()
        assert.strictEqual(yield* env.router.publish("host", "prices.eur", text("1.05")), 1)
        assert.deepStrictEqual(
          (yield* env.deadLetters.letters).map((l) => [l.target, l.message.topic, decode(l.message.payload), l.reason, l.error]),
          [["s1", "prices.eur", "1.05", "Stopped", "actor s1 is stopped"]]
        )
      })
    ))
  it.effect("failFast - a full mailbox is MailboxFull for send; a subscriber's copy of a publish is dead-lettered", () =>
    withRouter((env) =>
      Effect.gen(function*() {
        // Not running: its mailbox (capacity 1) fills up and stays full.
        const ref = yield* Actor.make(yield* load("lifecycle"), { id: "full", mailbox: { capacity: 1 } })
        const grants = yield* Capability.decodeGrants([{ type: "Messaging", pattern: "t" }])
        yield* env.registry.register("full", "1", ref, { grants })
        yield* env.router.subscribe("full", "t")
        yield* env.router.send("host", "full", text("one"), { failFast: true })
        const error = yield* Effect.flip(env.router.send("host", "full", text("two"), { failFast: true }))
        assert.strictEqual(error._tag, "MailboxFull")
        assert.strictEqual(yield* env.router.publish("host", "t", text("news"), { failFast: true }), 0)
        assert.deepStrictEqual(
          (yield* env.deadLetters.letters).map((l) => [l.target, l.reason, l.message.topic, decode(l.message.payload)]),
          [["full", "MailboxFull", "t", "news"]]
        )
      })
    ))

  it.effect("reroute - by name, a message the stopping version refused goes to the new route; by name@version it does not", () =>
    withRouter((env) =>
      Effect.gen(function*() {
        const component = yield* load("lifecycle")
        // v1 is not running: its mailbox (capacity 1) is full, and senders wait for room.
        const v1 = yield* Actor.make(component, { id: "svc@1", mailbox: { capacity: 1 } })
        yield* env.registry.register("svc", "1", v1)
        const v2 = yield* counter(env, "svc@2", "svc", "2")
        yield* env.router.send("host", "svc", text("queued"))
        const byName = yield* Effect.forkChild(env.router.send("host", "svc", text("waiting")), { startImmediately: true })
        const byVersion = yield* Effect.forkChild(env.router.send("host", "svc@1", text("waiting")), { startImmediately: true })
        yield* env.registry.route("svc", "2")
        yield* v1.stop()
        yield* Fiber.join(byName)
        assert.strictEqual((yield* Effect.flip(Fiber.join(byVersion)))._tag, "ActorStopped")
        assert.strictEqual(u32(yield* env.router.request("host", "svc", text("x"))), 2)
        assert.strictEqual((yield* v2.stats).handled, 2)
      })
    ))
})
