/**
 * A cluster runner for the cluster suites and `bench cluster`, run as a child process:
 * `clusterRunner.ts DATABASE PORT [--bench-echo] [--audit=FILE] [--observer] [--config JSON] [--print-events]
 * [--groups G1,G2] [--filesystem DIR]`.
 * Hosts the component entities on 127.0.0.1:PORT over DATABASE (shared with the other runners and the
 * test): `sqlite:FILE` or `pg:HOST:PORT` (user and database `postgres`), with a registry and a router of its own that reach the whole cluster, links guests with
 * logging (to nowhere), messaging (through that router), storage (the runner's default: SQL in the
 * cluster's database) and deny stubs for everything else, prints
 * `{"ready":PORT}` once it serves, and runs until it is killed (SIGTERM: a graceful shutdown that hands
 * its shards off). `--bench-echo` also hosts the bench's plain entity (`benchEcho.ts`); `--audit=FILE`
 * also writes its audit to a JSONL file; `--observer` serves an observer on a free port and prints
 * `{"observer":URL}` before it is ready. `--config JSON` reads
 * the cluster's delivery settings (`CLUSTER_*`) from JSON (`{"CLUSTER":{"MAX_IDLE_TIME":"1 second"}}`)
 * instead of the environment. `--print-events` prints its registry's events as `{"event":TAG,"id":ID}`
 * lines: when actors are activated and released here. `--groups` names the runner groups it serves
 * (default `default`); `--filesystem DIR` also links the WASI filesystem, DIR preopened as `.` (and
 * `wasi:io`, which file streams need).
 */
import { NodeRuntime } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { ConfigProvider, Effect, Layer, Option, References, Stream } from "effect"
import { Cluster } from "../../src/cluster/index.ts"
import { Audit, Filesystem, Linker, Logging, Messaging, Registry, Router, Stdio, Storage } from "../../src/index.ts"
import { Observer } from "../../src/observer/index.ts"
import * as BenchEcho from "./benchEcho.ts"

const [database, port, ...flags] = process.argv.slice(2)
const auditFile = flags.find((flag) => flag.startsWith("--audit="))?.slice("--audit=".length)
const audit = auditFile === undefined
  ? Audit.layerMemory({ capacity: 1000 })
  : Audit.combine(Audit.layerMemory({ capacity: 1000 }), Audit.layerJsonl(auditFile))
const flagValue = (name: string) => {
  const at = flags.indexOf(name)
  return at < 0 ? undefined : flags[at + 1]
}
const configJson = flagValue("--config")
const groups = flagValue("--groups")?.split(",")
const directory = flagValue("--filesystem")
const delivery = Cluster.layerDeliveryConfig().pipe(
  Layer.provide(configJson === undefined ? ConfigProvider.layer(ConfigProvider.fromEnv()) : ConfigProvider.layer(ConfigProvider.fromUnknown(JSON.parse(configJson))))
)

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
  Layer.provideMerge(audit)
)

const [kind, ...rest] = database!.split(":")
const sql = kind === "pg"
  ? PgClient.layer({ host: rest[0]!, port: Number(rest[1]), username: "postgres", database: "postgres" })
  : SqliteClient.layer({ filename: rest.join(":") })

const runner = (flags.includes("--bench-echo") ? BenchEcho.layer : Layer.empty).pipe(
  Layer.provideMerge(flags.includes("--observer") ? Observer.layer() : Layer.empty),
  Layer.provideMerge(Cluster.layerRunner({ host: "127.0.0.1", port: Number(port), groups, services })),
  Layer.provide([sql, delivery])
)

Effect.gen(function*() {
  yield* Cluster.Cluster
  const observer = yield* Effect.serviceOption(Observer.Observer)
  if (Option.isSome(observer)) console.log(JSON.stringify({ observer: observer.value.url }))
  if (flags.includes("--print-events")) {
    const registry = yield* Registry.Registry
    yield* Effect.forkChild(Stream.runForEach(registry.events, (event) =>
      Effect.sync(() => console.log(JSON.stringify({ event: event._tag, id: event.entry.id })))))
  }
  console.log(JSON.stringify({ ready: Number(port) }))
  return yield* Effect.never
}).pipe(
  Effect.provide(runner),
  Effect.provideService(References.MinimumLogLevel, "Warn"),
  NodeRuntime.runMain
)
