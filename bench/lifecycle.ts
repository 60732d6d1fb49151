/**
 * The full lifecycle of a component actor — cached load → spawn → request (a real wasm call, 16 B) →
 * graceful stop — beside the same steps done by hand with raw V8, with jco's glue as-is, and with a plain
 * Effect fiber serving a Queue (no wasm), measured in the same run. The original design's table claims
 * 1.49 µs for this without running any WebAssembly.
 */
import { Deferred, Effect, Fiber, Queue } from "effect"
import { Actor, Component } from "../src/index.ts"
import { guestBytes } from "../test/fixtures.ts"
import { jcoAsIs, rawCall } from "./engine.ts"
import { measureBatch, type Options, type Row } from "./harness.ts"

const suite = "lifecycle"

export const lifecycle = async (options: Options): Promise<ReadonlyArray<Row>> => {
  const input = new Uint8Array(16).fill(9)
  const echo = await jcoAsIs(guestBytes("echo"))
  const bytes = guestBytes("lifecycle")
  const component = await Effect.runPromise(Component.fromBytes(bytes))
  const iterations = 2_000

  const rawNs = await measureBatch(options, iterations, (n) => {
    for (let i = 0; i < n; i++) rawCall(echo.core)(input)
  })
  const jcoNs = await measureBatch(options, iterations, async (n) => {
    for (let i = 0; i < n; i++) (await echo.glue.instantiate(echo.getCoreModule, {})).process(input)
  })
  const effectNs = await measureBatch(options, iterations, (n) =>
    Effect.runPromise(Effect.gen(function*() {
      for (let i = 0; i < n; i++) {
        const queue = yield* Queue.bounded<[Uint8Array, Deferred.Deferred<Uint8Array>]>(1024)
        const fiber = yield* Effect.forkChild(
          Effect.forever(Effect.flatMap(Queue.take(queue), ([payload, reply]) => Deferred.succeed(reply, payload))),
          { startImmediately: true }
        )
        const reply = yield* Deferred.make<Uint8Array>()
        yield* Queue.offer(queue, [input, reply])
        yield* Deferred.await(reply)
        yield* Fiber.interrupt(fiber)
      }
    })))

  let handled = 0
  const lifecycles = (n: number) =>
    Effect.runPromise(Effect.gen(function*() {
      for (let i = 0; i < n; i++) {
        yield* Effect.scoped(Effect.gen(function*() {
          const loaded = yield* Component.fromBytes(bytes) // cached: a hash and a lookup
          const ref = yield* Actor.spawn(loaded, { id: `lifecycle-${i}`, imports: {} })
          if ((yield* ref.request(input)) !== undefined) handled++
          yield* ref.stop()
        }))
      }
    }))
  const fullNs = await measureBatch(options, iterations, lifecycles)
  const warm = (n: number) => Effect.runSync(Component.prewarm(component, n))
  const pooledNs = await measureBatch(options, iterations, lifecycles, 7, warm)
  Effect.runSync(Component.prewarm(component, 0))
  if (handled === 0) throw new Error("no lifecycle got a reply")

  const raw = "raw: new Instance + call (16 B)"
  const jco = "jco as-is: instantiate + call"
  const effect = "Effect fiber: fork, Queue/Deferred request, interrupt"
  return [
    { suite, name: raw, nsPerOp: rawNs, note: "echo core module, new WebAssembly.Instance, copy in/out" },
    { suite, name: jco, nsPerOp: jcoNs, baseline: raw, note: "echo component through jco's glue, 16 B call" },
    { suite, name: effect, nsPerOp: effectNs, note: "the actor pattern with no wasm" },
    {
      suite,
      name: "full lifecycle: cached load → spawn → request → stop",
      nsPerOp: fullNs,
      baseline: [jco, raw, effect],
      note: "lifecycle guest: init, 1 handle-message, shutdown"
    },
    {
      suite,
      name: "full lifecycle, warm pool",
      nsPerOp: pooledNs,
      baseline: [jco, raw, effect],
      note: "instances prepared ahead (untimed)"
    }
  ]
}
