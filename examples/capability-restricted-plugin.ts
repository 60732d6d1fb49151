/**
 * A plugin with exactly the capabilities it was granted: logging, and storage in its own namespace.
 * Reaching into another plugin's namespace is refused — the plugin gets an `err`, the host carries on —
 * and every decision lands in a hash-chained audit log, which is verified at the end.
 *
 * guests/cap-storage.wat turns commands into host calls: set / get / list keys in a namespace named by
 * the input, or log a line. The namespace comes from the (untrusted) input on purpose.
 *
 * Run: node scripts/build-guests.ts cap-storage && node examples/capability-restricted-plugin.ts
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Audit, Capability, Component, Linker, Logging, Storage } from "../src/index.ts"

const guest = (name: string) => path.resolve(import.meta.dirname, "..", "build", "guests", `${name}.wasm`)
const text = (s: string) => new TextEncoder().encode(s)
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/** A cap-storage command: an op byte, then length-prefixed fields, then the rest. */
const command = (op: string, fields: ReadonlyArray<string>, rest = "") =>
  text(op + fields.map((field) => String.fromCharCode(field.length) + field).join("") + rest)

const auditFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "airssys-example-")), "audit.jsonl")

const program = Effect.gen(function*() {
  const plugin = yield* Component.fromFile(guest("cap-storage"))
  yield* Console.log(`cap-storage.wasm imports: ${plugin.world.imports.map((item) => item.name).join(", ")}`)

  // Deny by default: the grants name everything the plugin may do. Logging needs no grant.
  const grants = yield* Capability.decodeGrants([{ type: "Storage", namespace: "plugin-a" }])
  yield* Console.log(`plugin-a is granted: ${JSON.stringify(Capability.encode(grants.capabilities))}\n`)
  const instance = yield* Linker.instantiate(plugin, { id: "plugin-a", grants })

  const attempts: ReadonlyArray<readonly [string, Uint8Array]> = [
    ["log a line", command("l", [], "plugin-a is starting")],
    ["set plugin-a/theme = dark", command("s", ["plugin-a", "theme"], "dark")],
    ["get plugin-a/theme", command("g", ["plugin-a", "theme"])],
    ["get plugin-b/api-key (another plugin's namespace)", command("g", ["plugin-b", "api-key"])],
    ["set plugin-b/api-key = stolen", command("s", ["plugin-b", "api-key"], "stolen")],
    ["list keys of plugin-a", command("k", ["plugin-a"])]
  ]
  for (const [what, input] of attempts) {
    const outcome = yield* instance.process(input).pipe(
      Effect.map((bytes) => `ok ${JSON.stringify(decode(bytes))}`),
      Effect.catch((error) => Effect.succeed(`refused: ${error._tag === "GuestError" ? String(error.payload) : error.message}`))
    )
    yield* Console.log(`${what.padEnd(52)} → ${outcome}`)
  }
  const secret = yield* Storage.Storage.use((storage) => storage.get("plugin-b", "api-key"))
  yield* Console.log(`\nplugin-b's namespace is untouched: api-key ${secret === undefined ? "was never written" : "was written!"}`)

  yield* Console.log("\nThe audit log (memory view of the same chain):")
  for (const event of yield* Audit.events) {
    const what = event.kind === "capability"
      ? `${event.capability} ${event.resource} ${(event.decision ?? "").toUpperCase()}${event.detail ? ` (${event.detail})` : ""}`
      : event.action
    yield* Console.log(`  #${event.sequence} ${event.component}: ${what}`)
  }
})

// The host: logging and storage behind the Linker; audit events to memory and to a JSONL file.
const HostLive = Linker.layer([Logging.hostInterface, Storage.hostInterface]).pipe(
  Layer.provideMerge(Layer.mergeAll(
    Logging.layer,
    Storage.layerMemory({ quota: 64 * 1024 }),
    Audit.combine(Audit.layerMemory({ capacity: 100 }), Audit.layerJsonl(auditFile))
  ))
)

const verify = Effect.gen(function*() {
  const verified = yield* Audit.verifyFile(auditFile)
  yield* Console.log(`\n${auditFile}: ${verified.events} events, hash chain verified`)
  yield* Console.log(`(the same check from a shell: npm run cli -- audit verify ${auditFile})`)
})

NodeRuntime.runMain(Effect.scoped(program).pipe(Effect.provide(HostLive), Effect.andThen(verify)))
