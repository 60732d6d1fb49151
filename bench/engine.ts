/**
 * The component engine: per-call cost of a 16 B `process` and instantiation from a cached component,
 * each beside the raw core call and jco's generated glue as-is. (Loading: bench/load.ts; the Extism peer:
 * bench/peer.ts.)
 */
import { transpile } from "@bytecodealliance/jco"
import { Effect } from "effect"
import { Component } from "../src/index.ts"
import { guestBytes } from "../test/fixtures.ts"
import { measureBatch, measureSync, type Options, type Row } from "./harness.ts"

interface JcoGlue {
  instantiate(
    getCoreModule: (name: string) => WebAssembly.Module,
    imports: object,
    instantiateCore?: (m: WebAssembly.Module, i: WebAssembly.Imports) => Promise<WebAssembly.Instance>
  ): Promise<{ process(input: Uint8Array): Uint8Array }>
}

/** jco's output exactly as it transpiles, loaded the way its docs show. */
export const jcoAsIs = async (bytes: Uint8Array) => {
  const out = await transpile(bytes, { name: "echo", instantiation: "async", noTypescript: true })
  const glue: JcoGlue = await import(`data:text/javascript;base64,${Buffer.from(out.files["echo.js"]!).toString("base64")}`)
  const modules = new Map<string, WebAssembly.Module>()
  for (const [name, file] of Object.entries(out.files)) {
    if (name.endsWith(".wasm")) modules.set(name, new WebAssembly.Module(file as Uint8Array<ArrayBuffer>))
  }
  return { glue, getCoreModule: (name: string) => modules.get(name)!, core: [...modules.values()][0]! }
}

/** The echo core module called by hand: copy in, call, copy out. No component model at all. */
export const rawCall = (core: WebAssembly.Module) => {
  const exports = new WebAssembly.Instance(core, {}).exports as {
    memory: WebAssembly.Memory
    cabi_realloc(a: number, b: number, c: number, d: number): number
    process(ptr: number, len: number): number
    cabi_post_process(ret: number): void
  }
  return (input: Uint8Array): Uint8Array => {
    const ptr = exports.cabi_realloc(0, 0, 1, input.byteLength)
    new Uint8Array(exports.memory.buffer, ptr, input.byteLength).set(input)
    const ret = exports.process(ptr, input.byteLength)
    const view = new DataView(exports.memory.buffer)
    const out = new Uint8Array(exports.memory.buffer, view.getUint32(ret + 4, true), view.getUint32(ret + 8, true)).slice()
    exports.cabi_post_process(ret)
    return out
  }
}

export const engine = async (options: Options): Promise<ReadonlyArray<Row>> => {
  const bytes = guestBytes("echo")
  const input = new Uint8Array(16).fill(42)
  const asIs = await jcoAsIs(bytes)
  const raw = rawCall(asIs.core)
  const jcoInstance = await asIs.glue.instantiate(asIs.getCoreModule, {})
  const component = await Effect.runPromise(Component.fromBytes(bytes))
  const calls = 200_000

  const rawNs = measureSync(options, calls, () => raw(input))
  const jcoNs = measureSync(options, calls, () => jcoInstance.process(input))
  const ourNs = await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function*() {
        const instance = yield* Component.instantiate(component)
        const loop = (n: number) =>
          Effect.gen(function*() {
            for (let i = 0; i < n; i++) yield* instance.process(input)
          })
        return yield* Effect.promise(() => measureBatch(options, calls, (n) => Effect.runSync(loop(n))))
      })
    )
  )

  const instances = 2_000
  const rawInstantiateNs = measureSync(options, instances, () => new WebAssembly.Instance(asIs.core, {}))
  const jcoInstantiateNs = await measureBatch(options, instances, async (n) => {
    for (let i = 0; i < n; i++) await asIs.glue.instantiate(asIs.getCoreModule, {})
  })
  const ourInstantiateNs = await measureBatch(options, instances, (n) =>
    Effect.runSync(Effect.gen(function*() {
      for (let i = 0; i < n; i++) yield* Effect.scoped(Component.instantiate(component))
    })))

  const suite = "engine"
  return [
    { suite, name: "raw core call (16 B)", nsPerOp: rawNs },
    { suite, name: "jco glue as-is (16 B)", nsPerOp: jcoNs, baseline: "raw core call (16 B)" },
    {
      suite,
      name: "Instance.process (16 B)",
      nsPerOp: ourNs,
      baseline: ["jco glue as-is (16 B)", "raw core call (16 B)", "peer: Extism plugin.call (16 B echo)"],
      targetNs: 2_000,
      note: "default limits (64 MiB cap, fuel metered)"
    },
    { suite, name: "raw new WebAssembly.Instance", nsPerOp: rawInstantiateNs },
    { suite, name: "jco instantiate as-is", nsPerOp: jcoInstantiateNs, baseline: "raw new WebAssembly.Instance" },
    {
      suite,
      name: "Component.instantiate (cached)",
      nsPerOp: ourInstantiateNs,
      baseline: ["jco instantiate as-is", "raw new WebAssembly.Instance", "peer: Extism createPlugin (compiled Module)"],
      targetNs: 100_000
    }
  ]
}

/** Appends a custom section: the same component, different bytes (so every cache misses). */
export const withCustomSection = (bytes: Uint8Array, name: string): Uint8Array => {
  const nameBytes = new TextEncoder().encode(name)
  const body = [nameBytes.length, ...nameBytes]
  return new Uint8Array([...bytes, 0, body.length, ...body])
}
