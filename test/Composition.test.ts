import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Audit, Capability, Component, DeadLetters, Deployment, Linker, Messaging, Storage } from "../src/index.ts"
import * as Registry from "../src/Registry.ts"
import * as Router from "../src/Router.ts"
import { decode, guestPath, text } from "./fixtures.ts"

const load = (name: string) => Component.fromFile(guestPath(name))

/**
 * One host: registry, router, the messaging and storage host interfaces (storage in memory), audit, and
 * a deployment manager that links each stage with the Linker.
 */
const withHost = <A, E, R>(f: Effect.Effect<A, E, R>) => {
  const deadLetters = DeadLetters.makeStore()
  const routing = Layer.provideMerge(Router.Router.layer, Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 1000 })))
  const services = Layer.mergeAll(Messaging.layer, Storage.layerMemory()).pipe(Layer.provideMerge(routing))
  const linking = Linker.layer([Messaging.hostInterface, Storage.hostInterface]).pipe(Layer.provideMerge(services))
  const host = Deployment.Deployment.layer.pipe(Layer.provideMerge(linking))
  return f.pipe(Effect.provide(host), Effect.provideService(DeadLetters.DeadLetters, deadLetters))
}

/**
 * The four stages, each a separate component allowed to reach the next stage only:
 * ingestion → validation → processing → storage (which may write the `pipeline` namespace, nothing else).
 */
const deployPipeline = Effect.gen(function*() {
  const deployment = yield* Deployment.Deployment
  const stages: ReadonlyArray<[string, string, ReadonlyArray<Capability.Capability>]> = [
    ["ingestion", "pipeline-ingest", [new Capability.Messaging({ pattern: "validation" })]],
    ["validation", "pipeline-validate", [new Capability.Messaging({ pattern: "processing" })]],
    ["processing", "pipeline-process", [new Capability.Messaging({ pattern: "storage" })]],
    ["storage", "pipeline-store", [new Capability.Storage({ namespace: "pipeline" })]]
  ]
  for (const [name, guest, grants] of stages) {
    yield* deployment.deploy(name, "1", yield* load(guest), { grants: Capability.makeGrants(grants) })
  }
})

const ingest = (record: string) =>
  Router.Router.use((router) => router.request("host", "ingestion", text(record))).pipe(
    Effect.map((reply) => decode(reply!)),
    Effect.catch((error) => Effect.succeed(`${error._tag}: ${error.message}`))
  )

const handled = (name: string) =>
  Deployment.Deployment.use((d) => d.versions(name)).pipe(Effect.map((versions) => versions[0]?.handled ?? 0))

const stored = Effect.gen(function*() {
  const storage = yield* Storage.Storage
  const out: Array<string> = []
  for (const key of yield* storage.keys("pipeline")) out.push(`${key}=${decode((yield* storage.get("pipeline", key))!)}`)
  return out
})

describe("composition: a pipeline of four components", () => {
  it.effect("records flow ingestion → validation → processing → storage through the router", () =>
    withHost(Effect.gen(function*() {
      yield* deployPipeline
      assert.strictEqual(yield* ingest("  apple \n"), "stored 1:APPLE")
      assert.strictEqual(yield* ingest("kiwi"), "stored 2:KIWI")
      assert.deepStrictEqual(yield* stored, ["1=APPLE", "2=KIWI"])
      for (const stage of ["ingestion", "validation", "processing", "storage"]) {
        assert.strictEqual(yield* handled(stage), 2, stage)
      }
      assert.deepStrictEqual(yield* (yield* DeadLetters.DeadLetters).letters, [])
    })))

  it.effect("a record validation rejects goes no further: an error reply, a dead letter when sent, nothing stored", () =>
    withHost(Effect.gen(function*() {
      yield* deployPipeline
      const router = yield* Router.Router
      // Asked: the rejection comes back to the requester through every stage before it.
      const reply = yield* ingest("Banana!")
      assert.match(reply, /^GuestError: .*rejected 1:Banana!$/)
      // Sent, fire and forget: nobody waits, so the rejected message becomes a dead letter.
      yield* router.send("host", "ingestion", text("  Cherry "))
      assert.strictEqual(yield* ingest("date"), "stored 3:DATE")
      const letters = yield* (yield* DeadLetters.DeadLetters).letters
      assert.deepStrictEqual(letters.map((l) => [l.target, l.reason, decode(l.message.payload)]), [
        ["ingestion@1", "Rejected", "  Cherry "]
      ])
      assert.match(letters[0]!.error, /rejected 2:Cherry$/)
      assert.deepStrictEqual(yield* stored, ["3=DATE"])
      assert.deepStrictEqual(
        [yield* handled("ingestion"), yield* handled("validation"), yield* handled("processing"), yield* handled("storage")],
        [3, 3, 1, 1]
      )
    })))

  it.effect("the wiring is enforced: a stage cannot skip the next one", () =>
    withHost(Effect.gen(function*() {
      yield* deployPipeline
      const router = yield* Router.Router
      // Messages as ingestion's own: it may reach validation, not storage directly.
      const skipped = yield* Effect.flip(router.send("ingestion@1", "storage", text("9:EVIL")))
      assert.strictEqual(skipped._tag, "CapabilityDenied")
      assert.strictEqual(yield* handled("storage"), 0)
      const denied = (yield* Audit.events).filter((e) => e.decision === "denied" && e.detail !== "link")
      assert.deepStrictEqual(denied.map((e) => [e.component, e.capability, e.resource]), [["ingestion@1", "Messaging", "storage"]])
    })))
})
