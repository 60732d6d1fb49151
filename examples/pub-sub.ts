/**
 * Publish-subscribe between guests: components subscribe to topics and publish on them from inside
 * wasm, through the host's router, each limited by its Messaging grants.
 *
 * The guests are guests/messenger.wat: a component that runs messaging commands it is sent (subscribe,
 * publish, ...) and logs every other message it receives (a topic message's topic first).
 *
 *   - `dashboard` and `archive` may subscribe to `prices.*`; `feed` may publish on `prices.eur` only.
 *   - Topic messages reach each subscriber through its own `handle-message`.
 *   - `feed` publishing on, or subscribing to, `prices.usd` is refused, and the refusal audited.
 *
 * Run: node scripts/build-guests.ts messenger && node examples/pub-sub.ts
 */
import { Console, Effect, Layer } from "effect"
import * as path from "node:path"
import { Audit, Capability, Component, Deployment, Linker, Logging, Messaging, Registry, Router } from "../src/index.ts"

const build = path.resolve(import.meta.dirname, "..", "build")
// Our own guests: memory cap as by default, but no fuel metering (a binaryen pass on first load). An
// untrusted plugin keeps `ResourceLimits.defaults`.
const trusted = { fuel: Infinity }
const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** A messenger command: an op byte, then each field prefixed by its length. */
const command = (op: "p" | "u", ...fields: ReadonlyArray<string>) =>
  new Uint8Array([op.charCodeAt(0), ...fields.flatMap((field) => [field.length, ...encoder.encode(field)])])

// Guests' log lines, printed as they come.
const PrintedLogs = Layer.succeed(
  Logging.Logging,
  Logging.Logging.of({
    log: (component, level, message) => Console.log(`    [${component}] ${level === "debug" ? `topic ${message}` : `got ${message}`}`)
  })
)

const Routing = Layer.provideMerge(Router.Router.layer, Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 100 })))
const HostLive = Deployment.Deployment.layer.pipe(
  Layer.provideMerge(Linker.layer([Logging.hostInterface, Messaging.hostInterface])),
  Layer.provideMerge(Layer.merge(Messaging.layer, PrintedLogs)),
  Layer.provideMerge(Routing)
)

const program = Effect.gen(function*() {
  const deployment = yield* Deployment.Deployment
  const router = yield* Router.Router
  // Cached on disk: a second run skips the transpile.
  const messenger = yield* Component.fromFile(path.join(build, "guests", "messenger.wasm"), { cacheDirectory: path.join(build, "cache"), limits: trusted })
  const grants = (...patterns: ReadonlyArray<string>) =>
    Capability.makeGrants(patterns.map((pattern) => new Capability.Messaging({ pattern })))

  yield* deployment.deploy("dashboard", "1", messenger, { grants: grants("prices.*") })
  yield* deployment.deploy("archive", "1", messenger, { grants: grants("prices.*") })
  yield* deployment.deploy("feed", "1", messenger, { grants: grants("prices.eur") })

  // The host asks each guest to run a command; the guest calls the messaging interface itself.
  const run = (who: string, label: string, payload: Uint8Array) =>
    router.request("host", who, payload).pipe(
      Effect.map((reply) => `ok (${decoder.decode(reply!)})`),
      Effect.catch((error) => Effect.succeed(`refused: ${error._tag === "GuestError" ? String(error.payload) : error.message}`)),
      Effect.flatMap((outcome) => Console.log(`${who} ${label}: ${outcome}`))
    )

  yield* run("dashboard", "subscribes to prices.eur", command("u", "prices.eur"))
  yield* run("archive", "subscribes to prices.eur", command("u", "prices.eur"))
  yield* Console.log(`subscribers of prices.eur: ${(yield* router.subscribers("prices.eur")).join(", ")}`)
  for (const price of ["1.0841", "1.0839"]) {
    yield* run("feed", `publishes ${price} on prices.eur`, command("p", "prices.eur", price))
  }
  yield* run("feed", "publishes on prices.usd", command("p", "prices.usd", "0.9231"))
  yield* run("feed", "subscribes to prices.usd", command("u", "prices.usd"))

  // Let the subscribers handle what was published before reading the audit log.
  for (const who of ["dashboard", "archive"]) yield* router.request("host", who, encoder.encode("done"))
  yield* Console.log("\ndenied in the audit log:")
  for (const event of yield* Audit.events) {
    if (event.decision === "denied" && event.detail !== "link") {
      yield* Console.log(`  ${event.component} ${event.capability} ${event.resource}`)
    }
  }
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(HostLive))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
