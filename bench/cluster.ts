/**
 * The cluster: two runner processes (`test/programs/clusterRunner.ts`) on loopback over one SQLite file,
 * and this process as a client-only member. A request through a wasm component entity beside the same
 * request to effect/cluster's own entity with no wasm behind it (`test/programs/benchEcho.ts`: the
 * target is ≤ 1.2x, our part staying small), beside an in-process `Actor.request` of the same guest; the
 * first message to a new entity (activation: spec read, link, instantiate); a persisted request (stored
 * in SQLite before delivery); and throughput with 64 requests in flight.
 *
 * Every remote row pays loopback TCP, serialization and the scheduling of three processes on a shared
 * machine: treat them as orders of magnitude, and the ratio to the plain entity as the figure.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Context, Duration, Effect, Layer, Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Cluster } from "../src/cluster/index.ts"
import { Actor, Component } from "../src/index.ts"
import { settled, startRunner } from "../test/clusterRunners.ts"
import { guestBytes } from "../test/fixtures.ts"
import { Echo } from "../test/programs/benchEcho.ts"
import { measureBatch, type Options, type Row } from "./harness.ts"

const suite = "cluster"
const payload = new Uint8Array(16).fill(7)
const limits = { fuel: 100_000_000, timeout: Duration.seconds(1), memoryBytes: 16 * 1024 * 1024 }

export const cluster = async (options: Options): Promise<ReadonlyArray<Row>> => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-bench-cluster-"))
  const database = path.join(work, "cluster.db")
  const sql = SqliteClient.layer({ filename: database })
  const scope = Effect.runSync(Scope.make())
  try {
    // Two runners that hold every shard, then the client.
    await Effect.runPromise(
      Effect.gen(function*() {
        yield* startRunner(`sqlite:${database}`, ["--bench-echo"])
        yield* startRunner(`sqlite:${database}`, ["--bench-echo"])
        yield* settled(2)
      }).pipe(Effect.provide(sql), Scope.provide(scope))
    )
    const context = await Effect.runPromise(
      Layer.buildWithScope(Layer.provideMerge(Cluster.layerClient(), sql), scope)
    )
    const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
    const client = Context.get(context, Cluster.Cluster)
    await run(client.deploy({ name: "counter", version: "1", bytes: guestBytes("lifecycle"), limits }))
    const echo = (await Effect.runPromiseWith(context)(Echo.client))("bench")
    // Activate both entities before timing.
    await run(client.request("counter/bench", payload))
    await run(echo.Echo({ payload }))

    const sequential = <A, E>(op: (i: number) => Effect.Effect<A, E, never>) => (n: number) =>
      run(Effect.forEach(Array.from({ length: n }, (_, i) => i), op, { discard: true }))

    const inProcessActor = await Effect.runPromise(Effect.gen(function*() {
      const component = yield* Component.fromBytes(guestBytes("lifecycle"))
      return yield* Actor.spawn(component, { id: "bench-in-process" })
    }).pipe(Scope.provide(scope)))
    const inProcess = await measureBatch(options, 20_000, (n) =>
      Effect.runPromise(Effect.forEach(Array.from({ length: n }, (_, i) => i), () => inProcessActor.request(payload), { discard: true })))

    const plain = await measureBatch(options, 500, sequential(() => echo.Echo({ payload })))
    const wasm = await measureBatch(options, 500, sequential(() => client.request("counter/bench", payload)))
    let fresh = 0
    const first = await measureBatch(options, 100, sequential(() => client.request(`counter/new-${fresh++}`, payload)), 3)
    let key = 0
    const persisted = await measureBatch(
      options,
      100,
      sequential(() => client.request("counter/bench", payload, { persisted: { key: `bench-${key++}` } })),
      3
    )
    const inFlight = await measureBatch(options, 2_000, (n) =>
      run(Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => client.request(`counter/load-${i % 64}`, payload), {
        concurrency: 64,
        discard: true
      })), 3)

    const inProcessName = "Actor.request (16 B, wasm), in process"
    const plainName = "cluster request, effect/cluster entity, no wasm (16 B)"
    const wasmName = "cluster request, wasm entity (16 B)"
    return [
      { suite, name: inProcessName, nsPerOp: inProcess },
      { suite, name: plainName, nsPerOp: plain, baseline: inProcessName, note: "2 runner processes + this client, loopback" },
      { suite, name: wasmName, nsPerOp: wasm, baseline: [plainName, inProcessName], targetNs: plain * 1.2 },
      { suite, name: "first message to a new wasm entity (activate + instantiate)", nsPerOp: first, baseline: wasmName },
      { suite, name: "cluster persisted request, wasm entity (SQLite)", nsPerOp: persisted, baseline: wasmName },
      {
        suite,
        name: "cluster requests, 64 in flight over 64 wasm entities (per message)",
        nsPerOp: inFlight,
        baseline: wasmName,
        note: "2 runners"
      }
    ]
  } finally {
    await Effect.runPromise(Scope.close(scope, Effect.void as never))
    fs.rmSync(work, { recursive: true, force: true })
  }
}
