/**
 * The demo host (`npm start`). For now: load the sample guests built from `guests/`, show their worlds,
 * call them, and show what a guest's error and a guest's trap look like from the host.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import * as path from "node:path"
import { Component } from "../src/index.ts"

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
  yield* Console.log("\nThe host is still alive: every guest failure above was a typed error.")
})

NodeRuntime.runMain(Effect.scoped(program))
