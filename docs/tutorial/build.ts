/**
 * Builds the tutorial's guest: docs/tutorial/hello.js → build/tutorial/hello.wasm, with componentize-js.
 *
 * Run from the repository root: node_modules/.bin/node docs/tutorial/build.ts
 */
import { componentize } from "@bytecodealliance/componentize-js"
import * as fs from "node:fs"
import * as path from "node:path"

const here = import.meta.dirname
const root = path.resolve(here, "..", "..")
const output = path.join(root, "build", "tutorial", "hello.wasm")

// The package's interfaces (wit/airssys.wit) plus our world (hello.wit), given as text: componentize-js
// reads files inside its own WASI sandbox, which sees no host folders.
const wit = fs.readFileSync(path.join(root, "wit", "airssys.wit"), "utf8") + "\n" +
  fs.readFileSync(path.join(here, "hello.wit"), "utf8")

const started = performance.now()
// `witWorld` (WIT as text) is accepted at run time, though componentize-js's types leave it out.
const options = {
  sourcePath: path.join(here, "hello.js"),
  witWorld: wit,
  worldName: "hello",
  // No WASI: the guest reaches the host only through the interfaces its world imports.
  disableFeatures: ["stdio", "random", "clocks", "http", "fetch-event"] as Array<"stdio" | "random" | "clocks" | "http" | "fetch-event">
}
const { component } = await componentize(options)
fs.mkdirSync(path.dirname(output), { recursive: true })
fs.writeFileSync(output, component)
console.log(`built ${path.relative(root, output)} (${component.byteLength} bytes) in ${Math.round(performance.now() - started)} ms`)
