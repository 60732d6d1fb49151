/**
 * How-to: supervision (docs/how-to/supervision.md).
 *
 * Run from the repository root, after `node scripts/build-guests.ts`:
 *   node_modules/.bin/node docs/how-to/code/supervision.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Schedule } from "effect"
import * as path from "node:path"
import { Actor, Component, Supervisor } from "airssys-wasm"

const guest = (name: string) => path.resolve(import.meta.dirname, "..", "..", "..", "build", "guests", `${name}.wasm`)
const text = (s: string): Uint8Array => new TextEncoder().encode(s)

// guests/flaky.wat traps on a payload starting with "trap"; it logs and echoes anything else.
const quiet = { "airssys:component/logging": { log: () => Effect.void } }
const flaky = (id: string) => Effect.flatMap(Component.fromFile(guest("flaky")), (component) => Actor.make(component, { id, imports: quiet }))
const incarnations = (actors: ReadonlyArray<Actor.ActorRef>) =>
  Effect.map(Effect.forEach(actors, (actor) => actor.stats), (all) => all.map((s) => `${s.id}:${s.incarnations}`).join(" "))

// #region strategy
const restForOne = Effect.gen(function*() {
  const [ingest, parse, store] = yield* Effect.forEach(["ingest", "parse", "store"], flaky)
  yield* Supervisor.start({
    id: "pipeline",
    strategy: "RestForOne", // a crash restarts the crashed child and every child started after it
    backoff: Schedule.spaced("10 millis"),
    children: [Actor.child(ingest!), Actor.child(parse!), Actor.child(store!)]
  })
  const trapped = yield* Effect.flip(parse!.request(text("trap")))
  yield* Console.log(`parse: ${trapped._tag}`)
  yield* Effect.sleep("100 millis") // the backoff, then parse and store are stopped and started again
  yield* store!.request(text("after the restart"))
  yield* Console.log(`incarnations: ${yield* incarnations([ingest!, parse!, store!])}`)
})
// #endregion strategy

// #region escalation
const escalation = Effect.gen(function*() {
  const worker = yield* flaky("worker")
  for (let i = 0; i < 4; i++) yield* worker.send(text(`trap ${i}`))
  const outer = yield* Supervisor.start({
    id: "outer",
    children: [{
      id: "inner",
      // A supervisor as a child: when it gives up, its parent sees a crash.
      start: Supervisor.run({
        id: "inner",
        intensity: { maxRestarts: 2, period: "1 minute" },
        backoff: Supervisor.exponentialBackoff({ base: "10 millis", cap: "1 second" }),
        children: [Actor.child(worker)]
      })
    }]
  })
  yield* Effect.sleep("500 millis")
  const [inner] = yield* outer.children
  yield* Console.log(`inner: restarted ${inner?.ownRestarts} time(s), last exit ${inner?.lastExit?.reason}`)
  yield* Console.log(`  ${inner?.lastExit?.message?.split("\n")[0]}`)
  yield* Console.log(`worker: ${JSON.stringify(yield* worker.stats)}`)
})
// #endregion escalation

// #region snapshot
const snapshot = Effect.gen(function*() {
  const api = yield* flaky("api")
  const root = yield* Supervisor.start({
    id: "root",
    children: [
      Actor.child(api, { restart: "Permanent", shutdownTimeout: "2 seconds" }),
      { id: "jobs", start: Supervisor.run({ id: "jobs", strategy: "OneForAll", children: [Actor.child(yield* flaky("job"))] }) }
    ]
  })
  yield* api.request(text("warm up"))
  yield* Console.log(JSON.stringify(yield* root.snapshot, null, 2))
})
// #endregion snapshot

const step = <E, R>(title: string, effect: Effect.Effect<void, E, R>) =>
  Effect.andThen(Console.log(`\n== ${title}`), Effect.scoped(effect))

NodeRuntime.runMain(Effect.gen(function*() {
  yield* step("RestForOne", restForOne)
  yield* step("escalation", escalation)
  yield* step("snapshot", snapshot)
}))
