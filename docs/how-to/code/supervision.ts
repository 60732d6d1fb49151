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
const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

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

// #region lifecycle
const lifecycle = Effect.gen(function*() {
  // A child that cannot start: `start` fails, the children before it stop, the ones after never start.
  const broken = yield* Effect.flatMap(Component.fromFile(guest("lifecycle")), (component) =>
    Actor.make(component, { id: "broken", config: text("fail") })) // its init refuses "fail"
  const failed = yield* Effect.flip(Supervisor.start({
    id: "boot",
    children: [Actor.child(yield* flaky("first")), Actor.child(broken), Actor.child(yield* flaky("never"))]
  }))
  yield* Console.log(`${failed.reason}: ${failed.message}`)

  const [a, b] = yield* Effect.forEach(["a", "b"], flaky)
  const root = yield* Supervisor.start({ id: "root", children: [Actor.child(a!)] })
  yield* root.startChild(Actor.child(b!)) // OTP's start_child
  yield* a!.stop() // on purpose: its supervisor's terminate_child, not a crash to restart
  const stopped = yield* Effect.flip(a!.request(text("hello?"))) // fails at once
  yield* Console.log(`a: ${a!.status}, request: ${stopped._tag === "ActorStopped" ? stopped.reason : stopped._tag}`)
  yield* root.terminateChild("b")
  yield* Console.log(`children: ${JSON.stringify(yield* root.countChildren)}`)
  yield* root.restartChild("a")
  yield* Console.log(`a again: ${decode((yield* a!.request(text("back")))!)}`)
})
// #endregion lifecycle

// #region dynamic
const dynamic = Effect.gen(function*() {
  const pool = yield* Supervisor.startDynamic({
    id: "sessions",
    maxChildren: 2,
    child: (actor: Actor.ActorRef) => Actor.child(actor, { restart: "Transient" })
  })
  for (const id of ["s1", "s2", "s3"]) {
    const started = yield* Effect.result(pool.startChild(yield* flaky(id)))
    yield* Console.log(`${id}: ${started._tag === "Success" ? started.success.state : started.failure.reason}`)
  }
  yield* pool.terminateChild("s1") // deleted: room for another
  yield* pool.startChild(yield* flaky("s4"))
  yield* Console.log(`sessions: ${(yield* pool.children).map((child) => child.id).join(", ")}`)
})
// #endregion dynamic

const step = <E, R>(title: string, effect: Effect.Effect<void, E, R>) =>
  Effect.andThen(Console.log(`\n== ${title}`), Effect.scoped(effect))

NodeRuntime.runMain(Effect.gen(function*() {
  yield* step("RestForOne", restForOne)
  yield* step("escalation", escalation)
  yield* step("snapshot", snapshot)
  yield* step("lifecycle", lifecycle)
  yield* step("dynamic", dynamic)
}))
