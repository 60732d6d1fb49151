/**
 * The tour the language examples (c-guest.ts, rust-guest.ts, javascript-guest.ts) take their guest on:
 * an actor built with that language's toolchain and guest kit (guests/c, guests/rust, guests/js),
 * deployed under the default limits with a few grants, asked to use each of them, refused what it was
 * not granted, crashed and restarted.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  Audit, Capability, CliExit, Clocks, Component, Deployment, Environment, Filesystem, Linker, Logging, Messaging,
  Random, Registry, Router, Stdio, Storage
} from "../../src/index.ts"
import { isAvailable, type Language, skipMessage, toolchain } from "../../scripts/toolchains.ts"

const guest = (name: string) => path.resolve(import.meta.dirname, "..", "..", "build", "guests", `${name}.wasm`)
const text = (s: string) => new TextEncoder().encode(s)
const decode = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes ?? new Uint8Array())

export interface Tour {
  readonly language: string
  readonly toolchain: Language
  /** build/guests/NAME.wasm */
  readonly actor: string
  /** Whether the guest reaches files (C and Rust through the WASI preview1 adapter, JavaScript importing wasi:filesystem). */
  readonly files: boolean
}

/** Every host interface a toolchain's guest imports, in one host with a router and an in-memory audit log. */
const host = (dataDir: string) => {
  const routing = Layer.provideMerge(Router.Router.layer, Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 100 })))
  const services = Layer.mergeAll(
    Messaging.layer, Storage.layerMemory(), Logging.layer, Stdio.layer, Clocks.layer, Random.layer, Environment.layer,
    Filesystem.layer({ preopens: [{ path: dataDir, as: "/data" }] })
  ).pipe(Layer.provideMerge(routing))
  const linker = Linker.layer([
    Logging.hostInterface, Storage.hostInterface, Messaging.hostInterface, ...Filesystem.hostInterfaces,
    ...Stdio.hostInterfaces, ...Clocks.hostInterfaces, ...Random.hostInterfaces, ...Environment.hostInterfaces,
    CliExit.hostInterface
  ]).pipe(Layer.provideMerge(services))
  return Deployment.Deployment.layer.pipe(Layer.provideMerge(linker))
}

const tour = (options: Tour, dataDir: string) => Effect.gen(function*() {
  const deployment = yield* Deployment.Deployment
  const router = yield* Router.Router
  const component = yield* Component.fromFile(guest(options.actor)) // the default limits
  const imports = component.world.imports.map((item) => item.name.replace(/@.*/, ""))
  const wasi = imports.filter((name) => name.startsWith("wasi:")).length
  yield* Console.log(`${options.actor}.wasm (${options.language}): ${component.size} bytes`)
  yield* Console.log(`  imports ${imports.filter((name) => !name.startsWith("wasi:")).join(", ")} and ${wasi} WASI interfaces`)

  // A peer to talk to, and the guest with its grants: its own storage, messages to the peer, the data folder.
  yield* deployment.deploy("greeter", "1", yield* Component.fromFile(guest("greeter-v1")))
  yield* deployment.deploy("plugin", "1", component, {
    grants: Capability.makeGrants([
      new Capability.Storage({ namespace: "plugin" }),
      new Capability.Messaging({ pattern: "greeter" }),
      new Capability.FileRead({ glob: `${dataDir}/**` })
    ])
  })

  const ask = (command: string) =>
    router.request("host", "plugin", text(command)).pipe(
      Effect.map((reply) => `ok ${JSON.stringify(decode(reply))}`),
      Effect.catch((error) => Effect.succeed(`${error._tag}: ${error.message}`)),
      Effect.flatMap((outcome) => Console.log(`  ${command.padEnd(34)} → ${outcome}`))
    )
  yield* Console.log("\nWhat it was granted:")
  yield* ask("request greeter world")
  yield* ask("set plugin visits 1")
  yield* ask("get plugin visits")
  yield* ask("log hello from the guest")
  if (options.files) yield* ask("read /data/note.txt")

  yield* Console.log("\nWhat it was not granted (each refusal audited):")
  yield* ask("send stranger hi")
  yield* ask("get other-plugin secrets")
  if (options.files) yield* ask("write /data/note.txt overwritten")
  const denied = (yield* Audit.events).filter((event) => event.decision === "denied")
  for (const event of denied) yield* Console.log(`  audit: ${event.capability} ${event.resource} denied`)

  yield* Console.log("\nA crash, and its supervisor's restart:")
  yield* ask("trap")
  yield* Effect.sleep("300 millis") // the restart's backoff
  yield* ask("echo back after the restart")
})

/** Runs the tour, or says what to install when this machine lacks the language's toolchain. */
export const run = (options: Tour): void => {
  const tool = toolchain(options.toolchain)
  if (!isAvailable(tool) || !fs.existsSync(guest(options.actor))) {
    console.log(isAvailable(tool) ? `build/guests/${options.actor}.wasm is missing: run npm run build:guests` : skipMessage(tool))
    console.log("(nothing to show without it)")
    console.log("done")
    return
  }
  const dataDir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "airssys-example-")))
  fs.writeFileSync(path.join(dataDir, "note.txt"), "a note the host shares")
  NodeRuntime.runMain(tour(options, dataDir).pipe(
    Effect.scoped,
    Effect.provide(host(dataDir)),
    Effect.ensuring(Effect.sync(() => fs.rmSync(dataDir, { recursive: true, force: true })))
  ))
}
