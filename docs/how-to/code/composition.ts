/**
 * How-to: composition (docs/how-to/composition.md).
 *
 * Run from the repository root, after `node scripts/build-guests.ts`:
 *   node_modules/.bin/node docs/how-to/code/composition.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Schedule } from "effect"
import * as path from "node:path"
import { Actor, Component, ComponentError, Registry, Router, Supervisor } from "airssys-wasm"

const root = path.resolve(import.meta.dirname, "..", "..", "..")
const guest = (name: string) => path.join(root, "build", "guests", `${name}.wasm`)
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const decode = (bytes: Uint8Array | undefined): string => new TextDecoder().decode(bytes)

// A componentize-js guest is metered for fuel once; the cache directory keeps that across runs.
const load = (name: string) => Component.fromFile(guest(name), { cacheDirectory: path.join(root, "build", "cache") })

// #region imports
// The host functions the stages import. `messaging` is wired by hand over the router, with the stage's
// own id as the sender, until the messaging capability provides it.
const refusal = (error: { readonly _tag: string; readonly message: string }) =>
  new ComponentError.HostRefusal({ payload: `${error._tag}: ${error.message}` })

const importsFor = (router: Router.Router["Service"], self: string) => ({
  "airssys:component/logging": {
    log: (_level: string, message: string) => Console.log(`  [${self}] ${message}`)
  },
  "airssys:component/messaging": {
    send: (target: string, payload: Uint8Array) => Effect.mapError(router.send(self, target, payload), refusal),
    request: (target: string, payload: Uint8Array, timeoutMs: number) =>
      router.request(self, target, payload, { timeout: timeoutMs }).pipe(
        Effect.map((reply) => reply ?? new Uint8Array()),
        Effect.mapError(refusal)
      ),
    publish: (topic: string, payload: Uint8Array) => Effect.mapError(Effect.asVoid(router.publish(self, topic, payload)), refusal),
    subscribe: (topic: string) => Effect.mapError(router.subscribe(self, topic), refusal)
  }
})
// #endregion imports

// #region stages
// A stage: an actor registered as `name@version`, reachable by `name` while the route points at it.
const stage = (name: string, version: string, file: string) =>
  Effect.gen(function*() {
    const registry = yield* Registry.Registry
    const router = yield* Router.Router
    const id = `${name}@${version}`
    const ref = yield* Actor.make(yield* load(file), { id, imports: importsFor(router, id), hooks: registry.hooks })
    yield* registry.register(name, version, ref)
    return ref
  })

// The pipeline: each stage's reply is the next stage's input, addressed by name.
const pipeline = (stages: ReadonlyArray<string>) => (input: Uint8Array) =>
  Effect.gen(function*() {
    const router = yield* Router.Router
    let payload = input
    for (const name of stages) payload = (yield* router.request("host", name, payload)) ?? new Uint8Array()
    return payload
  })
// #endregion stages

// #region run
const program = Effect.gen(function*() {
  const registry = yield* Registry.Registry
  // guests/actor-js.js logs and answers with its payload reversed; guests/flaky.wat logs and echoes.
  const transform = yield* stage("transform", "1", "actor-js")
  const sink = yield* stage("sink", "1", "flaky")
  // In pipeline order: with RestForOne, a crash restarts that stage and every stage after it.
  yield* Supervisor.start({
    id: "pipeline",
    strategy: "RestForOne",
    backoff: Schedule.spaced("10 millis"),
    children: [Actor.child(transform), Actor.child(sink)]
  })
  const run = pipeline(["transform", "sink"])
  yield* Console.log(`result: ${decode(yield* run(text("stressed")))}`)

  // Blue-green: start v2 of a stage beside v1, switch the route, roll back.
  const transform2 = yield* stage("transform", "2", "flaky")
  yield* Supervisor.start({ id: "transform-v2", children: [Actor.child(transform2)] })
  yield* registry.route("transform", "2")
  yield* Console.log(`after the switch: ${decode(yield* run(text("stressed")))}`)
  yield* registry.rollback("transform")
  yield* Console.log(`after the rollback: ${decode(yield* run(text("stressed")))}`)

  // A stage that fails fails the run with its typed error ("part" reversed is "trap": the sink traps).
  const failed = yield* Effect.flip(run(text("part")))
  yield* Console.log(`"part": ${failed._tag} from the sink`)
  yield* Effect.sleep("100 millis") // the supervisor's backoff, then the sink is back
  yield* Console.log(`and again: ${decode(yield* run(text("stressed")))}`)
  yield* Console.log(`sink incarnations: ${(yield* sink.stats).incarnations}`)
})
// #endregion run

const Messaging = Router.Router.layer.pipe(Layer.provideMerge(Registry.Registry.layer))

NodeRuntime.runMain(program.pipe(Effect.scoped, Effect.provide(Messaging)))
