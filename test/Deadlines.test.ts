/**
 * Timeouts that hold, with real guests: a guest looping through host functions is stopped at its
 * timeout plus one host call (F4); a guest suspended in a host call (`messaging.request`, a clock
 * pollable) is held to its call's deadline whatever `timeout-ms` it asked for, and a caller's own
 * timeout bounds its wait whatever the target is doing (F2). Time comes from a `Clock`: `TestClock`, or
 * one that ticks a millisecond per reading (so "past the deadline" is counted in host calls, not
 * measured).
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as Actor from "../src/Actor.ts"
import * as Audit from "../src/Audit.ts"
import * as Logging from "../src/capability/Logging.ts"
import * as Messaging from "../src/capability/Messaging.ts"
import * as Storage from "../src/capability/Storage.ts"
import * as Capability from "../src/Capability.ts"
import * as Component from "../src/Component.ts"
import * as Linker from "../src/Linker.ts"
import * as Registry from "../src/Registry.ts"
import * as Router from "../src/Router.ts"
import { guestPath, program, text } from "./fixtures.ts"

/** A clock that moves one millisecond each time it is read. */
const tickingClock = (base: Clock.Clock): Clock.Clock => {
  let now = 1_000_000
  return {
    ...base,
    currentTimeMillisUnsafe: () => ++now,
    currentTimeNanosUnsafe: () => BigInt(++now) * 1_000_000n
  }
}

/** Logging that records the clock reading at each line. */
const countingLogging = (clock: () => number, at: Array<number>) =>
  Layer.succeed(Logging.Logging, Logging.Logging.of({ log: () => Effect.sync(() => void at.push(clock())) }))

const grants = Capability.makeGrants([
  new Capability.Storage({ namespace: "ns" }),
  new Capability.Messaging({ pattern: "*" })
])

const routing = Layer.provideMerge(Router.Router.layer, Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 1000 })))
const linking = (logging: Layer.Layer<Logging.Logging>) =>
  Linker.layer([Logging.hostInterface, Messaging.hostInterface, Storage.hostInterface]).pipe(
    Layer.provideMerge(Layer.mergeAll(logging, Messaging.layer, Storage.layerMemory())),
    Layer.provideMerge(routing)
  )

describe("F4 - a guest looping through host calls is stopped at its timeout", () => {
  for (const [what, op] of [["logging.log", "x"], ["storage.get", "X"]] as const) {
    for (const fuel of [Infinity, 1e9]) {
      it.effect(`${what} in a loop, fuel ${fuel} - LimitExceeded(timeout), at most one host call past the deadline`, () =>
        Effect.gen(function*() {
          const clock = tickingClock(yield* Clock.Clock)
          const logged: Array<number> = []
          const calls = 200_000
          const error = yield* Effect.gen(function*() {
            const component = yield* Component.fromFile(guestPath("liar-linked"), { limits: { fuel, timeout: Duration.seconds(5) } })
            const instance = yield* Linker.instantiate(component, { id: "looper", grants })
            const started = clock.currentTimeMillisUnsafe()
            const error = yield* Effect.flip(instance.handleMessage({ sender: "t", payload: program(op, calls, 0, text("k")) }))
            return { error, started }
          }).pipe(
            Effect.provide(linking(countingLogging(() => clock.currentTimeMillisUnsafe(), logged))),
            Effect.provideService(Clock.Clock, clock)
          )
          assert.strictEqual(error.error._tag, "LimitExceeded")
          assert.strictEqual((error.error as { limit?: string }).limit, "timeout")
          if (op === "x") {
            // Each host call reads the clock twice here (the deadline check, the log's own reading): it
            // stops within a few thousand calls, not after all of them, and none runs past the deadline.
            assert.isBelow(logged.length, 5_000)
            assert.isTrue(logged.every((at) => at <= error.started + 5_000 + 2))
          }
        }))
    }
  }
})

const messagingHost = Layer.mergeAll(Logging.layerMemory, Messaging.layer, Storage.layerMemory()).pipe(
  Layer.provideMerge(routing)
)
const messagingLinker = Linker.layer([Logging.hostInterface, Messaging.hostInterface, Storage.hostInterface]).pipe(
  Layer.provideMerge(messagingHost)
)

// `messenger` 'r' TARGET PAYLOAD: request(TARGET, PAYLOAD, 1000 ms). `asker`: request(payload as
// target, sender, 1000 ms). A guest asking itself waits until its request times out.
const field = (s: string) => [s.length, ...text(s)]

/** Lets settled promises (a guest resumed by JSPI) run, without waiting on any clock. */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 10; i++) yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
})

/** `messenger` linked as `id`, spawned and registered with the router. */
const spawnMessenger = (id: string, timeout: Duration.Duration) =>
  Effect.gen(function*() {
    const component = yield* Component.fromFile(guestPath("messenger"), { limits: { timeout } })
    const registry = yield* Registry.Registry
    const ref = yield* Actor.spawn(component, {
      id,
      imports: yield* Linker.imports(component, { id, grants }),
      hooks: registry.hooks
    })
    yield* registry.register(id, "1", ref, { grants })
    return ref
  })

// `messenger` 'r' TARGET PAYLOAD: request(TARGET, PAYLOAD, timeout-ms 1000). Asking itself, it waits
// until that request times out (the actor is busy with the asking message).
const askSelf = (id: string) => new Uint8Array([0x72, ...field(id), ...field("hi")])

describe("F2 - timeouts hold while the target guest is suspended in a host call", () => {
  it.effect("a guest's timeout-ms (1000) is capped by its call's deadline (300 ms): LimitExceeded at 300 ms", () =>
    Effect.gen(function*() {
      const ref = yield* spawnMessenger("self-asker", Duration.millis(300))
      const fiber = yield* Effect.forkChild(ref.request(askSelf("self-asker"), { timeout: "10 seconds" }), { startImmediately: true })
      yield* settle
      yield* TestClock.adjust("301 millis")
      yield* settle
      const exit = fiber.pollUnsafe()
      assert.isDefined(exit, "still waiting past the call's 300 ms deadline")
      assert.strictEqual(exit!._tag, "Failure")
      assert.match(String(exit!._tag === "Failure" ? exit!.cause : ""), /LimitExceeded/)
    }).pipe(Effect.provide(messagingLinker)))

  for (const via of ["actor.request", "router.request"] as const) {
    it.effect(`${via} with a 300 ms timeout gives up at 300 ms on an idle actor suspended in its own 1 s request`, () =>
      Effect.gen(function*() {
        // The guest's call may run 20 s; its request waits 1 s; the caller waits 300 ms.
        const ref = yield* spawnMessenger("busy", Duration.seconds(20))
        const router = yield* Router.Router
        const ask = via === "actor.request"
          ? ref.request(askSelf("busy"), { timeout: "300 millis" })
          : router.request("host", "busy", askSelf("busy"), { timeout: "300 millis" })
        const fiber = yield* Effect.forkChild(ask, { startImmediately: true })
        yield* settle
        yield* TestClock.adjust("301 millis")
        yield* settle
        const exit = fiber.pollUnsafe()
        assert.isDefined(exit, "the caller is still waiting after its 300 ms timeout")
        assert.match(String(exit!._tag === "Failure" ? exit!.cause : ""), /RequestTimeout/)
        // The actor serves again once the guest's own request has timed out.
        yield* TestClock.adjust("1 second")
        yield* settle
        assert.strictEqual(ref.status, "Running")
      }).pipe(Effect.provide(messagingLinker)))
  }
})
