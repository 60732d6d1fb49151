/**
 * Run by Component.test in a child process (it uses up the process's WebAssembly memories): the first
 * load of a process made when V8 has no wasm memory left fails with a typed error and no unhandled
 * rejection, and loads work again once memories are freed. Prints one JSON line.
 */
import { Effect, Exit } from "effect"
import { Component } from "../../src/index.ts"
import { guestBytes } from "../fixtures.ts"

const unhandled: Array<string> = []
process.on("unhandledRejection", (cause) => void unhandled.push(String(cause)))

const reasonOf = (exit: Exit.Exit<unknown, { readonly reason?: string }>) =>
  Exit.isSuccess(exit) ? "loaded" : exit.cause.reasons.map((reason) => reason._tag === "Fail" ? reason.error.reason : reason._tag).join(",")

const held: Array<WebAssembly.Memory> = []
const exhaust = () => {
  for (;;) held.push(new WebAssembly.Memory({ initial: 1 }))
}
Effect.runSync(Effect.ignore(Effect.try(exhaust)))
const memories = held.length
const exhausted = await Effect.runPromiseExit(Component.fromBytes(guestBytes("echo")))
held.length = 0
globalThis.gc?.()
const recovered = await Effect.runPromiseExit(Component.fromBytes(guestBytes("echo")))
// Let any stray rejection surface before reporting.
await new Promise((resolve) => setTimeout(resolve, 50))
console.log(JSON.stringify({ memories, exhausted: reasonOf(exhausted), recovered: reasonOf(recovered), unhandled }))
