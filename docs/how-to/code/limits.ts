/**
 * How-to: resource limits (docs/how-to/limits.md).
 *
 * Run from the repository root, after `node scripts/build-guests.ts`:
 *   node_modules/.bin/node docs/how-to/code/limits.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Duration, Effect, Schedule } from "effect"
import * as path from "node:path"
import { Actor, Component, ResourceLimits, Supervisor } from "airssys-wasm"

const guest = (name: string) => path.resolve(import.meta.dirname, "..", "..", "..", "build", "guests", `${name}.wasm`)
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const decode = (bytes: Uint8Array | undefined): string => new TextDecoder().decode(bytes)
const u32 = (n: number): Uint8Array => new Uint8Array(new Uint32Array([n]).buffer)
const show = (label: string) => (error: { readonly _tag: string; readonly message: string }) => Console.log(`${label}: ${error._tag}: ${error.message}`)

// #region defaults
const defaults = Effect.gen(function*() {
  const { memoryBytes, fuel, timeout, isolation } = ResourceLimits.defaults
  yield* Console.log(`defaults: ${memoryBytes / 2 ** 20} MiB, ${fuel} fuel per call, ${Duration.format(timeout)}, ${isolation}`)
  // From configuration, where sizes and durations may be text; `resolve` fills in the rest.
  const limits = ResourceLimits.resolve(
    yield* ResourceLimits.decode({ memoryBytes: "16 MiB", fuel: 5_000_000, timeout: "500 millis" })
  )
  const component = yield* Component.fromFile(guest("echo"), { limits })
  yield* Console.log(`echo runs under ${component.limits.memoryBytes} bytes, ${component.limits.fuel} fuel, ${Duration.format(component.limits.timeout)}`)
})
// #endregion defaults

// #region fuel
const fuel = Effect.gen(function*() {
  // guests/loop.wat spins forever. In process, only fuel stops it.
  const component = yield* Component.fromFile(guest("loop"), { limits: { fuel: 1_000_000 } })
  const instance = yield* Component.instantiate(component)
  yield* Effect.flip(instance.process(text("go"))).pipe(Effect.flatMap(show("loop")))
  yield* Effect.flip(instance.process(text("again"))).pipe(Effect.flatMap(show("next call")))
})
// #endregion fuel

// #region memory
const memory = Effect.gen(function*() {
  // guests/grow.wat grows its memory by N pages (64 KiB each) and reports what memory.grow said.
  const component = yield* Component.fromFile(guest("grow"), { limits: { memoryBytes: 4 * 2 ** 20 } })
  const instance = yield* Component.instantiate(component)
  yield* Console.log(`grow 10 pages: now ${new DataView((yield* instance.process(u32(10))).buffer).getUint32(0, true)} pages`)
  yield* Effect.flip(instance.process(u32(100))).pipe(Effect.flatMap(show("grow 100 pages")))

  // A guest that traps because it cannot grow: LimitExceeded(memory).
  const spinner = yield* Component.fromFile(guest("spinner"), { limits: { memoryBytes: 2 * 2 ** 20 } })
  const greedy = yield* Component.instantiate(spinner)
  yield* Effect.flip(greedy.handleMessage({ sender: "host", payload: text("grow") })).pipe(Effect.flatMap(show("spinner grow")))
})
// #endregion memory

// #region timeout
const inProcess = Effect.gen(function*() {
  // Fuel for hours of looping, but half a second of time: in process, the guest gets its fuel in
  // slices, and between slices the host reads the Clock and stops the call past its deadline.
  const component = yield* Component.fromFile(guest("loop"), {
    limits: { fuel: 1e13, timeout: Duration.millis(500) }
  })
  const instance = yield* Component.instantiate(component)
  yield* Effect.flip(instance.process(text("go"))).pipe(Effect.flatMap(show("loop in process")))
  yield* Effect.flip(instance.process(text("again"))).pipe(Effect.flatMap(show("next call")))
})
// #endregion timeout

// #region worker
const worker = Effect.gen(function*() {
  // No fuel, but its own thread: a call past the timeout terminates the worker.
  const component = yield* Component.fromFile(guest("loop"), {
    limits: { fuel: Infinity, isolation: "worker", timeout: Duration.millis(500) }
  })
  const instance = yield* Component.instantiate(component)
  yield* Effect.flip(instance.process(text("go"))).pipe(Effect.flatMap(show("loop in a worker")))
})
// #endregion worker

// #region supervised
const supervised = Effect.gen(function*() {
  // guests/spinner.wat: "loop" spins forever, anything else is answered with "tock".
  const component = yield* Component.fromFile(guest("spinner"), { limits: { fuel: 1_000_000 } })
  const actor = yield* Actor.make(component, { id: "spinner" })
  yield* Supervisor.start({ id: "limits", backoff: Schedule.spaced("10 millis"), children: [Actor.child(actor)] })
  yield* Effect.flip(actor.request(text("loop"))).pipe(Effect.flatMap(show("request loop")))
  yield* Effect.sleep("50 millis")
  yield* Console.log(`request tick: ${decode(yield* actor.request(text("tick")))} (incarnations: ${(yield* actor.stats).incarnations})`)
})
// #endregion supervised

const step = <E, R>(title: string, effect: Effect.Effect<void, E, R>) =>
  Effect.andThen(Console.log(`\n== ${title}`), Effect.scoped(effect))

NodeRuntime.runMain(Effect.gen(function*() {
  yield* step("defaults", defaults)
  yield* step("fuel", fuel)
  yield* step("memory", memory)
  yield* step("in-process timeout", inProcess)
  yield* step("worker isolation", worker)
  yield* step("under a supervisor", supervised)
}))
