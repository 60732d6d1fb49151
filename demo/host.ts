/**
 * The demo host (`npm start`). For now: load the sample guests built from `guests/`, show their worlds,
 * call them, show what a guest's error and a guest's trap look like from the host, then run a trapping
 * guest as a supervised actor and watch it restart.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Schedule } from "effect"
import * as path from "node:path"
import { Actor, Component, DeadLetters, Supervisor } from "../src/index.ts"

const guest = (name: string) => path.resolve(import.meta.dirname, "..", "build", "guests", `${name}.wasm`)
const text = (s: string) => new TextEncoder().encode(s)
const decode = (b: Uint8Array) => new TextDecoder().decode(b)

const showCall = (label: string, call: Effect.Effect<Uint8Array, { readonly _tag: string; readonly message: string }>) =>
  call.pipe(
    Effect.matchEffect({
      onSuccess: (out) => Console.log(`  ${label} → ok ${JSON.stringify(decode(out))}`),
      onFailure: (error) => Console.log(`  ${label} → ${error._tag}: ${error.message}`)
    })
  )

// An actor under a supervisor: a message that traps its guest goes to dead letters, the supervisor
// restarts the actor with a fresh instance, and the messages queued behind it are still handled.
const supervisedActor = Effect.gen(function*() {
  yield* Console.log("\nflaky.wasm as an actor under a OneForOne supervisor")
  const logImports = {
    "airssys:component/logging": {
      log: (_level: string, message: string) => Console.log(`  [guest log] ${message}`)
    }
  }
  const actor = yield* Actor.make(yield* Component.fromFile(guest("flaky")), { id: "flaky", imports: logImports })
  for (const payload of ["first", "trap: poisoned message", "second", "third"]) yield* actor.send(text(payload))
  const supervisor = yield* Supervisor.start({
    id: "demo",
    backoff: Schedule.spaced("50 millis"),
    children: [Actor.child(actor)]
  })
  yield* Effect.sleep("200 millis")
  const letters = yield* DeadLetters.DeadLetters.use((store) => store.letters)
  for (const letter of letters) {
    yield* Console.log(`  dead letter: ${JSON.stringify(decode(letter.message.payload))} (${letter.reason}: ${letter.error})`)
  }
  yield* Console.log(`  supervision tree: ${JSON.stringify(yield* supervisor.snapshot)}`)
})

const program = Effect.gen(function*() {
  for (const name of ["echo", "faulty", "echo-js"]) {
    const started = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
    const component = yield* Component.fromFile(guest(name))
    const loadedIn = (yield* Effect.clockWith((clock) => clock.currentTimeMillis)) - started
    yield* Console.log(`\n${name}.wasm  sha256 ${component.hash.slice(0, 16)}…  ${component.size} bytes, loaded in ${loadedIn} ms`)
    for (const item of component.world.exports) {
      yield* Console.log(`  exports ${item.name}${item.signature === undefined ? "" : `: ${item.signature}`}`)
    }
    const instance = yield* Component.instantiate(component)
    yield* showCall(`process("hello")`, instance.process(text("hello")))
    if (name !== "echo") {
      yield* showCall(`process("err:no thanks")`, instance.process(text("err:no thanks")))
      yield* showCall(`process("trap")`, instance.process(text("trap")))
      yield* showCall(`process("hello") after the trap`, instance.process(text("hello")))
      const restarted = yield* Component.instantiate(component)
      yield* showCall(`process("hello") on a new instance`, restarted.process(text("hello")))
    }
  }
  yield* supervisedActor
  yield* Console.log("\nThe host is still alive: every guest failure above was a typed error.")
})

NodeRuntime.runMain(Effect.scoped(program))
