/**
 * One runner of the cluster demo (`npm run cluster`), started by `demo/cluster.ts` as a child process:
 * `clusterRunner.ts CLUSTER_DB PORT`.
 *
 * Hosts the component actors whose shards it holds, on 127.0.0.1:PORT, over the cluster's SQLite file
 * (shared with the other runners and the client). Its guests are linked with messaging (through a router
 * of its own that reaches the whole cluster), storage (the runner's default, in the cluster's database:
 * the pipeline's records outlive the runner that wrote them) and logging; everything else is a deny stub.
 * Prints `{"ready":PORT}` once it serves. Ends on SIGTERM / SIGINT (a graceful stop that hands its shards
 * over) and when its standard input closes: the demo holds the other end, so a runner never outlives it,
 * even when the demo itself is killed.
 */
import { NodeRuntime } from "@effect/platform-node"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer, References } from "effect"
import { Cluster } from "../src/cluster/index.ts"
import { Audit, Linker, Logging, Messaging, Registry, Router, Storage } from "../src/index.ts"

const [clusterDatabase, port] = process.argv.slice(2)
if (clusterDatabase === undefined || port === undefined) {
  console.error("usage: clusterRunner.ts CLUSTER_DB PORT")
  process.exit(2)
}

// The parent's end of stdin closes when it exits, however it exits: stop as on SIGTERM.
process.stdin.on("end", () => process.kill(process.pid, "SIGTERM"))
process.stdin.resume()

// Storage is the runner's own: `Storage.layerSql` on the cluster's database (`Cluster.layerRunner`'s default).
const services = Linker.layer([Messaging.hostInterface, Storage.hostInterface, Logging.hostInterface]).pipe(
  Layer.provide([Messaging.layer, Logging.layer]),
  Layer.provideMerge(Router.Router.layer),
  Layer.provideMerge(Registry.Registry.layer),
  Layer.provideMerge(Audit.layerMemory({ capacity: 1000 }))
)

const runner = Cluster.layerRunner({ host: "127.0.0.1", port: Number(port), services }).pipe(
  Layer.provide(SqliteClient.layer({ filename: clusterDatabase }))
)

Effect.gen(function*() {
  yield* Cluster.Cluster
  console.log(JSON.stringify({ ready: Number(port) }))
  return yield* Effect.never
}).pipe(
  Effect.provide(runner),
  Effect.provideService(References.MinimumLogLevel, "Warn"),
  NodeRuntime.runMain
)
