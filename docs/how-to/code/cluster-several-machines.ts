/**
 * How-to: a cluster over several machines with PostgreSQL (docs/how-to/cluster-several-machines.md).
 *
 * Run from the repository root, after `node scripts/build-guests.ts` and `node scripts/build.ts`:
 *   node_modules/.bin/node docs/how-to/code/cluster-several-machines.ts
 *
 * Without arguments it plays every machine on this one: it starts a throwaway PostgreSQL (Debian's
 * `postgresql`: `initdb` + `pg_ctl`, on 127.0.0.1, in a temporary folder, as the `postgres` user when run
 * as root), two runners (this file with `runner`, configured by the environment as each machine would
 * be), and acts as a client. Without PostgreSQL installed it says so and what to install, and exits 0
 * (1 under `CI=true`).
 */
import { NodeRuntime } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { Config, Console, Duration, Effect, Layer, Option, Redacted, Schedule } from "effect"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Audit, Linker, Logging, Registry, Router } from "airssys-wasm"
import { Cluster } from "airssys-wasm/cluster"

const guest = (name: string) => path.resolve(import.meta.dirname, "..", "..", "..", "build", "guests", `${name}.wasm`)
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const u32 = (bytes: Uint8Array | undefined): number => new DataView(bytes!.buffer, bytes!.byteOffset).getUint32(0, true)

// #region config
// Must be the same on every runner and every client: it decides which shard an actor id is in.
const ShardsPerGroup = Config.Int("SHARDS_PER_GROUP").pipe(Config.withDefault(300))

// The same program on every machine; what differs between them comes from the environment.
const MachineConfig = Config.all({
  // The address the other runners and the clients reach this runner at: this machine's, not 127.0.0.1.
  host: Config.String("RUNNER_HOST"),
  port: Config.Port("RUNNER_PORT"),
  // Where to listen when that differs from `host` (behind NAT, in a container: "0.0.0.0").
  listenHost: Config.option(Config.String("RUNNER_LISTEN_HOST")),
  // One PostgreSQL for the whole cluster.
  databaseUrl: Config.Redacted("DATABASE_URL"),
  shardsPerGroup: ShardsPerGroup
})
// #endregion config

// #region runner
const runnerServices = Linker.layer([Logging.hostInterface]).pipe(
  Layer.provide(Logging.layer),
  Layer.provideMerge(Router.Router.layer),
  Layer.provideMerge(Registry.Registry.layer),
  Layer.provideMerge(Audit.layerMemory({ capacity: 1000 }))
)

const runner = Layer.unwrap(Effect.gen(function*() {
  const config = yield* MachineConfig
  return Cluster.layerRunner({
    host: config.host,
    port: config.port,
    listenHost: Option.getOrUndefined(config.listenHost),
    sharding: { shardsPerGroup: config.shardsPerGroup },
    services: runnerServices
  }).pipe(Layer.provide(PgClient.layer({ url: config.databaseUrl })))
}))

const runRunner = Effect.gen(function*() {
  yield* Cluster.Cluster
  yield* Console.log("runner ready")
  return yield* Effect.never // until SIGTERM or Ctrl-C: NodeRuntime.runMain stops it gracefully
}).pipe(Effect.provide(runner))
// #endregion runner

// #region client
// A client needs the database and the same shard count; it has no address of its own.
const client = (databaseUrl: Redacted.Redacted) =>
  Layer.unwrap(Effect.map(ShardsPerGroup, (shardsPerGroup) =>
    Cluster.layerClient({ sharding: { shardsPerGroup } }).pipe(Layer.provide(PgClient.layer({ url: databaseUrl })))))
// #endregion client

// -----------------------------------------------------------------------------
// playing every machine on this one
// -----------------------------------------------------------------------------

const install = "apt-get install -y postgresql"

/** `initdb` and `pg_ctl` from PATH, else from Debian's versioned directory. */
const postgresBin = (): string | undefined =>
  [
    ...(process.env["PATH"] ?? "").split(path.delimiter),
    ...(fs.existsSync("/usr/lib/postgresql")
      ? fs.readdirSync("/usr/lib/postgresql").sort().reverse().map((version) => path.join("/usr/lib/postgresql", version, "bin"))
      : [])
  ].find((dir) => fs.existsSync(path.join(dir, "initdb")) && fs.existsSync(path.join(dir, "pg_ctl")))

