/**
 * How-to: running in production, sizing (docs/how-to/production.md#sizing). How many wasm memories
 * one process can hold, and what the host sees when it cannot make another.
 *
 * Run from the repository root, after `node scripts/build-guests.ts`:
 *   node_modules/.bin/node docs/how-to/code/wasm-memories.ts
 */
import { Effect, Exit } from "effect"
import * as path from "node:path"
import { Component } from "airssys-wasm"

// Loaded first: loading transpiles the component with jco, which itself needs wasm memory.
const component = await Effect.runPromise(Component.fromFile(path.resolve(import.meta.dirname, "..", "..", "..", "build", "guests", "echo.wasm")))

// #region count
// V8 reserves address space for every wasm memory up front (so it can drop bounds checks), whatever
// the memory's size: the process runs out of address space long before it runs out of RAM.
const memories: Array<WebAssembly.Memory> = []
let failure = ""
try {
  for (;;) memories.push(new WebAssembly.Memory({ initial: 1, maximum: 16 }))
} catch (error) {
  failure = String(error)
}
const rss = Math.round(process.memoryUsage().rss / 2 ** 20)
console.log(`${memories.length} wasm memories of 64 KiB held (RSS ${rss} MiB), then: ${failure}`)
// #endregion count

// #region instantiate
// An instance needs a memory of its own: at the limit, instantiate fails with a typed error.
const exit = await Effect.runPromise(Effect.exit(Effect.scoped(Component.instantiate(component))))
console.log(Exit.isFailure(exit) ? `instantiate: ${JSON.stringify(exit.cause)}` : "instantiate: ok")
// #endregion instantiate
