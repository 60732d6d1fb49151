/**
 * The demo host (`npm start`): a small plugin host on embedded defaults, telling what happens as it goes.
 *
 * - State in SQLite and the audit log as a hash-chained JSONL file, both in `.airssys/` (kept between runs:
 *   run it twice and the audit chain continues).
 * - A four-component pipeline (ingestion → validation → processing → storage), each stage a real wasm
 *   actor under its own supervisor, each allowed to reach only the next stage.
 * - A guest that traps on one message: that message goes to dead letters, the supervisor restarts it
 *   with a fresh instance, the messages behind it are still handled.
 * - A guest asking for something it was not granted: refused, and the refusal is in the audit log.
 * - A hot swap from v1 to v2 of a component under traffic, without losing a message.
 * - A clean stop: every actor drains and stops, the files close, and the audit log's chain verifies.
 *
 * All along, the live observer serves the host on 127.0.0.1 (its URL is printed first; `--port=N` or
 * `AIRSSYS_OBSERVE_PORT` picks the port). `npm start -- --keep` (or `AIRSSYS_DEMO_KEEP=1`) keeps the host
 * up after step 5, with a trickle of traffic, an occasional trap and denial, until Ctrl-C.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Fiber, Layer, Logger, References, Schedule, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import {
  Audit,
  Capability,
  Component,
  DeadLetters,
  Deployment,
  Linker,
  Logging,
  Messaging,
  Registry,
  Router,
  Storage
} from "../src/index.ts"
import { Observer } from "../src/observer/index.ts"
import { stages } from "./pipeline.ts"

const root = path.resolve(import.meta.dirname, "..")
// `AIRSSYS_DEMO_DIR` moves the state and the audit log elsewhere (the test of this demo uses a temp folder).
const dataDirectory = process.env["AIRSSYS_DEMO_DIR"] ?? path.join(root, ".airssys")
const statePath = path.join(dataDirectory, "state.sqlite")
const auditPath = path.join(dataDirectory, "audit.jsonl")
const encoder = new TextEncoder()
const decoder = new TextDecoder()
const text = (bytes: Uint8Array | undefined) => decoder.decode(bytes ?? new Uint8Array())

// Our own sample guests: the default memory cap, but no fuel metering (its binaryen pass costs a second on
// first load). A host loading untrusted plugins keeps `ResourceLimits.defaults`.
const load = (guest: string) =>
  Component.fromFile(path.join(root, "build", "guests", `${guest}.wasm`), {
    cacheDirectory: path.join(root, "build", "cache"),
    limits: { fuel: Infinity }
  })

// Log lines (the guests' and the supervisors'), one per line, tagged with who wrote them.
const logLines = Logger.make(({ fiber, message }) => {
  const annotations = fiber.getRef(References.CurrentLogAnnotations)
  const author = annotations["component"] !== undefined
    ? `guest ${String(annotations["component"])}`
    : annotations["supervisor"] !== undefined
    ? `supervisor ${String(annotations["supervisor"])}`
    : "host"
  const line = Array.isArray(message) ? message.join(" ") : String(message)
  console.log(`      [${author}] ${line}`)
})

const keep = process.argv.includes("--keep") || process.env["AIRSSYS_DEMO_KEEP"] === "1"
const portArgument = process.argv.find((arg) => arg.startsWith("--port="))?.slice("--port=".length)
const port = Number(portArgument ?? process.env["AIRSSYS_OBSERVE_PORT"] ?? 0)

const HostLive = Observer.layer({ port }).pipe(
  Layer.provideMerge(Deployment.Deployment.layer),
  Layer.provideMerge(Linker.layer([Messaging.hostInterface, Storage.hostInterface, Logging.hostInterface])),
  Layer.provideMerge(Layer.mergeAll(Messaging.layer, Storage.layer({ filename: statePath }), Logging.layer)),
  Layer.provideMerge(Router.Router.layer),
  // The audit log on disk, and its latest events in memory for the observer's audit stream.
  Layer.provideMerge(Layer.merge(Registry.Registry.layer, Audit.combine(Audit.layerMemory({ capacity: 1000 }), Audit.layerJsonl(auditPath))))
)

const step = (title: string) => Console.log(`\n== ${title}`)


const program = Effect.gen(function*() {
  const deployment = yield* Deployment.Deployment
  const router = yield* Router.Router
  const registry = yield* Registry.Registry
  yield* Console.log(`airssys-wasm demo host — state ${path.relative(root, statePath)}, audit log ${path.relative(root, auditPath)}`)
  const observer = yield* Observer.Observer
  yield* Console.log(`observer: ${observer.url} (live while the demo runs${keep ? "" : "; npm start -- --keep to keep the host up"})`)

  // Restarts and stops, as the registry reports them.
  yield* Effect.forkScoped(
    Stream.runForEach(
      Stream.filter(registry.events, (event) => event._tag === "Restarted" || event._tag === "Stopped"),
      (event) => Console.log(`      (registry: ${event.entry.id} ${event._tag.toLowerCase()})`)
    ),
    { startImmediately: true }
  )

  yield* step("1. Deploy a pipeline of four wasm components, each allowed to reach only the next stage")
  for (const stage of stages) {
    yield* deployment.deploy(stage.name, "1", yield* load(stage.guest), { grants: Capability.makeGrants([stage.grant]) })
    yield* Console.log(`   ${stage.name.padEnd(10)} ${stage.guest}.wasm, granted ${stage.grant._tag}(${"pattern" in stage.grant ? stage.grant.pattern : stage.grant.namespace})`)
  }

  yield* step("2. Records flow through it (validation accepts 1 to 32 letters)")
  for (const record of ["  apple ", "kiwi", "Banana!", "plum"]) {
    const answer = yield* router.request("host", "ingestion", encoder.encode(record)).pipe(
      Effect.map(text),
      Effect.catch((error) => Effect.succeed(`refused: ${error.message}`))
    )
    yield* Console.log(`   ${JSON.stringify(record).padEnd(10)} → ${answer}`)
  }
  const storage = yield* Storage.Storage
  const keys = yield* storage.keys("pipeline")
  yield* Console.log(`   SQLite now holds ${keys.length} records in namespace "pipeline": ${keys.join(", ")}`)

  yield* step("3. A guest traps on one message; its supervisor restarts it and the rest are handled")
  const flaky = yield* deployment.deploy("flaky", "1", yield* load("flaky"), {
    grants: Capability.makeGrants([new Capability.Custom({ interface: Logging.interfaceName, scope: "*" })])
  })
  for (const payload of ["first", "trap: this one poisons the instance", "second", "third"]) {
    yield* router.send("host", "flaky", encoder.encode(payload))
  }
  const back = yield* router.request("host", "flaky", encoder.encode("are you back?")).pipe(Effect.map(text))
  yield* Console.log(`   flaky answers ${JSON.stringify(back)} — incarnation ${(yield* flaky.ref.stats).incarnations}`)
  for (const letter of yield* (yield* DeadLetters.DeadLetters).letters) {
    yield* Console.log(`   dead letter at ${letter.target}: ${JSON.stringify(text(letter.message.payload))} (${letter.reason})`)
  }

  yield* step("4. A guest asks for what it was not granted")
  yield* deployment.deploy("messenger", "1", yield* load("messenger"), {
    grants: Capability.makeGrants([new Capability.Messaging({ pattern: "flaky" })])
  })
  const command = (op: string, ...fields: Array<string>) =>
    encoder.encode(op + fields.map((field) => String.fromCharCode(field.length) + field).join(""))
  const allowed = yield* router.request("host", "messenger", command("r", "flaky", "hello from messenger")).pipe(Effect.map(text))
  yield* Console.log(`   messenger → flaky (granted): ${JSON.stringify(allowed)}`)
  const refusal = yield* Effect.flip(router.request("host", "messenger", command("s", "storage", "9:EVIL")))
  yield* Console.log(`   messenger → storage (not granted): ${refusal._tag}: ${refusal.message}`)
  const audit = yield* Audit.Audit
  yield* audit.flush
  const deniedLine = fs.readFileSync(auditPath, "utf8").trimEnd().split("\n").findLast((line) => line.includes("\"denied\""))
  yield* Console.log(`   in ${path.relative(root, auditPath)}: ${deniedLine ?? "(no denied event?)"}`)

  yield* step("5. Hot swap: greeter v2 replaces v1 while 200 messages are in flight")
  const greet = (who: string) =>
    router.request("host", "greeter", encoder.encode(who)).pipe(
      Effect.flatMap((reply) => Console.log(`   greeter answers ${who}: ${JSON.stringify(text(reply))}`))
    )
  const blue = yield* deployment.deploy("greeter", "1", yield* load("greeter-v1"))
  yield* greet("ann")
  const green = yield* deployment.deploy("greeter", "2", yield* load("greeter-v2"))
  const traffic = yield* Effect.forkChild(
    Effect.forEach(Array.from({ length: 200 }, (_, i) => i), (i) => router.send("host", "greeter", encoder.encode(`m${i}`)), { discard: true }),
    { startImmediately: true }
  )
  yield* deployment.promote("greeter", "2")
  yield* Fiber.join(traffic)
  yield* greet("bob")
  const handled = (yield* blue.ref.stats).handled + (yield* green.ref.stats).handled - 2
  yield* Console.log(`   of 200 sent during the swap: ${handled} handled (v1 drained and is ${blue.ref.status.toLowerCase()}), ${200 - handled} lost`)
  yield* deployment.rollback("greeter")
  yield* greet("cy")
  yield* Console.log("   (rolled back to v1)")

  if (keep) {
    yield* step(`The host stays up: watch it at ${observer.url} — Ctrl-C for a clean stop`)
    // A trickle of traffic through the pipeline and the greeter, a trap now and then, a denial now and then.
    let tick = 0
    yield* Effect.forkScoped(Effect.repeat(
      Effect.gen(function*() {
        tick++
        yield* Effect.ignore(router.request("host", "greeter", encoder.encode(`visitor ${tick}`)))
        if (tick % 3 === 0) yield* Effect.ignore(router.request("host", "ingestion", encoder.encode(tick % 2 === 0 ? "kiwi" : "Mango")))
        if (tick % 150 === 0) yield* Effect.ignore(router.send("host", "flaky", encoder.encode("trap: now and then")))
        if (tick % 200 === 0) yield* Effect.ignore(router.request("host", "messenger", command("s", "storage", "9:EVIL")))
      }),
      Schedule.spaced("100 millis")
    ))
    return yield* Effect.never
  }
  yield* step("6. Clean stop")
})

const main = Effect.gen(function*() {
  fs.mkdirSync(dataDirectory, { recursive: true })
  yield* program.pipe(Effect.scoped, Effect.provide(HostLive))
  // The layers are closed now: every actor drained and stopped, SQLite and the audit file closed.
  const verified = yield* Audit.verifyFile(auditPath)
  yield* Console.log(`   every actor stopped; the audit log's hash chain verifies: ${verified.events} events, head ${verified.head.hash.slice(0, 16)}…`)
  yield* Console.log("\nThe host never died: every guest failure above was a typed error. Run `npm start` again: state and audit chain continue.")
})

NodeRuntime.runMain(main.pipe(Effect.provide(Logger.layer([logLines]))))
