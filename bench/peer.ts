/**
 * The peer: Extism's JS SDK (`@extism/extism`) running an equivalent guest — guests/extism-echo.wat, a
 * plugin written against Extism's host ABI that copies its input into linear memory and back out, as
 * Extism's PDKs do — beside our `Instance.process` on the WAT echo component and `Component.instantiate`,
 * all in the same run.
 *
 * Extism's `plugin.call` returns a promise, so its row awaits every call in sequence (many thousands per
 * round, as a host serving one plugin would); the "await per call" row is the floor of any such API. Our
 * calls are Effects run in one synchronous loop, the way an actor drains its mailbox.
 */
import createPlugin, { type Plugin } from "@extism/extism"
import { Effect } from "effect"
import { Component } from "../src/index.ts"
import { guestBytes } from "../test/fixtures.ts"
import { withCustomSection } from "./engine.ts"
import { measureBatch, type Options, type Row } from "./harness.ts"

const suite = "peer"

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i])

/** Echo through the plugin once, checking the answer: the bench measures a guest that works. */
const checkEcho = async (plugin: Plugin, input: Uint8Array): Promise<void> => {
  const output = await plugin.call("echo", input)
  if (output === null || !sameBytes(output.bytes(), input)) throw new Error("the Extism echo plugin did not echo")
}

// Extism logs through `console` by default; the echo plugin logs nothing, but keep the bench quiet anyway.
const quiet = { logger: { ...console, info: () => {}, debug: () => {}, warn: () => {} } as unknown as Console }

export const peer = async (options: Options): Promise<ReadonlyArray<Row>> => {
  const input = new Uint8Array(16).fill(42)
  const pluginBytes = guestBytes("extism-echo")
  const pluginModule = await WebAssembly.compile(pluginBytes as Uint8Array<ArrayBuffer>)
  const plugin = await createPlugin({ wasm: [{ module: pluginModule }] }, quiet)
  await checkEcho(plugin, input)

  const bytes = guestBytes("echo")
  const component = await Effect.runPromise(Component.fromBytes(bytes))

  // --- call cost ------------------------------------------------------------------------------------
  const calls = 50_000
  const awaitNs = await measureBatch(options, calls * 4, async (n) => {
    for (let i = 0; i < n; i++) await undefined
  })
  // The SDK keeps every call's input and output blocks until `reset`, and a block's address is its index
  // << 48 in an i64: past 32,767 blocks (~16k calls) addresses turn negative and calls throw. So the loop
  // resets every 1,000 calls, timed (one more await per 1,000 calls).
  const extismCallNs = await measureBatch(options, calls, async (n) => {
    for (let i = 0; i < n; i++) {
      await plugin.call("echo", input)
      if (i % 1000 === 999) await plugin.reset()
    }
  }, 7, () => plugin.reset())
  const ourCallNs = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const instance = yield* Component.instantiate(component)
    const echoed = yield* instance.process(input)
    if (!sameBytes(echoed, input)) throw new Error("the echo component did not echo")
    return yield* Effect.promise(() =>
      measureBatch(options, calls * 4, (n) =>
        Effect.runSync(Effect.gen(function*() {
          for (let i = 0; i < n; i++) yield* instance.process(input)
        }))))
  })))

  // --- instantiation ------------------------------------------------------------------------------
  const instances = 1_000
  const extismFromBytesNs = await measureBatch(options, instances, async (n) => {
    for (let i = 0; i < n; i++) await createPlugin({ wasm: [{ data: pluginBytes }] }, quiet)
  }, 5)
  const extismFromModuleNs = await measureBatch(options, instances, async (n) => {
    for (let i = 0; i < n; i++) await createPlugin({ wasm: [{ module: pluginModule }] }, quiet)
  }, 5)
  const ourInstantiateNs = await measureBatch(options, instances, (n) =>
    Effect.runSync(Effect.gen(function*() {
      for (let i = 0; i < n; i++) yield* Effect.scoped(Component.instantiate(component))
    })), 5)
  const warm = (n: number) => Effect.runSync(Component.prewarm(component, n))
  const ourPooledNs = await measureBatch(options, instances, (n) =>
    Effect.runSync(Effect.gen(function*() {
      for (let i = 0; i < n; i++) yield* Effect.scoped(Component.instantiate(component))
    })), 5, warm)
  Effect.runSync(Component.prewarm(component, 0))
  // From bytes never seen to a callable instance: Extism compiles; we transpile (jco), compile and link.
  let unique = 0
  const ourFromBytesNs = await measureBatch(options, options.smoke ? 1 : 5, (n) =>
    Effect.runPromise(Effect.gen(function*() {
      for (let i = 0; i < n; i++) {
        const fresh = yield* Component.fromBytes(withCustomSection(bytes, `peer-${process.pid}-${unique++}`))
        yield* Effect.scoped(Component.instantiate(fresh))
      }
    })), 3)

  const extismCall = "Extism plugin.call (16 B echo)"
  const extismFromModule = "Extism createPlugin (compiled Module)"
  const extismFromBytes = "Extism createPlugin (bytes: compile + instantiate)"
  return [
    { suite, name: "await per call (no work)", nsPerOp: awaitNs, note: "the floor of a promise-per-call API" },
    {
      suite,
      name: extismCall,
      nsPerOp: extismCallNs,
      baseline: ["await per call (no work)", "engine: raw core call (16 B)"],
      note: "async: each call awaited in sequence; reset every 1,000 calls"
    },
    {
      suite,
      name: "Instance.process (16 B)",
      nsPerOp: ourCallNs,
      baseline: [extismCall, "engine: jco glue as-is (16 B)", "engine: raw core call (16 B)"],
      targetNs: 2_000,
      note: "synchronous Effect loop; default limits (fuel metered)"
    },
    { suite, name: extismFromBytes, nsPerOp: extismFromBytesNs, note: "awaited in sequence" },
    {
      suite,
      name: extismFromModule,
      nsPerOp: extismFromModuleNs,
      baseline: ["engine: raw new WebAssembly.Instance"],
      note: "a fresh instance of a compiled plugin"
    },
    {
      suite,
      name: "Component.instantiate (cached)",
      nsPerOp: ourInstantiateNs,
      baseline: [extismFromModule, "engine: jco instantiate as-is"],
      targetNs: 100_000
    },
    {
      suite,
      name: "Component.instantiate (cached, warm pool)",
      nsPerOp: ourPooledNs,
      baseline: [extismFromModule],
      note: "the pool is filled, untimed, before each round"
    },
    {
      suite,
      name: "Component.fromBytes (new bytes) + instantiate",
      nsPerOp: ourFromBytesNs,
      baseline: [extismFromBytes],
      note: "transpile (jco) + compile + instantiate"
    }
  ]
}
