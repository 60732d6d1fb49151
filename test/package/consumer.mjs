// A user's program: plain JavaScript importing the installed package (run by test/Package.test.ts in a
// fresh project holding the packed tarball). Prints one JSON line of what it saw.
import { Effect, Layer, Schedule } from "effect"
import { Actor, Audit, Capability, Component, DeadLetters, Linker, Logging, Storage, Supervisor } from "airssys-wasm"

const guests = process.argv[2]
const text = (s) => new TextEncoder().encode(s)
const decode = (bytes) => new TextDecoder().decode(bytes)
// A cap-storage command: an op byte, then length-prefixed fields, then the rest.
const command = (op, fields, rest = "") => text(op + fields.map((f) => String.fromCharCode(f.length) + f).join("") + rest)

const program = Effect.gen(function*() {
  // Load and call.
  const echo = yield* Component.fromFile(`${guests}/echo.wasm`)
  const instance = yield* Linker.instantiate(echo, { id: "echo", grants: Capability.emptyGrants })
  const echoed = decode(yield* instance.process(text("hello from a consumer")))

  // A capability: storage in its own namespace granted, another namespace refused.
  const storage = yield* Component.fromFile(`${guests}/cap-storage.wasm`)
  const grants = yield* Capability.decodeGrants([{ type: "Storage", namespace: "plugin-a" }])
  const plugin = yield* Linker.instantiate(storage, { id: "plugin-a", grants })
  yield* plugin.process(command("s", ["plugin-a", "theme"], "dark"))
  const stored = decode(yield* plugin.process(command("g", ["plugin-a", "theme"])))
  const refused = yield* plugin.process(command("g", ["plugin-b", "api-key"])).pipe(
    Effect.map(() => "allowed"),
    Effect.catch((error) => Effect.succeed(error._tag))
  )

  // A supervised actor with the logging capability: a trapping message goes to dead letters, the
  // supervisor restarts it, the next request is answered.
  const flaky = yield* Component.fromFile(`${guests}/flaky.wasm`)
  const imports = yield* Linker.imports(flaky, { id: "flaky", grants: Capability.emptyGrants })
  const actor = yield* Actor.make(flaky, { id: "flaky", imports })
  yield* Supervisor.start({ id: "root", strategy: "OneForOne", backoff: Schedule.spaced("10 millis"), children: [Actor.child(actor)] })
  yield* actor.send(text("trap now"))
  const reply = decode(yield* actor.request(text("after the restart")))
  const deadLetters = (yield* DeadLetters.DeadLetters.use((store) => store.letters)).map((letter) => decode(letter.message.payload))
  const logged = (yield* Logging.lines).map((line) => `${line.component} ${line.level} ${line.message}`)
  const denied = (yield* Audit.events).filter((event) => event.decision === "denied").map((event) => `${event.capability} ${event.resource}`)

  // A guest whose host calls suspend (wasi:io/poll on a clock) needs JSPI: Node 24 has it, Node 22 not.
  const sleeper = yield* Component.fromFile(`${guests}/sleeper.wasm`)
  const jspi = yield* Linker.instantiate(sleeper, { id: "sleeper", grants: Capability.emptyGrants, denyUnlinked: true }).pipe(
    Effect.map(() => "instantiated"),
    Effect.catch((error) => Effect.succeed(`${error._tag}: ${error.message}`))
  )
  return { echoed, stored, refused, reply, deadLetters, logged, denied, jspi }
})

const Host = Linker.layer([Logging.hostInterface, Storage.hostInterface]).pipe(
  Layer.provideMerge(Layer.mergeAll(Logging.layerMemory, Storage.layerMemory(), Audit.layerMemory({ capacity: 100 })))
)

const result = await Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(Host)))

// The root entry point above loaded without the observer's optional peer; the observer's own entry
// point resolves (loading it needs that peer).
const platformNode = (() => {
  try {
    import.meta.resolve("@effect/platform-node")
    return "installed"
  } catch {
    return "not installed"
  }
})()
const observerEntry = import.meta.resolve("airssys-wasm/observer").split("/node_modules/airssys-wasm/")[1]
console.log(JSON.stringify({ node: process.version, ...result, platformNode, observerEntry }))
