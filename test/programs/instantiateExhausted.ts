/**
 * Run by Instantiate.test in a child process (it uses up the process's WebAssembly memories): with a
 * component loaded, instantiating it when V8 has no wasm memory left fails with `WasmMemoryExhausted`
 * (not a `Trap`), in process and with the start code metered; once memories are freed, instances are made
 * again. Prints one JSON line.
 */
import { Effect, Exit } from "effect"
import { Component } from "../../src/index.ts"
import { guestBytes } from "../fixtures.ts"

const tagOf = (exit: Exit.Exit<unknown, { readonly _tag: string }>) =>
  Exit.isSuccess(exit) ? "instantiated" : exit.cause.reasons.map((reason) => reason._tag === "Fail" ? reason.error._tag : reason._tag).join(",")

const instantiate = (component: Component.Component) =>
  Effect.runPromiseExit(Effect.scoped(Effect.asVoid(Component.instantiate(component))))

// Loaded while there is memory: a start function (metered) and a plain guest.
const withStart = await Effect.runPromise(Component.fromBytes(guestBytes("start-store")))
const plain = await Effect.runPromise(Component.fromBytes(guestBytes("echo")))

const held: Array<WebAssembly.Memory> = []
const exhaust = () => {
  for (;;) held.push(new WebAssembly.Memory({ initial: 1 }))
}
Effect.runSync(Effect.ignore(Effect.try(exhaust)))
const memories = held.length
const exhausted = [tagOf(await instantiate(withStart)), tagOf(await instantiate(plain))]
const message = await instantiate(plain).then((exit) =>
  Exit.isFailure(exit) ? exit.cause.reasons.map((reason) => reason._tag === "Fail" ? reason.error.message : "").join("") : ""
)
held.length = 0
globalThis.gc?.()
const recovered = [tagOf(await instantiate(withStart)), tagOf(await instantiate(plain))]
console.log(JSON.stringify({ memories, exhausted, message, recovered }))
