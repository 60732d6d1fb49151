/**
 * The basics: load a component, look at what it exports, call it, and see what failures look like.
 *
 * A component is a WebAssembly binary with a typed interface (WIT). guests/echo.wat is the smallest
 * one: it exports `process: func(input: list<u8>) -> result<list<u8>, string>` and returns its input.
 * guests/faulty.wat answers "err:..." with an `err` and traps on "trap".
 *
 * Run: node scripts/build-guests.ts echo faulty && node examples/basic-component.ts
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect } from "effect"
import * as path from "node:path"
import { Component } from "../src/index.ts"

const guest = (name: string) => path.resolve(import.meta.dirname, "..", "build", "guests", `${name}.wasm`)
const text = (s: string) => new TextEncoder().encode(s)
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

const program = Effect.gen(function*() {
  // 1. Load: validate the bytes, hash them, transpile (jco), apply the default limits, compile. Cached by hash.
  const echo = yield* Component.fromFile(guest("echo"))
  yield* Console.log(`Loaded echo.wasm: ${echo.size} bytes, sha256 ${echo.hash.slice(0, 16)}…`)
  for (const item of echo.world.exports) yield* Console.log(`  it exports ${item.name}: ${item.signature ?? "(interface)"}`)
  yield* Console.log(`  it imports ${echo.world.imports.length === 0 ? "nothing: it needs no capabilities" : echo.world.imports.map((i) => i.name).join(", ")}`)

  // 2. Instantiate: fresh linear memory, closed with the scope. Calls are Effects with typed errors.
  const instance = yield* Component.instantiate(echo)
  const reply = yield* instance.process(text("hello, component"))
  yield* Console.log(`\nprocess("hello, component") → ok ${JSON.stringify(decode(reply))}`)

  // 3. Failures are values, never a crashed host: a guest's `err` is a GuestError, a trap is a Trap.
  const faulty = yield* Component.instantiate(yield* Component.fromFile(guest("faulty")))
  for (const input of ["fine", "err:out of stock", "trap", "fine"]) {
    const outcome = yield* faulty.process(text(input)).pipe(
      Effect.map((bytes) => `ok ${JSON.stringify(decode(bytes))}`),
      Effect.catch((error) => Effect.succeed(`${error._tag}: ${error.message}`))
    )
    yield* Console.log(`faulty.process(${JSON.stringify(input)}) → ${outcome}`)
  }
  yield* Console.log("\nAfter a trap the instance is poisoned; a new instance of the same component starts clean:")
  const fresh = yield* Component.instantiate(yield* Component.fromFile(guest("faulty")))
  yield* Console.log(`fresh.process("fine") → ok ${JSON.stringify(decode(yield* fresh.process(text("fine"))))}`)
})

NodeRuntime.runMain(Effect.scoped(program))
