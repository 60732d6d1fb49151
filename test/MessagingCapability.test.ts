import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Actor, Audit, Capability, Component, DeadLetters, Linker, Logging, Messaging, ResourceLimits } from "../src/index.ts"
import * as Registry from "../src/Registry.ts"
import * as Router from "../src/Router.ts"
import { decode, guestPath, text } from "./fixtures.ts"

const load = (name: string) => Component.fromFile(guestPath(name))

/** A fresh host per test: registry, router, the messaging and logging host interfaces, audit, dead letters. */
const withHost = <A, E, R>(f: Effect.Effect<A, E, R>, options?: Router.Options) => {
  const deadLetters = DeadLetters.makeStore()
  const routing = Layer.provideMerge(
    options === undefined ? Router.Router.layer : Router.Router.layerWith(options),
    Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 1000 }))
  )
  const host = Linker.layer([Logging.hostInterface, Messaging.hostInterface]).pipe(
    Layer.provideMerge(Layer.mergeAll(Messaging.layer.pipe(Layer.provideMerge(routing)), Logging.layerMemory))
  )
  return f.pipe(Effect.provide(host), Effect.provideService(DeadLetters.DeadLetters, deadLetters))
}

/**
 * Links a guest as `id` with Messaging grants on `patterns`, spawns it, and registers it under `id`. A
 * guest without grants (a receiver) gets deny stubs for its messaging imports: it cannot link otherwise.
 */
const guest = (name: string, id: string, patterns: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const registry = yield* Registry.Registry
    const component = yield* load(name)
    const grants = yield* Capability.decodeGrants(patterns.map((pattern) => ({ type: "Messaging", pattern })))
    const imports = yield* Linker.imports(component, { id, grants, denyUnlinked: patterns.length === 0 })
    const ref = yield* Actor.spawn(component, { id, imports, hooks: registry.hooks })
    yield* registry.register(id, "1", ref, { grants })
    return ref
  })

/** A `messenger` command: op byte, then each field prefixed by its length. */
const command = (op: "s" | "r" | "p" | "u", ...fields: ReadonlyArray<string>) => {
  const bytes = [op.charCodeAt(0)]
  for (const field of fields) bytes.push(field.length, ...text(field))
  return new Uint8Array(bytes)
}

const host = (target: string, payload: Uint8Array) =>
  Effect.flatMap(Router.Router, (router) => router.request("host", target, payload))

/** What the guest answered: its reply as text, or its `err` as text. */
const answer = (target: string | Actor.ActorRef, payload: Uint8Array) =>
  (typeof target === "string" ? host(target, payload) : target.request(payload)).pipe(
    Effect.map((reply) => decode(reply!)),
    Effect.catch((error) => Effect.succeed(error._tag === "GuestError" ? `err ${String(error.payload)}` : error._tag))
  )

const linesOf = (component: string) =>
  Effect.map(Logging.lines, (lines) =>
    lines.filter((line) => line.component === component).map((line) => `${line.level} ${line.message}`))

const u32 = (bytes: Uint8Array | undefined) => new DataView(bytes!.buffer, bytes!.byteOffset).getUint32(0, true)