const freePort = Effect.callback<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** A throwaway PostgreSQL on 127.0.0.1 (trust authentication, no fsync), stopped with the scope. */
const throwawayPostgres = (bin: string) =>
  Effect.gen(function*() {
    const asRoot = process.getuid?.() === 0
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-how-to-pg-"))
    // The server refuses to run as root: hand its folder to `postgres` and run as that user.
    const server = (command: string, args: ReadonlyArray<string>) =>
      asRoot
        ? execFileSync("runuser", ["-u", "postgres", "--", path.join(bin, command), ...args], { stdio: "pipe" })
        : execFileSync(path.join(bin, command), [...args], { stdio: "pipe" })
    if (asRoot) {
      const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim())
      fs.chownSync(dataDir, id("-u"), id("-g"))
    }
    const port = yield* freePort
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        server("initdb", ["-D", dataDir, "-A", "trust", "-U", "postgres", "--no-sync"])
        server("pg_ctl", ["-D", dataDir, "-l", path.join(dataDir, "server.log"), "-o", `-c listen_addresses=127.0.0.1 -p ${port} -k ${dataDir} -c fsync=off`, "-w", "start"])
      }),
      () =>
        Effect.sync(() => {
          server("pg_ctl", ["-D", dataDir, "-m", "fast", "-w", "stop"])
          fs.rmSync(dataDir, { recursive: true, force: true })
        })
    )
    return Redacted.make(`postgres://postgres@127.0.0.1:${port}/postgres`)
  })

/** A "machine": this file as a runner, configured by its environment; SIGTERM at the scope's end. */
const startMachine = (databaseUrl: Redacted.Redacted) =>
  Effect.flatMap(freePort, (port) =>
    Effect.acquireRelease(
      Effect.callback<{ readonly child: ChildProcess; readonly address: string }>((resume) => {
        const env = { ...process.env, RUNNER_HOST: "127.0.0.1", RUNNER_PORT: String(port), DATABASE_URL: Redacted.value(databaseUrl) }
        const child = spawn(process.execPath, [import.meta.filename, "runner"], { env, stdio: ["ignore", "pipe", "inherit"] })
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

const transient = (error: Cluster.CallFailure) =>
  error._tag === "RequestTimeout" || (error._tag === "ClusterError" && error.reason === "Unavailable")
const patiently = <A, R>(call: Effect.Effect<A, Cluster.CallFailure, R>) =>
  Effect.retry(call, { while: transient, schedule: Schedule.spaced("200 millis"), times: 100 })

// #region use
const useTheCluster = Effect.gen(function*() {
  const cluster = yield* Cluster.Cluster
  yield* cluster.deploy({
    name: "counter",
    version: "1",
    bytes: new Uint8Array(fs.readFileSync(guest("lifecycle"))),
    limits: { fuel: 100_000_000, timeout: Duration.seconds(1), memoryBytes: 16 * 1024 * 1024 }
  })
  const ids = Array.from({ length: 10 }, (_, i) => `counter/${i}`)
  for (const id of ids) yield* patiently(cluster.request(id, text("tick")))
  const placed = yield* Effect.forEach(ids, (id) => cluster.where(id))
  yield* Console.log(`${ids.length} actors on ${new Set(placed.map((placement) => placement.runner)).size} machines`)
  // Persisted: stored in PostgreSQL before delivery, delivered at least once, deduplicated by its key.
  const first = yield* cluster.request("counter/0", text("tick"), { persisted: { key: "order-17" } })
  const again = yield* cluster.request("counter/0", text("tick"), { persisted: { key: "order-17" } })
  yield* Console.log(`a persisted request answered ${u32(first)}; sent again with its key: ${u32(again)}, not handled twice`)
})
// #endregion use

const playEveryMachine = Effect.gen(function*() {
  const bin = postgresBin()
  if (bin === undefined) {
    yield* Console.log(`PostgreSQL skipped: initdb and pg_ctl are not installed. Install with: ${install}`)
    yield* Console.log("(the rest of this how-to runs where PostgreSQL's server programs are installed, as in CI)")
    if (process.env["CI"] === "true") process.exitCode = 1
    return
  }
  const databaseUrl = yield* throwawayPostgres(bin)
  yield* Console.log("a throwaway PostgreSQL serves on 127.0.0.1")
  const machines = [yield* startMachine(databaseUrl), yield* startMachine(databaseUrl)]
  yield* Console.log(`${machines.length} runners serve, each configured by its environment`)
  yield* useTheCluster.pipe(Effect.provide(client(databaseUrl)))
}).pipe(Effect.scoped)

const main: Effect.Effect<void, unknown> = process.argv[2] === "runner" ? runRunner : playEveryMachine
NodeRuntime.runMain(main)
