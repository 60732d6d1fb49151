/**
 * State across messages: a component actor keeps state in its own linear memory between messages,
 * loses it when it restarts, and keeps what must survive in host storage.
 *
 * guests/lifecycle.wat is a counter: `init(config)` sets it to the config's length, every message adds
 * one and replies with the count (u32, little-endian), and "trap" traps. guests/cap-storage.wat reads and
 * writes the host's key-value storage, in the namespaces its grants allow.
 *
 * Run: node scripts/build-guests.ts lifecycle cap-storage && node examples/stateful-component.ts
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect, Layer } from "effect"
import * as path from "node:path"
import { Actor, Audit, Capability, Component, Linker, Logging, Storage } from "../src/index.ts"

const guest = (name: string) => path.resolve(import.meta.dirname, "..", "build", "guests", `${name}.wasm`)
const text = (s: string) => new TextEncoder().encode(s)
const u32 = (bytes: Uint8Array | undefined) => bytes === undefined ? -1 : new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true)

/** A cap-storage command: an op byte, then length-prefixed fields, then the rest. */
const command = (op: string, fields: ReadonlyArray<string>, rest = "") =>
  text(op + fields.map((field) => String.fromCharCode(field.length) + field).join("") + rest)

const inMemory = Effect.gen(function*() {
  yield* Console.log("1. State in the guest's memory")
  const counter = yield* Component.fromFile(guest("lifecycle"))
  // The config goes to the guest's lifecycle.init when the actor starts: "abc" starts the count at 3.
  const actor = yield* Actor.spawn(counter, { id: "counter", config: text("abc") })
  for (let i = 0; i < 3; i++) yield* Console.log(`   request → count ${u32(yield* actor.request(text("tick")))}`)

  yield* Console.log("   a trap ends this incarnation; running the actor again starts a fresh instance:")
  const trapped = yield* Effect.flip(actor.request(text("trap")))
  yield* Console.log(`   request("trap") → ${trapped._tag}`)
  yield* Effect.forkScoped(actor.run, { startImmediately: true })
  yield* Console.log(`   request → count ${u32(yield* actor.request(text("tick")))}  (init ran again: the memory was new)`)
})

const inStorage = Effect.gen(function*() {
  yield* Console.log("\n2. State in host storage, which outlives instances")
  const plugin = yield* Component.fromFile(guest("cap-storage"))
  const grants = Capability.makeGrants([new Capability.Storage({ namespace: "counter-state" })])
  for (const incarnation of [1, 2]) {
    // Each incarnation is a new instance with new memory; the storage belongs to the host.
    const instance = yield* Linker.instantiate(plugin, { id: "counter", grants })
    const before = yield* instance.process(command("g", ["counter-state", "visits"])).pipe(
      Effect.map((bytes) => Number(new TextDecoder().decode(bytes))),
      Effect.catch(() => Effect.succeed(0))
    )
    yield* instance.process(command("s", ["counter-state", "visits"], String(before + 1)))
    yield* Console.log(`   instance ${incarnation}: read visits = ${before}, wrote ${before + 1}`)
  }
  const stored = yield* Storage.Storage.use((storage) => storage.keys("counter-state"))
  yield* Console.log(`   keys in namespace "counter-state": ${stored.join(", ")} (use Storage.layer({ filename }) for a SQLite file)`)
})

// The host: the Linker with logging and storage (in memory here), and an audit log.
const HostLive = Linker.layer([Logging.hostInterface, Storage.hostInterface]).pipe(
  Layer.provideMerge(Layer.mergeAll(Logging.layer, Storage.layerMemory(), Audit.layerMemory({ capacity: 100 })))
)

NodeRuntime.runMain(Effect.scoped(Effect.andThen(inMemory, inStorage)).pipe(Effect.provide(HostLive)))
