/**
 * How-to: composition (docs/how-to/composition.md).
 *
 * Run from the repository root, after `node scripts/build-guests.ts`:
 *   node_modules/.bin/node docs/how-to/code/composition.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import * as path from "node:path"
import { Audit, Capability, Component, DeadLetters, Deployment, Linker, Messaging, Registry, Router, Storage } from "airssys-wasm"

const root = path.resolve(import.meta.dirname, "..", "..", "..")
const guest = (name: string) => path.join(root, "build", "guests", `${name}.wasm`)
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const decode = (bytes: Uint8Array | undefined): string => new TextDecoder().decode(bytes)

// #region layers
// Registry, router and audit log; the messaging and storage services (storage in memory here); a Linker
// that links the stages' imports to them; and a deployment manager that links each stage with it.
const Routing = Router.Router.layer.pipe(
  Layer.provideMerge(Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 1000 })))
)
const Host = Deployment.Deployment.layer.pipe(
  Layer.provideMerge(Linker.layer([Messaging.hostInterface, Storage.hostInterface])),
  Layer.provideMerge(Layer.merge(Messaging.layer, Storage.layerMemory())),
  Layer.provideMerge(Routing)
)
// #endregion layers

// #region stages
// Four components, each allowed to reach the next stage only; the last may write the `pipeline`
// storage namespace and nothing else. Each stage asks the next with `messaging.request`.
const stages = [
  { name: "ingestion", guest: "pipeline-ingest", grant: new Capability.Messaging({ pattern: "validation" }) },
  { name: "validation", guest: "pipeline-validate", grant: new Capability.Messaging({ pattern: "processing" }) },
  { name: "processing", guest: "pipeline-process", grant: new Capability.Messaging({ pattern: "storage" }) },
  { name: "storage", guest: "pipeline-store", grant: new Capability.Storage({ namespace: "pipeline" }) }
] as const

const deployPipeline = Effect.gen(function*() {
  const deployment = yield* Deployment.Deployment
  for (const stage of stages) {
    // The cache directory keeps each guest's fuel-metered build across runs.
    const component = yield* Component.fromFile(guest(stage.guest), { cacheDirectory: path.join(root, "build", "cache") })
    yield* deployment.deploy(stage.name, "1", component, { grants: Capability.makeGrants([stage.grant]) })
  }
})
// #endregion stages

// #region run
const program = Effect.gen(function*() {
  const router = yield* Router.Router
  const deployment = yield* Deployment.Deployment
  yield* deployPipeline

  // The host asks the first stage; the answer comes back through every stage.
  for (const record of ["  apple ", "kiwi", "Banana!"]) {
    const answer = yield* router.request("host", "ingestion", text(record)).pipe(
      Effect.map(decode),
      Effect.catch((error) => Effect.succeed(`${error._tag}: ${error.message}`))
    )
    yield* Console.log(`${JSON.stringify(record)} → ${answer}`)
  }

  // Sent without waiting: a rejected record has nobody to answer, so it becomes a dead letter.
  yield* router.send("host", "ingestion", text("Cherry"))
  yield* router.request("host", "ingestion", text("plum")) // handled after "Cherry"
  for (const letter of yield* DeadLetters.DeadLetters.use((store) => store.letters)) {
    yield* Console.log(`dead letter at ${letter.target} (${letter.reason}): ${letter.error}`)
  }

  // The wiring is enforced by the grants: ingestion may not skip to storage.
  const skipped = yield* Effect.flip(router.send("ingestion@1", "storage", text("9:EVIL")))
  yield* Console.log(`ingestion → storage: ${skipped._tag}: ${skipped.message}`)

  const storage = yield* Storage.Storage
  for (const key of yield* storage.keys("pipeline")) {
    yield* Console.log(`stored ${key} = ${decode(yield* storage.get("pipeline", key))}`)
  }
  for (const stage of stages) {
    const [version] = yield* deployment.versions(stage.name)
    yield* Console.log(`${stage.name}: ${version?.status}, handled ${version?.handled}`)
  }
})
// #endregion run

NodeRuntime.runMain(program.pipe(Effect.scoped, Effect.provide(Host)))
