/**
 * How-to: a cluster on one machine with SQLite (docs/how-to/cluster-one-machine.md).
 *
 * Run from the repository root, after `node scripts/build-guests.ts` and `node scripts/build.ts`:
 *   node_modules/.bin/node docs/how-to/code/cluster-one-machine.ts
 *
 * Without arguments it is the client: it starts two runners (this same file, `runner FILE PORT`, as child
 * processes), deploys a component, calls its actors, restarts a runner and stops them all.
 */
import { NodeRuntime } from "@effect/platform-node"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Console, Duration, Effect, Layer, Schedule } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Audit, Linker, Logging, Registry, Router } from "airssys-wasm"
import { Cluster } from "airssys-wasm/cluster"

const guest = (name: string) => path.resolve(import.meta.dirname, "..", "..", "..", "build", "guests", `${name}.wasm`)
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const u32 = (bytes: Uint8Array | undefined): number => new DataView(bytes!.buffer, bytes!.byteOffset).getUint32(0, true)

// #region runner
// One runner per process. Its `services` are what its actors are linked with, registered in and send
// through: host interfaces for the grants your components hold, a registry, a router that reaches the
// whole cluster, and the audit log the linker and the router write to.
const runnerServices = Linker.layer([Logging.hostInterface]).pipe(
  Layer.provide(Logging.layer),
  Layer.provideMerge(Router.Router.layer),
  Layer.provideMerge(Registry.Registry.layer),
  Layer.provideMerge(Audit.layerMemory({ capacity: 1000 }))
)

const runner = (database: string, port: number) =>
  Cluster.layerRunner({ host: "127.0.0.1", port, services: runnerServices }).pipe(
    Layer.provide(SqliteClient.layer({ filename: database }))
  )

const runRunner = (database: string, port: number) =>
  Effect.gen(function*() {
    yield* Cluster.Cluster
    yield* Console.log(`runner ready on ${port}`)
    return yield* Effect.never // until SIGTERM or Ctrl-C: NodeRuntime.runMain stops it gracefully
  }).pipe(Effect.provide(runner(database, port)))
// #endregion runner

// #region client
// A process that deploys and calls, and hosts nothing: the same database, no address.
const client = (database: string) => Cluster.layerClient().pipe(Layer.provide(SqliteClient.layer({ filename: database })))
// #endregion client

// #region retry
// Right after runners start, no runner may hold an actor's shard yet: such a call fails with
// `ClusterError` (`Unavailable`) or times out. Retry those two, nothing else.
const transient = (error: Cluster.CallFailure) =>
  error._tag === "RequestTimeout" || (error._tag === "ClusterError" && error.reason === "Unavailable")
const patiently = <A, R>(call: Effect.Effect<A, Cluster.CallFailure, R>) =>
  Effect.retry(call, { while: transient, schedule: Schedule.spaced("200 millis"), times: 100 })
// #endregion retry

// -----------------------------------------------------------------------------
// child processes (how you start runners is up to you: systemd, containers, a process manager)
// -----------------------------------------------------------------------------

const freePort = Effect.callback<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** This file as a runner process, once it serves; SIGTERM at the scope's end. */
const startRunner = (database: string) =>
  Effect.flatMap(freePort, (port) =>
    Effect.acquireRelease(
      Effect.callback<{ readonly child: ChildProcess; readonly address: string }>((resume) => {
        const child = spawn(process.execPath, [import.meta.filename, "runner", database, String(port)], { stdio: ["ignore", "pipe", "inherit"] })
        child.stdout!.on("data", (chunk) => {
          if (String(chunk).includes("runner ready")) resume(Effect.succeed({ child, address: `127.0.0.1:${port}` }))
        })
      }),
      ({ child }) =>
        child.exitCode !== null || child.signalCode !== null
          ? Effect.void
          : Effect.callback<void>((resume) => {
            child.once("exit", () => resume(Effect.void))
            child.kill("SIGTERM")
          })
    ))

// #region use
const useTheCluster = (runners: ReadonlyArray<{ readonly child: ChildProcess; readonly address: string }>) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    // Once for the whole cluster: the bytes go into the database, any runner can activate the actors.
    yield* cluster.deploy({
      name: "counter",
      version: "1",
      bytes: new Uint8Array(fs.readFileSync(guest("lifecycle"))),
      limits: { fuel: 100_000_000, timeout: Duration.seconds(1), memoryBytes: 16 * 1024 * 1024 }
    })
    // `counter/0` … `counter/9`: ten actors of one component, each with its own memory.
    const ids = Array.from({ length: 10 }, (_, i) => `counter/${i}`)
    for (const id of ids) yield* patiently(cluster.request(id, text("tick")))
    const second = yield* Effect.forEach(ids, (id) => cluster.request(id, text("tick")))
    yield* Console.log(`each actor keeps its own count: ${second.map(u32).join(" ")}`)
    const placed = yield* Effect.forEach(ids, (id) => cluster.where(id))
    const used = new Set(placed.map((placement) => placement.runner))
    yield* Console.log(`${ids.length} actors on ${used.size} runners`)

    // A rolling restart, one runner at a time: SIGTERM makes it hand its shards over at once.
    const leaving = runners[0]!
    leaving.child.kill("SIGTERM")
    yield* Effect.callback<void>((resume) => void leaving.child.once("exit", () => resume(Effect.void)))
    const third = yield* Effect.forEach(ids, (id) => patiently(cluster.request(id, text("tick"))))
    const moved = placed.filter((placement) => placement.runner === leaving.address).map((placement) => placement.id)
    const counts = (which: (id: string) => boolean) => [...new Set(ids.filter(which).map((id) => u32(third[ids.indexOf(id)])))].join(", ")
    yield* Console.log(`after the restart every actor answers: those that moved start again at ${counts((id) => moved.includes(id))}, the others count on to ${counts((id) => !moved.includes(id))}`)
    const now = yield* Effect.forEach(ids, (id) => cluster.where(id))
    yield* Console.log(`all on the other runner: ${now.every((placement) => placement.runner === runners[1]!.address)}`)
  })
// #endregion use

const runClient = Effect.gen(function*() {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-how-to-cluster-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(directory, { recursive: true, force: true })))
  const database = path.join(directory, "cluster.db")
  const runners = [yield* startRunner(database), yield* startRunner(database)]
  yield* Console.log(`${runners.length} runners serve, over ${path.basename(database)}`)
  yield* useTheCluster(runners).pipe(Effect.provide(client(database)))
}).pipe(Effect.scoped)

const [role, database, port] = process.argv.slice(2)
const main: Effect.Effect<void, unknown> = role === "runner" ? runRunner(database!, Number(port)) : runClient
NodeRuntime.runMain(main)
