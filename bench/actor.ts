/**
 * Actors: spawn (new instance of a cached component + actor ready), restart after a trap until serving
 * again, and request-response through an actor with a real wasm call — beside Effect's Queue + Deferred
 * round trip and the instance call alone, measured in the same run.
 */
import { Deferred, Effect, Exit, Logger, Queue, Schedule, Scope } from "effect"
import { Actor, Component, DeadLetters, Supervisor } from "../src/index.ts"
import { fuelImportModule, makeFuelHost } from "../src/internal/run/fuelMeter.ts"
import { guestBytes } from "../test/fixtures.ts"
import { measureBatch, type Options, type Row } from "./harness.ts"

// The lifecycle guest imports nothing, so calls take the direct canonical-ABI path.
const imports = {}

/**
 * Like `measureBatch`, for ops timed one by one with untimed set-up between them: `batch(n)` runs `n` ops
 * and returns the nanoseconds it timed; the median of the rounds (after one warm-up round), per op.
 */
const measureEach = async (
  options: Options,
  iterations: number,
  batch: (n: number) => Promise<number>,
  rounds = 7
): Promise<number> => {
  const n = options.smoke ? Math.min(iterations, 20) : iterations
  const times: Array<number> = []
  for (let round = 0; round <= (options.smoke ? 1 : rounds); round++) {
    const timed = await batch(n)
    if (round > 0) times.push(timed / n)
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!
}

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

  // The floor under any instantiation: V8 creating the component's core instance(s), nothing else (a
  // metered core module imports only the fuel host's refill function).
  const fuelHost = makeFuelHost()
  const coreModules = [...component.loaded.modules.values()].map((module) => ({
    module,
    imports: WebAssembly.Module.imports(module).some((entry) => entry.module === fuelImportModule)
      ? { [fuelImportModule]: fuelHost.imports }
      : {}
  }))
  const coreInstanceNs = await measureBatch(options, 2_000, (n) => {
    for (let i = 0; i < n; i++) for (const { module, imports } of coreModules) new WebAssembly.Instance(module, imports)
  })
  // Latency of one spawn (→ Running) with a prepared instance waiting, as a warm pool of 16 keeps it:
  // the pool is topped up and the actor torn down between spawns, untimed.
  const spawnLatencyNs = await measureEach(options, 2_000, (n) =>
    Effect.runPromise(Effect.gen(function*() {
      let timed = 0n
      for (let i = 0; i < n; i++) {
        Effect.runSync(Component.prewarm(component, 16))
        const scope = yield* Scope.make()
        const started = process.hrtime.bigint()
        const ref = yield* Actor.spawn(component, { id: `l${i}`, imports }).pipe(Scope.provide(scope))
        timed += process.hrtime.bigint() - started
        if (ref.status !== "Running") throw new Error(`actor not ready: ${ref.status}`)
        yield* Scope.close(scope, Exit.void)
      }
      return Number(timed)
    })))
  Effect.runSync(Component.prewarm(component, 0))
  const trapPayload = new TextEncoder().encode("trap")
  // Restart under a supervisor (backoff 0, logs discarded): trap, the supervisor restarts the child with a
  // fresh instance, and the next request is served by it.
  const supervisedRestartNs = await measureBatch(options, 2_000, (n) =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const ref = yield* Actor.make(component, { id: "supervised", imports })
      yield* Supervisor.start({
        id: "bench",
        intensity: { maxRestarts: n + 1, period: "1 hour" },
        backoff: Schedule.forever,
        children: [Actor.child(ref)]
      })
      for (let i = 0; i < n; i++) {
        yield* Effect.ignore(ref.request(trapPayload))
        yield* ref.request(input)
      }
    })).pipe(
      Effect.provide(Logger.layer([])),
      Effect.provideService(DeadLetters.DeadLetters, DeadLetters.makeStore())
    )), 7, warm)
  Effect.runSync(Component.prewarm(component, 0))
  // The restart row above with a dead-letter store of its own per round: the default store is shared by
  // the whole run, and past its capacity (10,000 letters) every trap pays for trimming it.
  const restartOwnStoreNs = await measureBatch(options, 2_000, (n) =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const ref = yield* Actor.make(component, { id: "restarting", imports })
      const scope = yield* Scope.make()
      yield* Effect.forkIn(Effect.ignore(ref.run), scope, { startImmediately: true })
      for (let i = 0; i < n; i++) {
        yield* Effect.ignore(ref.request(trapPayload))
        yield* Effect.forkIn(Effect.ignore(ref.run), scope, { startImmediately: true })
        yield* ref.request(input)
      }
      yield* Scope.close(scope, Exit.void)
    })).pipe(Effect.provideService(DeadLetters.DeadLetters, DeadLetters.makeStore()))), 7, warm)
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
    { suite, name: "new WebAssembly.Instance (core modules alone)", nsPerOp: coreInstanceNs, baseline: "Component.instantiate", note: "floor of a fresh instance" },
    { suite, name: "Actor.spawn → Running, prepared instance (latency)", nsPerOp: spawnLatencyNs, baseline: "new WebAssembly.Instance (core modules alone)", targetNs: 50_000, note: "pool of 16, topped up between spawns" },
    { suite, name: "restart under Supervisor → serving", nsPerOp: supervisedRestartNs, baseline: "Component.instantiate", targetNs: 100_000, note: "backoff 0, warm pool" },
    { suite, name: "restart after trap → serving, own dead letters", nsPerOp: restartOwnStoreNs, baseline: "Component.instantiate", targetNs: 100_000, note: "warm pool" },
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
