/**
 * The observer's cost to a call when nobody is watching: a request to a registered wasm actor with the
 * Observer layer present (its sampler running, no browser connected) against the same without it, in
 * the same run, measured in alternating rounds so drift on a shared machine hits both alike.
 */
import { Context, Effect, Layer } from "effect"
import { Actor, Component, Observer, Registry } from "../src/index.ts"
import { guestBytes } from "../test/fixtures.ts"
import { type Options, type Row } from "./harness.ts"

export const observer = async (options: Options): Promise<ReadonlyArray<Row>> => {
  const component = await Effect.runPromise(Component.fromBytes(guestBytes("lifecycle")))
  const input = new Uint8Array(16).fill(7)
  const suite = "observer"
  const calls = options.smoke ? 20 : 100_000
  const rounds = options.smoke ? 2 : 9

  // One host per variant, kept across rounds (its layers built in the run's scope): an actor registered
  // under a name, and (with) an observer serving on 127.0.0.1.
  const host = (withObserver: boolean) =>
    Effect.gen(function*() {
      const context = yield* Layer.build(Registry.Registry.layer)
      const registry = Context.get(context, Registry.Registry)
      const observing = withObserver ? yield* Layer.build(Layer.provide(Observer.layer(), Layer.succeedContext(context))) : undefined
      const id = withObserver ? "observed" : "unobserved"
      const ref = yield* Actor.spawn(component, { id, imports: {} })
      yield* registry.register(id, "1", ref)
      if (observing !== undefined && (yield* Context.get(observing, Observer.Observer).clients) !== 0) {
        throw new Error("a client is connected")
      }
      return ref
    })

  const run = (ref: Actor.ActorRef) =>
    Effect.runPromise(Effect.gen(function*() {
      for (let i = 0; i < calls; i++) yield* ref.request(input)
    }))

  const times: Record<"with" | "without", Array<number>> = { with: [], without: [] }
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const without = yield* host(false)
    const observed = yield* host(true)
    yield* Effect.promise(async () => {
      for (let round = 0; round <= rounds; round++) {
        for (const [variant, ref] of [["without", without], ["with", observed]] as const) {
          const started = process.hrtime.bigint()
          await run(ref)
          if (round > 0) times[variant].push(Number(process.hrtime.bigint() - started) / calls)
        }
      }
    })
  })))
  const median = (values: Array<number>) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!
  return [
    { suite, name: "Actor.request (16 B, wasm), registered, no observer", nsPerOp: median(times.without) },
    {
      suite,
      name: "Actor.request (16 B, wasm), registered, observer present, no client",
      nsPerOp: median(times.with),
      baseline: "Actor.request (16 B, wasm), registered, no observer",
      note: "sampler running (1 s); alternating rounds"
    }
  ]
}
