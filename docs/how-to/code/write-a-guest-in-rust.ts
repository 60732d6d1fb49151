/**
 * How-to: write a guest in Rust (docs/how-to/write-a-guest-in-rust.md). Compiles word_count.rs with
 * rustc's wasm32-wasi standard library (no crates), makes it a component with jco and the WASI
 * preview1 reactor adapter, and runs it under the default limits.
 *
 * Run from the repository root (needs rustc and libstd-rust-dev-wasm32, e.g. Debian's):
 *   node_modules/.bin/node docs/how-to/code/write-a-guest-in-rust.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { componentEmbed, componentNew } from "@bytecodealliance/jco"
import { Console, Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Audit, Capability, CliExit, Clocks, Component, Environment, Filesystem, Linker, Logging, Stdio, Storage } from "airssys-wasm"
import { isAvailable, skipMessage, toolchain } from "../../../scripts/toolchains.ts"

const root = path.resolve(import.meta.dirname, "..", "..", "..")
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

// #region build
// 1. rustc: a cdylib linked as a WASI reactor (`_initialize` runs the C library's constructors once,
//    before any export), the kit compiled in as a module. `reactor` is crt1-reactor.o from rustc's
//    wasm32-wasi sysroot (lib/rustlib/wasm32-wasi/lib/self-contained/).
const compile = (rustc: string, reactor: string, out: string) =>
  execFileSync(rustc, [
    "--edition", "2021", "--target", "wasm32-wasi", "--crate-type", "cdylib", "-O", "-C", "strip=symbols",
    "-C", `link-arg=${reactor}`, "-C", "link-arg=--export=_initialize",
    "docs/how-to/code/word_count.rs", "-o", out
  ], { cwd: root })

// 2. jco: embed the world the plugin implements, then wrap the core module into a component with the
//    preview1 adapter jco ships (it turns wasi-libc's calls into WASI 0.2 imports).
const componentize = (rustc: string, reactor: string) => Effect.promise(async () => {
  const core = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "word-count-")), "word-count.core.wasm")
  compile(rustc, reactor, core)
  const embedded = await componentEmbed({
    binary: fs.readFileSync(core),
    witSource: fs.readFileSync(path.join(root, "wit", "airssys.wit"), "utf8"),
    world: "storage-processor"
  })
  const adapter = fs.readFileSync(path.join(root, "node_modules/@bytecodealliance/jco/lib/wasi_snapshot_preview1.reactor.wasm"))
  return componentNew(embedded, [["wasi_snapshot_preview1", adapter]])
})
// #endregion build

// #region host
// What the plugin imports: logging and storage from the world, and the WASI interfaces Rust's std
// reaches through the adapter (stdio, clocks, files, environment, exit), each denied or empty unless granted.
const Host = Linker.layer([
  Logging.hostInterface, Storage.hostInterface, ...Stdio.hostInterfaces, ...Clocks.hostInterfaces,
  ...Filesystem.hostInterfaces, ...Environment.hostInterfaces, CliExit.hostInterface
]).pipe(Layer.provideMerge(Layer.mergeAll(
  Logging.layer, Storage.layerMemory(), Stdio.layer, Clocks.layer, Filesystem.layerDeny, Environment.layer,
  Audit.layerMemory({ capacity: 100 })
)))
// #endregion host

// #region run
const program = (rustc: string, reactor: string) => Effect.gen(function*() {
  const component = yield* Component.fromBytes(yield* componentize(rustc, reactor)) // the default limits
  yield* Console.log(`word_count.wasm imports ${component.world.imports.length} interfaces`)
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
// #endregion run

// Debian's /usr/bin/rustc has the wasm32-wasi std; a rustup rustc earlier on PATH may not.
const rust = toolchain("rust")
if (isAvailable(rust)) NodeRuntime.runMain(program(rust.compiler!, rust.reactorObject!).pipe(Effect.scoped, Effect.provide(Host)))
else console.log(`${skipMessage(rust)}\n(nothing to show without it)`)