describe("Messaging host interface (guests through the router)", () => {
  it.effect("send - a guest's send is delivered with the guest as sender", () =>
    withHost(Effect.gen(function*() {
      const router = yield* Router.Router
      yield* guest("messenger", "m1", ["sink"])
      // host-calls logs what it gets and sends it back to the message's sender: the echo reaches m1 only
      // if the router delivered the message as m1's.
      yield* guest("host-calls", "sink", ["m1"])
      assert.strictEqual(yield* answer("m1", command("s", "sink", "hello")), "hello")
      // Barrier: a request from m1's address reaches the sink after "hello" and is echoed to m1 after it.
      // (Payloads starting with s, r, p or u are commands to a messenger: these do not.)
      yield* router.request("m1", "sink", text("barrier"))
      assert.strictEqual(yield* answer("m1", text("end")), "end")
      assert.deepStrictEqual(yield* linesOf("sink"), ["info hello", "info barrier"])
      assert.deepStrictEqual(yield* linesOf("m1"), ["info hello", "info barrier", "info end"])
      assert.deepStrictEqual(yield* (yield* DeadLetters.DeadLetters).letters, [])
    })))

  it.effect("request - the guest waits (JSPI) for the reply another wasm actor computes", () =>
    withHost(Effect.gen(function*() {
      yield* guest("messenger", "m1", ["counter"])
      const counter = yield* Actor.spawn(yield* load("lifecycle"), { id: "counter" })
      yield* (yield* Registry.Registry).register("counter", "1", counter)
      const first = yield* host("m1", command("r", "counter", "x"))
      const second = yield* host("m1", command("r", "counter", "x"))
      assert.deepStrictEqual([u32(first), u32(second)], [1, 2])
      assert.strictEqual((yield* counter.stats).handled, 2)
      // A target nobody holds: the guest's request fails with UnknownTarget, the guest answers err.
      yield* guest("messenger", "m2", ["**"])
      assert.strictEqual(
        yield* answer("m2", command("r", "ghost", "x")),
        "err UnknownTarget: nothing is registered at \"ghost\""
      )
    })))

  it.effect("publish / subscribe - topic messages reach subscribed guests through handle-message", () =>
    withHost(Effect.gen(function*() {
      const router = yield* Router.Router
      yield* guest("messenger", "s1", ["news.*"])
      yield* guest("messenger", "s2", ["news.*"])
      yield* guest("messenger", "p", ["news.sports"])
      assert.strictEqual(yield* answer("s1", command("u", "news.sports")), "news.sports")
      assert.strictEqual(yield* answer("s2", command("u", "news.weather")), "news.weather")
      assert.deepStrictEqual(yield* router.subscribers("news.sports"), ["s1"])
      assert.strictEqual(yield* answer("p", command("p", "news.sports", "goal")), "goal")
      // p may publish on news.sports only.
      assert.strictEqual(
        yield* answer("p", command("p", "news.weather", "rain")),
        "err CapabilityDenied: p has no Messaging capability for topic \"news.weather\""
      )
      for (const id of ["s1", "s2"]) yield* answer(id, text("end"))
      assert.deepStrictEqual(yield* linesOf("s1"), ["debug news.sports", "info goal", "info end"])
      assert.deepStrictEqual(yield* linesOf("s2"), ["info end"])
      // Subscribing needs the grant too.
      assert.strictEqual(
        yield* answer("p", command("u", "news.weather")),
        "err CapabilityDenied: p has no Messaging capability for topic \"news.weather\""
      )
    })))

  it.effect("capability - a guest cannot reach what its grants do not name; denials are audited", () =>
    withHost(Effect.gen(function*() {
      yield* guest("messenger", "m1", ["orders.*"])
      yield* guest("messenger", "orders.eu", [])
      yield* guest("messenger", "billing", [])
      assert.strictEqual(yield* answer("m1", command("s", "orders.eu", "ok")), "ok")
      assert.strictEqual(
        yield* answer("m1", command("s", "billing", "steal")),
        "err CapabilityDenied: m1 has no Messaging capability for target \"billing\""
      )
      assert.strictEqual(
        yield* answer("m1", command("r", "billing", "steal")),
        "err CapabilityDenied: m1 has no Messaging capability for target \"billing\""
      )
      yield* answer("billing", text("end"))
      yield* answer("orders.eu", text("end"))
      assert.deepStrictEqual(yield* linesOf("billing"), ["info end"])
      assert.deepStrictEqual(yield* linesOf("orders.eu"), ["info ok", "info end"])
      const denied = (yield* Audit.events).filter((e) => e.decision === "denied" && e.detail !== "link")
      assert.deepStrictEqual(denied.map((e) => [e.component, e.capability, e.resource]), [
        ["m1", "Messaging", "billing"],
        ["m1", "Messaging", "billing"]
      ])
      // Deny by default: no Messaging grant at all, no link.
      const component = yield* load("messenger")
      const error = yield* Effect.flip(Linker.imports(component, { id: "nobody", grants: Capability.emptyGrants }))
      assert.strictEqual(error.interface, "airssys:component/messaging")
      // Linked but never registered: the router knows no grants for it.
      const grants = Capability.makeGrants([new Capability.Messaging({ pattern: "**" })])
      const stray = yield* Actor.spawn(component, { id: "stray", imports: yield* Linker.imports(component, { id: "stray", grants }) })
      const refused = yield* Effect.flip(stray.request(command("s", "billing", "x")))
      assert.strictEqual(refused._tag === "GuestError" && refused.payload, "CapabilityDenied: stray has no Messaging capability for target \"billing\"")
    })))

  it.effect("guards - a guest's rate limit (TestClock) and payload limit", () =>
    withHost(
      Effect.gen(function*() {
        // The host hands m1 its commands directly (not through the router, whose size guard would see them).
        const m1 = yield* guest("messenger", "m1", ["sink"])
        yield* guest("messenger", "sink", [])
        const sent = []
        for (let i = 0; i < 3; i++) sent.push(yield* answer(m1, command("s", "sink", `m${i}`)))
        assert.deepStrictEqual(sent.slice(0, 2), ["m0", "m1"])
        assert.match(sent[2]!, /^err RateLimited: m1 is over its rate limit of 2 messages per second; retry in 500 ms$/)
        yield* TestClock.adjust("500 millis")
        assert.strictEqual(yield* answer(m1, command("s", "sink", "m3")), "m3")
        yield* TestClock.adjust("1 second")
        assert.strictEqual(
          yield* answer(m1, command("s", "sink", "123456789")),
          "err PayloadTooLarge: payload from m1 to sink is 9 bytes, over the limit of 8"
        )
        yield* answer("sink", text("end"))
        assert.deepStrictEqual(yield* linesOf("sink"), ["info m0", "info m1", "info m3", "info end"])
        // Rate and size refusals are audited by the Linker, with the reason.
        const refusals = (yield* Audit.events).filter((e) => e.decision === "denied" && e.detail !== "link").map((e) => e.detail)
        assert.deepStrictEqual(refusals, [
          "airssys:component/messaging@0.1.0#send: RateLimited",
          "airssys:component/messaging@0.1.0#send: PayloadTooLarge"
        ])
      }),
      { rateLimit: { perSecond: 2 }, maxPayloadBytes: 8 }
    ))

  it.effect("request cycle - A asks B, B asks A: a timeout error, never a hang (TestClock)", () =>
    withHost(Effect.gen(function*() {
      const a = yield* guest("messenger", "a", ["b"])
      // asker asks the target its payload names, sending its sender's id: B asks A back.
      const b = yield* guest("asker", "b", ["a"])
      const pending = yield* Effect.forkChild(answer("a", command("r", "b", "a")), { startImmediately: true })
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("1 second")
      const outcome = yield* Fiber.join(pending)
      assert.match(outcome, /^err .*RequestTimeout/)
      // Both serve again.
      assert.deepStrictEqual([a.status, b.status], ["Running", "Running"])
      assert.strictEqual(yield* answer("a", text("alive")), "alive")
    })))
  it.effect("a JavaScript guest (componentize-js) sends through the router as itself", () =>
    withHost(Effect.gen(function*() {
      const router = yield* Router.Router
      const registry = yield* Registry.Registry
      // 12 MB of SpiderMonkey: a trusted fixture, loaded without fuel metering to keep the test quick.
      const component = yield* Component.fromFile(guestPath("actor-js"), { limits: ResourceLimits.unlimited })
      const grants = Capability.makeGrants([new Capability.Messaging({ pattern: "peer" })])
      const js = yield* Actor.spawn(component, { id: "js", imports: yield* Linker.imports(component, { id: "js", grants }) })
      yield* registry.register("js", "1", js, { grants })
      yield* guest("flaky", "peer", ["js"])
      // A request from peer's address: js replies with the payload reversed...
      assert.strictEqual(decode((yield* router.request("peer", "js", text("abc")))!), "cba")
      // ...and on "send" it sends the payload back to its sender first, as "js".
      assert.strictEqual(decode((yield* router.request("peer", "js", text("send")))!), "dnes")
      assert.strictEqual(yield* answer("peer", text("end")), "end")
      assert.deepStrictEqual(yield* linesOf("js"), ["info js got 3 bytes from peer", "info js got 4 bytes from peer"])
      assert.deepStrictEqual(yield* linesOf("peer"), ["info send", "info end"])
      // Not granted: the JavaScript guest's err, from the router's refusal.
      yield* guest("flaky", "other", ["js"])
      const denied = yield* Effect.flip(router.request("other", "js", text("send")))
      assert.strictEqual(
        denied._tag === "GuestError" && denied.payload,
        "CapabilityDenied: js has no Messaging capability for target \"other\""
      )
    })))
})
