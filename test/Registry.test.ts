import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option, Scope, Stream } from "effect"
import { Actor, Capability, Component } from "../src/index.ts"
import * as Registry from "../src/Registry.ts"
import { guestPath, text } from "./fixtures.ts"

const load = (name: string) => Component.fromFile(guestPath(name))

const withRegistry = <A, E, R>(f: (registry: Registry.Registry["Service"]) => Effect.Effect<A, E, R>) =>
  Effect.provide(Effect.gen(function*() {
    return yield* f(yield* Registry.Registry)
  }), Registry.Registry.layer)

/** Collects the next `n` events; subscribed before it returns. */
const nextEvents = (registry: Registry.Registry["Service"], n: number) =>
  Effect.forkChild(Stream.runCollect(Stream.take(registry.events, n)), { startImmediately: true })

const summary = (events: ReadonlyArray<Registry.Event>) => events.map((event) => `${event._tag} ${event.entry.id}`)

const counter = (id: string) => Effect.flatMap(load("lifecycle"), (component) => Actor.spawn(component, { id }))

describe("Registry", () => {
  it.effect("register - lookup by id, resolve by name and name@version, versions, list", () =>
    withRegistry((registry) =>
      Effect.gen(function*() {
        const v1 = yield* counter("counter@1")
        const v2 = yield* counter("counter-blue")
        const grants = yield* Capability.decodeGrants([{ type: "Messaging", pattern: "orders.*" }])
        yield* registry.register("counter", "1", v1)
        const entry = yield* registry.register("counter", "2", v2, { grants })
        assert.strictEqual(entry.grants, grants)
        assert.strictEqual(Option.getOrThrow(yield* registry.lookup("counter-blue")).ref, v2)
        assert.strictEqual(registry.lookupUnsafe("counter@1")?.ref, v1)
        assert.isUndefined(registry.lookupUnsafe("counter"), "a name is not an id")
        assert.isTrue(Option.isNone(yield* registry.lookup("nobody")))
        // The first version registered is the route.
        assert.strictEqual(Option.getOrThrow(yield* registry.resolve("counter")).version, "1")
        assert.strictEqual(registry.resolveUnsafe("counter@2")?.ref, v2)
        assert.strictEqual(registry.resolveUnsafe("counter-blue")?.ref, v2)
        assert.deepStrictEqual(yield* registry.versions("counter"), ["1", "2"])
        assert.deepStrictEqual(yield* registry.versions("nothing"), [])
        assert.deepStrictEqual((yield* registry.list).map((e) => [e.id, e.name, e.version]), [
          ["counter@1", "counter", "1"],
          ["counter-blue", "counter", "2"]
        ])
      })
    ))

  it.effect("register - one namespace: duplicates, the reserved host address and bad names are refused", () =>
    withRegistry((registry) =>
      Effect.gen(function*() {
        yield* registry.register("echo", "1", yield* counter("echo-1"))
        const reasons = []
        for (
          const [name, version, id] of [
            ["other", "1", "echo-1"], // id taken
            ["echo", "1", "fresh"], // echo@1 taken
            ["x", "1", "echo"], // id is someone's name
            ["echo-1", "1", "fresh-2"], // name is someone's id
            ["host", "1", "h"],
            ["a", "1", "host"],
            ["", "1", "empty"],
            ["a@b", "1", "at"]
          ] as const
        ) {
          const error = yield* Effect.flip(registry.register(name, version, yield* counter(id)))
          reasons.push(`${error.reason} ${error.address}`)
        }
        assert.deepStrictEqual(reasons, [
          "Duplicate echo-1",
          "Duplicate echo@1",
          "Duplicate echo",
          "Duplicate echo-1",
          "Reserved host",
          "Reserved host",
          "InvalidName @1",
          "InvalidName a@b@1"
        ])
        assert.deepStrictEqual((yield* registry.list).map((e) => e.id), ["echo-1"])
      })
    ))

  it.effect("scope - the entry leaves when the actor's scope closes, with an Unregistered event", () =>
    withRegistry((registry) =>
      Effect.gen(function*() {
        const events = yield* nextEvents(registry, 3)
        const scope = yield* Scope.make()
        yield* Effect.gen(function*() {
          const ref = yield* counter("short@1")
          yield* registry.register("short", "1", ref)
        }).pipe(Scope.provide(scope))
        assert.isDefined(registry.lookupUnsafe("short@1"))
        yield* Scope.close(scope, Exit.void)
        assert.isUndefined(registry.lookupUnsafe("short@1"))
        assert.isUndefined(registry.resolveUnsafe("short"))
        assert.deepStrictEqual(yield* registry.versions("short"), [])
        assert.deepStrictEqual(summary(yield* Fiber.join(events)), ["Registered short@1", "Routed short@1", "Unregistered short@1"])
        // The id can be taken again.
        yield* registry.register("short", "1", yield* counter("short@1"))
        assert.isTrue(yield* registry.unregister("short@1"))
        assert.isFalse(yield* registry.unregister("short@1"))
      })
    ))

  it.effect("register - an id equal to its name follows the name's route", () =>
    withRegistry((registry) =>
      Effect.gen(function*() {
        const solo = yield* counter("solo")
        yield* registry.register("solo", "1", solo)
        assert.strictEqual(registry.resolveUnsafe("solo")?.ref, solo)
        const scope = yield* Scope.make()
        yield* Effect.flatMap(counter("solo@2"), (ref) => registry.register("solo", "2", ref)).pipe(Scope.provide(scope))
        yield* registry.route("solo", "2")
        assert.strictEqual(registry.resolveUnsafe("solo")?.id, "solo@2")
        assert.strictEqual(registry.lookupUnsafe("solo")?.ref, solo)
        yield* Scope.close(scope, Exit.void)
        assert.strictEqual(registry.resolveUnsafe("solo")?.ref, solo)
        yield* registry.unregister("solo")
        assert.isUndefined(registry.resolveUnsafe("solo"))
      })
    ))

  it.effect("events - delivered to every subscriber, in order", () =>
    withRegistry((registry) =>
      Effect.gen(function*() {
        const first = yield* nextEvents(registry, 4)
        const second = yield* nextEvents(registry, 4)
        yield* registry.register("svc", "1", yield* counter("svc@1"))
        yield* registry.register("svc", "2", yield* counter("svc@2"))
        yield* registry.route("svc", "2")
        const expected = ["Registered svc@1", "Routed svc@1", "Registered svc@2", "Routed svc@2"]
        assert.deepStrictEqual(summary(yield* Fiber.join(first)), expected)
        assert.deepStrictEqual(summary(yield* Fiber.join(second)), expected)
      })
    ))

  it.effect("route - blue-green switch, rollback, and fallback when the routed version leaves", () =>
    withRegistry((registry) =>
      Effect.gen(function*() {
        yield* registry.register("svc", "1", yield* counter("svc@1"))
        const scope2 = yield* Scope.make()
        yield* Effect.flatMap(counter("svc@2"), (ref) => registry.register("svc", "2", ref)).pipe(Scope.provide(scope2))
        yield* registry.register("svc", "3", yield* counter("svc@3"))
        const routed = () => registry.resolveUnsafe("svc")?.version
        assert.strictEqual(routed(), "1")
        yield* registry.route("svc", "2")
        assert.strictEqual(routed(), "2")
        yield* registry.route("svc", "3")
        assert.strictEqual((yield* registry.rollback("svc")).version, "2")
        assert.strictEqual((yield* registry.rollback("svc")).version, "1")
        assert.strictEqual((yield* Effect.flip(registry.rollback("svc"))).reason, "NoPreviousRoute")
        assert.strictEqual((yield* Effect.flip(registry.route("svc", "9"))).reason, "UnknownVersion")
        assert.strictEqual((yield* Effect.flip(registry.route("nope", "1"))).reason, "UnknownName")
        // v2 routed after v1; v2 leaves: the route falls back to the last routed version still here.
        yield* registry.route("svc", "2")
        yield* Scope.close(scope2, Exit.void)
        assert.strictEqual(routed(), "1")
        assert.deepStrictEqual(yield* registry.versions("svc"), ["1", "3"])
      })
    ))

  it.effect("hooks - starts, restarts and crashes are reported; a graceful stop reports Stopped and unregisters", () =>
    withRegistry((registry) =>
      Effect.gen(function*() {
        const component = yield* load("lifecycle")
        const ref = yield* Actor.make(component, { id: "life@1", hooks: registry.hooks })
        yield* registry.register("life", "1", ref)
        const events = yield* nextEvents(registry, 5)
        yield* Effect.forkScoped(ref.run, { startImmediately: true })
        assert.strictEqual((yield* Effect.flip(ref.request(text("trap"))))._tag, "Trap")
        yield* Effect.forkScoped(ref.run, { startImmediately: true })
        assert.strictEqual(ref.status, "Running")
        yield* ref.stop()
        assert.isUndefined(registry.lookupUnsafe("life@1"))
        assert.deepStrictEqual(summary(yield* Fiber.join(events)), [
          "Started life@1",
          "Crashed life@1",
          "Restarted life@1",
          "Stopped life@1",
          "Unregistered life@1"
        ])
      })
    ))
})
