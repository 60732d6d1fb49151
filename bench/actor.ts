/**
 * Actors: spawn (new instance of a cached component + actor ready), restart after a trap until serving
 * again, and request-response through an actor with a real wasm call — beside Effect's Queue + Deferred
 * round trip and the instance call alone, measured in the same run.
 */
import { Deferred, Effect, Exit, Queue, Scope } from "effect"
import { Actor, Component } from "../src/index.ts"
import { guestBytes } from "../test/fixtures.ts"
import { measureBatch, type Options, type Row } from "./harness.ts"

// The lifecycle guest imports nothing, so calls take the direct canonical-ABI path.
const imports = {}

export const actor = async (options: Options): Promise<ReadonlyArray<Row>> => {
  const component = await Effect.runPromise(Component.fromBytes(guestBytes("lifecycle")))
  const input = new Uint8Array(16).fill(7)
  const suite = "actor"

  const instantiateNs = await measureBatch(options, 2_000, (n) =>
    Effect.runSync(Effect.gen(function*() {
      for (let i = 0; i < n; i++) yield* Effect.scoped(Component.instantiate(component, { imports }))
    })))
  const spawnAll = (n: number) =>
    Effect.runPromise(Effect.gen(function*() {
      for (let i = 0; i < n; i++) {
        yield* Effect.scoped(Effect.gen(function*() {
          const ref = yield* Actor.spawn(component, { id: `a${i}`, imports })
          if (ref.status !== "Running") throw new Error(`actor not ready: ${ref.status}`)
        }))
      }
    }))
  const coldSpawnNs = await measureBatch(options, 2_000, spawnAll)
  // Warm: every spawn finds an instance prepared ahead (the pool is filled, untimed, before each round).
  const warm = (n: number) => Effect.runSync(Component.prewarm(component, n))
  const spawnNs = await measureBatch(options, 2_000, spawnAll, 7, warm)
  Effect.runSync(Component.prewarm(component, 0))

  // Restart: the guest traps on a request, a new incarnation starts, and it serves again.
  const restartNs = await measureBatch(options, 2_000, (n) =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const ref = yield* Actor.make(component, { id: "restarting", imports })
      const scope = yield* Scope.make()
      yield* Effect.forkIn(Effect.ignore(ref.run), scope, { startImmediately: true })
      for (let i = 0; i < n; i++) {
        yield* Effect.ignore(ref.request(new TextEncoder().encode("trap")))
        yield* Effect.forkIn(Effect.ignore(ref.run), scope, { startImmediately: true })
        yield* ref.request(input)
      }
      yield* Scope.close(scope, Exit.void)
    }))), 7, warm)
  Effect.runSync(Component.prewarm(component, 0))

  const calls = 100_000
  const instanceCallNs = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const instance = yield* Component.instantiate(component, { imports })
    const message = { sender: "bench", payload: input }
    return yield* Effect.promise(() =>
      measureBatch(options, calls, (n) =>
        Effect.runSync(Effect.gen(function*() {
          for (let i = 0; i < n; i++) yield* instance.handleMessage(message)
        }))))
  })))
  const queueDeferredNs = await measureBatch(options, calls, (n) =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const queue = yield* Queue.bounded<[Uint8Array, Deferred.Deferred<Uint8Array>]>(1024)
      yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(queue), ([payload, reply]) => Deferred.succeed(reply, payload))))
      for (let i = 0; i < n; i++) {
        const reply = yield* Deferred.make<Uint8Array>()
        yield* Queue.offer(queue, [input, reply])
        yield* Deferred.await(reply)
      }
    }))))
  const requestNs = await measureBatch(options, calls, (n) =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const ref = yield* Actor.spawn(component, { id: "bench-request", imports })
      for (let i = 0; i < n; i++) yield* ref.request(input)
    }))))
  const sendNs = await measureBatch(options, calls, (n) =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const ref = yield* Actor.spawn(component, { id: "bench-send", imports, mailbox: { capacity: 4096 } })
      for (let i = 0; i < n; i++) yield* ref.send(input)
      yield* ref.request(input)
    }))))

  return [
    { suite, name: "Component.instantiate", nsPerOp: instantiateNs },
    { suite, name: "Actor.spawn, no pool", nsPerOp: coldSpawnNs, baseline: "Component.instantiate" },
    {
      suite,
      name: "Actor.spawn, warm pool",
      nsPerOp: spawnNs,
      baseline: ["Component.instantiate", "peer: Extism createPlugin (compiled Module)"],
      targetNs: 50_000
    },
    { suite, name: "restart after trap → serving", nsPerOp: restartNs, baseline: "Component.instantiate", targetNs: 100_000 },
    { suite, name: "Instance.handleMessage (16 B)", nsPerOp: instanceCallNs },
    { suite, name: "Effect Queue+Deferred round trip", nsPerOp: queueDeferredNs },
    {
      suite,
      name: "Actor.request (16 B, wasm)",
      nsPerOp: requestNs,
      baseline: ["Effect Queue+Deferred round trip", "Instance.handleMessage (16 B)", "peer: Extism plugin.call (16 B echo)"],
      targetNs: 3_000
    },
    { suite, name: "Actor.send (16 B, wasm)", nsPerOp: sendNs, baseline: "Instance.handleMessage (16 B)", note: "sender and actor interleave" }
  ]
}
