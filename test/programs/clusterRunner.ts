/**
 * A cluster runner for the cluster suites and `bench cluster`, run as a child process:
 * `clusterRunner.ts DATABASE PORT [--bench-echo] [--groups G1,G2] [--filesystem DIR]`.
 * Hosts the component entities on 127.0.0.1:PORT over DATABASE (shared with the other runners and the
 * test): `sqlite:FILE` or `pg:HOST:PORT` (user and database `postgres`), with a registry and a router of its own that reach the whole cluster, links guests with
 * logging (to nowhere), messaging (through that router), storage (the runner's default: SQL in the
 * cluster's database) and deny stubs for everything else, prints
 * `{"ready":PORT}` once it serves, and runs until it is killed (SIGTERM: a graceful shutdown that hands
 * its shards off). `--bench-echo` also hosts the bench's plain entity (`benchEcho.ts`); `--groups` names
 * the runner groups it serves (default `default`); `--filesystem DIR` also links the WASI filesystem,
 * DIR preopened as `.` (and `wasi:io`, which file streams need).
 */
import { NodeRuntime } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect, Layer, References } from "effect"
import { Cluster } from "../../src/cluster/index.ts"
import { Audit, Filesystem, Linker, Logging, Messaging, Registry, Router, Stdio, Storage } from "../../src/index.ts"
import * as BenchEcho from "./benchEcho.ts"

const [database, port, ...flags] = process.argv.slice(2)
const option = (name: string) => {
  const at = flags.indexOf(name)
  return at === -1 ? undefined : flags[at + 1]
}
const groups = option("--groups")?.split(",")
const directory = option("--filesystem")

// Storage: the runner's own (`Storage.layerSql` on the cluster's database, `Cluster.layerRunner`'s default).
const hosted = [Logging.hostInterface, Messaging.hostInterface, Storage.hostInterface]
const linked = directory === undefined
  ? Linker.layer(hosted).pipe(Layer.provide([Logging.layerDeny, Messaging.layer]))
  : Linker.layer([...hosted, ...Filesystem.hostInterfaces, ...Stdio.ioInterfaces]).pipe(
    Layer.provide([Logging.layerDeny, Messaging.layer, Filesystem.layer({ preopens: [{ path: directory, as: "." }] })])
  )

const services = linked.pipe(
  Layer.provideMerge(Router.Router.layer),
  Layer.provideMerge(Registry.Registry.layer),
  Layer.provideMerge(Audit.layerMemory({ capacity: 1000 }))
)

const [kind, ...rest] = database!.split(":")
const sql = kind === "pg"
  ? PgClient.layer({ host: rest[0]!, port: Number(rest[1]), username: "postgres", database: "postgres" })
  : SqliteClient.layer({ filename: rest.join(":") })

const runner = (flags.includes("--bench-echo") ? BenchEcho.layer : Layer.empty).pipe(
  Layer.provideMerge(Cluster.layerRunner({ host: "127.0.0.1", port: Number(port), groups, services })),
  Layer.provide(sql)
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
