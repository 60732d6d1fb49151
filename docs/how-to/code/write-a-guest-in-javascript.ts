/**
 * How-to: write a guest in JavaScript (docs/how-to/write-a-guest-in-javascript.md). Builds
 * word-count.js with componentize-qjs (QuickJS, ~1.6 MB) and, with `--spidermonkey`, with
 * componentize-js too (SpiderMonkey, ~12 MB, slower to build and load), and runs each under the
 * default limits.
 *
 * Run from the repository root:
 *   node_modules/.bin/node docs/how-to/code/write-a-guest-in-javascript.ts [--spidermonkey]
 */
import { NodeRuntime } from "@effect/platform-node"
import { componentize as componentizeJs } from "@bytecodealliance/componentize-js"
import { componentize as componentizeQjs } from "componentize-qjs"
import { Console, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { Audit, Capability, CliExit, Clocks, Component, Environment, Filesystem, Linker, Logging, Random, Stdio, Storage } from "airssys-wasm"

const root = path.resolve(import.meta.dirname, "..", "..", "..")
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

// #region build
const source = path.join(root, "docs/how-to/code/word-count.js")
const wit = path.join(root, "wit/airssys.wit")

// QuickJS: the JS is evaluated at build time and snapshotted (Wizer). `sync` picks the runtime
// without component-model async, which jco's glue runs; `moduleRoot` lets relative imports (the kit)
// resolve inside the repository.
const withQuickJs = Effect.promise(() =>
  componentizeQjs({
    witPath: wit,
    world: "storage-processor",
    jsSource: fs.readFileSync(source, "utf8"),
    jsPath: source,
    moduleRoot: root,
    sync: true
  }).then(({ component }) => new Uint8Array(component))
)

// SpiderMonkey: the WIT as text (componentize-js reads no host folders; its types leave `witWorld`
// out, it is accepted at run time); with every WASI feature disabled, the plugin reaches the host only
// through its world.
const spiderMonkeyOptions = {
  sourcePath: source,
  witWorld: fs.readFileSync(wit, "utf8"),
  worldName: "storage-processor",
  disableFeatures: ["stdio", "random", "clocks", "http", "fetch-event"] as Array<"stdio" | "random" | "clocks" | "http" | "fetch-event">
}
const withSpiderMonkey = Effect.promise(() => componentizeJs(spiderMonkeyOptions).then(({ component }) => component))
// #endregion build

// #region host
// What the plugin imports: logging and storage from the world, and the WASI interfaces the QuickJS
// runtime imports (stdio, clocks, random seed, files, environment, exit), each denied or empty unless
// granted. The SpiderMonkey build imports only its world.
const Host = Linker.layer([
  Logging.hostInterface, Storage.hostInterface, ...Stdio.hostInterfaces, ...Clocks.hostInterfaces,
  ...Random.hostInterfaces, ...Filesystem.hostInterfaces, ...Environment.hostInterfaces, CliExit.hostInterface
]).pipe(Layer.provideMerge(Layer.mergeAll(
  Logging.layer, Storage.layerMemory(), Stdio.layer, Clocks.layer, Random.layer, Filesystem.layerDeny,
  Environment.layer, Audit.layerMemory({ capacity: 100 })
)))
// #endregion host

// #region run
const run = (engine: string, bytes: Uint8Array) => Effect.gen(function*() {
  const component = yield* Component.fromBytes(bytes) // the default limits
  yield* Console.log(`${engine} imports ${component.world.imports.length} interfaces`)
  const grants = Capability.makeGrants([new Capability.Storage({ namespace: "word-count" })])
  const plugin = yield* Linker.instantiate(component, { id: "word-count", grants })
  yield* Console.log(decode(yield* plugin.process(text("the quick brown fox"))))
  yield* Console.log(decode(yield* plugin.process(text("jumps over the lazy dog"))))

  // Granted another namespace only: the plugin's storage calls are refused (and audited), its err says why.
  const elsewhere = Capability.makeGrants([new Capability.Storage({ namespace: "other" })])
  const stranger = yield* Linker.instantiate(component, { id: "stranger", grants: elsewhere })
  const refused = yield* Effect.flip(stranger.process(text("hello")))
  yield* Console.log(`${refused._tag}: ${refused.message}`)
})

const program = Effect.gen(function*() {
  yield* run("QuickJS", yield* withQuickJs)
  if (process.argv.includes("--spidermonkey")) yield* run("SpiderMonkey", yield* withSpiderMonkey)
})
// #endregion run

NodeRuntime.runMain(program.pipe(Effect.scoped, Effect.provide(Host)))
