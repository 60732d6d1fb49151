/**
 * Composition: four components in a pipeline — ingestion → validation → processing → storage — each
 * passing records to the next through the host's router, each allowed to reach the next stage only.
 *
 *   guests/pipeline-ingest.wat    trims and numbers a record, asks validation
 *   guests/pipeline-validate.wat  accepts 1 to 32 lowercase letters, asks processing; rejects the rest
 *   guests/pipeline-process.wat   upper-cases, asks storage
 *   guests/pipeline-store.wat     stores the record under its number (the Storage capability)
 *
 * Each stage asks the next with `messaging.request`, which suspends the guest (JSPI) until the answer
 * comes back, so a record's reply tells the host how far it got. A rejected record goes no further;
 * sent without waiting, it ends in dead letters.
 *
 * Run: node scripts/build-guests.ts pipeline-ingest pipeline-validate pipeline-process pipeline-store
 *      && node examples/composition.ts
 */
import { Console, Effect, Layer } from "effect"
import * as path from "node:path"
import { Audit, Capability, Component, DeadLetters, Deployment, Linker, Messaging, Registry, Router, Storage } from "../src/index.ts"

const build = path.resolve(import.meta.dirname, "..", "build")
// Our own guests: memory cap as by default, but no fuel metering (a binaryen pass on first load). An
// untrusted plugin keeps `ResourceLimits.defaults`.
const trusted = { fuel: Infinity }
const encoder = new TextEncoder()
const decoder = new TextDecoder()

const Routing = Layer.provideMerge(Router.Router.layer, Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 100 })))
const HostLive = Deployment.Deployment.layer.pipe(
  Layer.provideMerge(Linker.layer([Messaging.hostInterface, Storage.hostInterface])),
  Layer.provideMerge(Layer.merge(Messaging.layer, Storage.layerMemory())),
  Layer.provideMerge(Routing)
)

const stages = [
  { name: "ingestion", guest: "pipeline-ingest", grant: new Capability.Messaging({ pattern: "validation" }) },
  { name: "validation", guest: "pipeline-validate", grant: new Capability.Messaging({ pattern: "processing" }) },
  { name: "processing", guest: "pipeline-process", grant: new Capability.Messaging({ pattern: "storage" }) },
  { name: "storage", guest: "pipeline-store", grant: new Capability.Storage({ namespace: "pipeline" }) }
] as const

const program = Effect.gen(function*() {
  const deployment = yield* Deployment.Deployment
  const router = yield* Router.Router
  for (const stage of stages) {
    const component = yield* Component.fromFile(path.join(build, "guests", `${stage.guest}.wasm`), {
      cacheDirectory: path.join(build, "cache"), limits: trusted
    })
    yield* deployment.deploy(stage.name, "1", component, { grants: Capability.makeGrants([stage.grant]) })
    yield* Console.log(`deployed ${stage.name} (${stage.guest}), may reach: ${stage.grant._tag} ${"pattern" in stage.grant ? stage.grant.pattern : stage.grant.namespace}`)
  }

  yield* Console.log("\nrecords in, with the pipeline's answer:")
  for (const record of ["  apple ", "kiwi", "Banana!", "x1"]) {
    const answer = yield* router.request("host", "ingestion", encoder.encode(record)).pipe(
      Effect.map((reply) => decoder.decode(reply!)),
      Effect.catch((error) => Effect.succeed(`rejected (${error.message})`))
    )
    yield* Console.log(`  ${JSON.stringify(record)} -> ${answer}`)
  }

  yield* Console.log("\na record sent without waiting for an answer:")
  yield* router.send("host", "ingestion", encoder.encode("Cherry"))
  yield* router.request("host", "ingestion", encoder.encode("plum")) // answered after "Cherry" was handled
  for (const letter of yield* (yield* DeadLetters.DeadLetters).letters) {
    yield* Console.log(`  dead letter at ${letter.target} (${letter.reason}): ${JSON.stringify(decoder.decode(letter.message.payload))}: ${letter.error}`)
  }

  yield* Console.log("\nstored in namespace \"pipeline\":")
  const storage = yield* Storage.Storage
  for (const key of yield* storage.keys("pipeline")) {
    yield* Console.log(`  ${key} = ${decoder.decode((yield* storage.get("pipeline", key))!)}`)
  }

  yield* Console.log("\nmessages handled per stage:")
  for (const stage of stages) {
    const [version] = yield* deployment.versions(stage.name)
    yield* Console.log(`  ${stage.name}: ${version?.handled}`)
  }

  const skipped = yield* Effect.flip(router.send("ingestion@1", "storage", encoder.encode("9:EVIL")))
  yield* Console.log(`\ningestion writing to storage directly: ${skipped._tag}: ${skipped.message}`)
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(HostLive))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
