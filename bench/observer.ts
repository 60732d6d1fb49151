/**
 * The observer's cost to a call when nobody is watching: a request to a registered wasm actor with the
 * Observer layer present (serving, no browser connected) against the same without it, in the same run,
 * measured in alternating rounds (and order) so drift on a shared machine hits both alike. And what one
 * sample of 1,000 actors costs while a browser is connected.
 */
import { Context, Effect, Layer } from "effect"
import { Actor, Component, Registry } from "../src/index.ts"
import { Observer } from "../src/observer/index.ts"
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
  const host = (withObserver: boolean, id: string) =>
    Effect.gen(function*() {
      const context = yield* Layer.build(Registry.Registry.layer)
      const registry = Context.get(context, Registry.Registry)
      const observing = withObserver ? yield* Layer.build(Layer.provide(Observer.layer(), Layer.succeedContext(context))) : undefined
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

  const times: Record<"with" | "without" | "control", Array<number>> = { with: [], without: [], control: [] }
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const without = yield* host(false, "unobserved")
    // A second host without an observer: how far two identical set-ups differ here (the noise floor).
    const control = yield* host(false, "control")
    const observed = yield* host(true, "observed")
    yield* Effect.promise(async () => {
      for (let round = 0; round <= rounds; round++) {
        // Which goes first alternates too: the second of a pair may find the machine warmer (or busier).
        const order = [["without", without], ["with", observed], ["control", control]] as const
        for (const [variant, ref] of round % 2 === 0 ? order : [...order].reverse()) {
          const started = process.hrtime.bigint()
          await run(ref)
          if (round > 0) times[variant].push(Number(process.hrtime.bigint() - started) / calls)
        }
      }
    })
  })))
  const median = (values: Array<number>) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]!

  // What the sampler costs the host once per interval while a browser is connected: one sample of 1,000
  // registered actors.
  const population = options.smoke ? 20 : 1_000
  const samples: Array<number> = []
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(Observer.layer().pipe(Layer.provideMerge(Registry.Registry.layer)))
    const registry = Context.get(context, Registry.Registry)
    const observed = Context.get(context, Observer.Observer)
    for (let i = 0; i < population; i++) {
      const ref = yield* Actor.spawn(component, { id: `p${i}`, imports: {} })
      yield* registry.register(`p${i}`, "1", ref)
      yield* ref.request(input)
    }
    for (let round = 0; round <= rounds; round++) {
      const started = process.hrtime.bigint()
      yield* observed.sample
      if (round > 0) samples.push(Number(process.hrtime.bigint() - started))
    }
  })))
  return [
    { suite, name: "Actor.request (16 B, wasm), registered, no observer", nsPerOp: median(times.without) },
    {
      suite,
      name: "Actor.request (16 B, wasm), registered, observer present, no client",
      nsPerOp: median(times.with),
      baseline: "Actor.request (16 B, wasm), registered, no observer",
      note: "no client: the sampler only wakes; alternating rounds and order"
    },
    {
      suite,
      name: "Actor.request (16 B, wasm), registered, no observer, second host",
      nsPerOp: median(times.control),
      baseline: "Actor.request (16 B, wasm), registered, no observer",
      note: "the same set-up again: the noise floor of the row above"
    },
    {
      suite,
      name: `Observer sample, ${population.toLocaleString("en")} actors`,
      nsPerOp: median(samples),
      note: "once per interval (1 s) while a browser is connected: stats, latency, history"
    }
  ]
}
