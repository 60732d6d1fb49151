/**
 * The cluster demo (`npm run cluster`): three runner processes on this machine and this process as a
 * client, over one SQLite file, telling what happens as it goes.
 *
 * - Three runners (`demo/clusterRunner.ts`, real child processes on 127.0.0.1) share the 300 shards.
 * - The demo's pipeline (ingestion → validation → processing → storage) is deployed once for the whole
 *   cluster; each stage is an actor that the runner holding its shard activates, so a record's hops go
 *   from runner to runner. The storage stage writes through `Storage` in the cluster's database (the
 *   runners' default), so its records stay when it moves. A dozen greeter actors show the ids spreading.
 * - One runner is SIGKILLed: a call that needs it fails with a typed error at its timeout; its actors
 *   serve again on the survivors once its shard locks expire (6 s by default), and the time is printed.
 * - A clean stop: the survivors get SIGTERM and hand their shards over, the temporary folder goes.
 *
 * Everything lives in a temporary folder (`AIRSSYS_DEMO_DIR` puts it elsewhere, kept), removed at the end.
 * No runner outlives the demo, however it ends: on Ctrl-C they are stopped with it, and each one also
 * stops when its standard input (held by the demo) closes.
 */
import { NodeRuntime } from "@effect/platform-node"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Clock, Console, Duration, Effect, Exit, Fiber, Layer, Schedule } from "effect"
import { SqlClient } from "effect/sql"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Cluster } from "../src/cluster/index.ts"
import { Audit, Registry, Router, Storage } from "../src/index.ts"
import { stages } from "./pipeline.ts"

const root = path.resolve(import.meta.dirname, "..")
const encoder = new TextEncoder()
const decoder = new TextDecoder()
const text = (bytes: Uint8Array | undefined) => decoder.decode(bytes ?? new Uint8Array())
const step = (title: string) => Console.log(`\n== ${title}`)
const seconds = (millis: number) => `${(millis / 1000).toFixed(1)} s`

// A cluster guest must be bounded (Cluster.checkLimits): finite fuel and a timeout of at most 2 s.
const limits = { fuel: 100_000_000, timeout: Duration.seconds(2), memoryBytes: 16 * 1024 * 1024 }

const greeters = Array.from({ length: 12 }, (_, i) => `greeter/${i + 1}`)

const guestBytes = (guest: string) => new Uint8Array(fs.readFileSync(path.join(root, "build", "guests", `${guest}.wasm`)))

// -----------------------------------------------------------------------------
// runner processes
// -----------------------------------------------------------------------------

interface Runner {
  readonly n: number
  readonly address: string
  readonly child: ChildProcess
  readonly exited: Effect.Effect<void>
}

const freePort = Effect.callback<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

const children = new Set<ChildProcess>()
// The last resort, if the demo ends without its finalizers (they stop the runners first).
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL")
})

/** Stops a runner: SIGTERM (it hands its shards over), SIGKILL if it is still there 10 s later. */
const stop = (runner: Runner) =>
  runner.child.exitCode !== null || runner.child.signalCode !== null
    ? Effect.void
    : Effect.sync(() => runner.child.kill("SIGTERM")).pipe(
      Effect.andThen(runner.exited),
      Effect.timeoutOrElse({ duration: "10 seconds", orElse: () => Effect.sync(() => runner.child.kill("SIGKILL")) })
    )

/** Runner `n` on a free port, once it serves; its lines (other than "ready") are shown tagged. */
const startRunner = (n: number, directory: string) =>
  Effect.gen(function*() {
    const port = yield* freePort
    const runner = yield* Effect.acquireRelease(
      Effect.callback<Runner, Error>((resume) => {
        const child = spawn(process.execPath, [
          path.join(root, "demo", "clusterRunner.ts"),
          path.join(directory, "cluster.db"),
          String(port)
        ], { cwd: root, stdio: ["pipe", "pipe", "pipe"] })
        children.add(child)
        const exit = new Promise<void>((done) => child.once("exit", () => done()))
        child.once("exit", () => children.delete(child))
        const runner: Runner = { n, address: `127.0.0.1:${port}`, child, exited: Effect.promise(() => exit) }
        let ready = false
        let pending = ""
        let output = ""
        const timer = setTimeout(() => {
          if (ready) return
          ready = true
          child.kill("SIGKILL")
          resume(Effect.fail(new Error(`runner ${n} did not serve within 60 s:\n${output}`)))
        }, 60_000)
        const lines = (chunk: unknown) => {
          pending += String(chunk)
          const complete = pending.split("\n")
          pending = complete.pop()!
          for (const line of complete) {
            if (!ready && line.includes(`"ready":${port}`)) {
              ready = true
              clearTimeout(timer)
              resume(Effect.succeed(runner))
            } else if (line.trim() !== "") {
              output += `${line}\n`
              console.log(`      [runner ${n}] ${line}`)
            }
          }
        }
        child.stdout!.on("data", lines)
        child.stderr!.on("data", lines)
        child.once("exit", (code, signal) => {
          clearTimeout(timer)
          if (!ready) resume(Effect.fail(new Error(`runner ${n} exited (${code ?? signal}) before it served:\n${output}`)))
        })
      }),
      stop
    )
    yield* Console.log(`   runner ${n}  ${runner.address}  pid ${runner.child.pid}`)
    return runner
  })

/** How the shards are split, once all 300 are held by `count` runners and two reads agree. */
const settled = (count: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const split = sql<{ address: string; shards: number }>`SELECT address, count(*) AS shards FROM cluster_locks GROUP BY address ORDER BY address`
      .pipe(Effect.map((rows) => rows.map((row) => ({ address: row.address, shards: Number(row.shards) }))), Effect.orDie)
    let last = ""
    for (let i = 0; i < 60; i++) {
      const rows = yield* split
      const now = JSON.stringify(rows)
      if (now === last && rows.length === count && rows.reduce((sum, row) => sum + row.shards, 0) === 300) return rows
      last = now
      yield* Effect.sleep("1 second")
    }
    return yield* Effect.die(new Error(`the runners did not take the 300 shards: ${last}`))
  })

// -----------------------------------------------------------------------------
// the demo
// -----------------------------------------------------------------------------

/** What the client runs, with the cluster's `Cluster` and a router of its own that reaches the cluster. */
const demo = (runners: ReadonlyArray<Runner>) =>
  Effect.gen(function*() {
    const cluster = yield* Cluster.Cluster
    const router = yield* Router.Router
    const name = (address: string) => {
      const runner = runners.find((r) => r.address === address)
      return runner === undefined ? address : `runner ${runner.n}`
    }
    // The first call to an actor may wait for its runner to see the spec: retry what cannot be delivered yet.
    const transient = (error: Cluster.CallFailure) =>
      error._tag === "RequestTimeout" || (error._tag === "ClusterError" && error.reason === "Unavailable")
    const where = (id: string) =>
      cluster.where(id, { timeout: "2 seconds" }).pipe(Effect.retry({ while: transient, schedule: Schedule.spaced("200 millis"), times: 150 }))
    const send = (record: string) =>
      router.request("host", "ingestion", encoder.encode(record), { timeout: "3 seconds" }).pipe(
        Effect.map(text),
        Effect.catch((error) =>
          Effect.succeed(`refused: ${error.message.startsWith(error._tag) ? "" : `${error._tag}: `}${error.message}`)
        ),
        Effect.flatMap((answer) => Console.log(`   ${JSON.stringify(record).padEnd(10)} → ${answer}`))
      )
    const placements = (ids: ReadonlyArray<string>) => Effect.forEach(ids, where, { concurrency: "unbounded" })
    const tally = (found: ReadonlyArray<Cluster.Placement>) =>
      runners.map((r) => `${name(r.address)} ${found.filter((p) => p.runner === r.address).length}`).join(", ")

    yield* step("2. Deploy the pipeline once, for the whole cluster (bytes stored by sha-256, a spec per version)")
    for (const stage of stages) {
      const spec = yield* cluster.deploy({
        name: stage.name,
        version: "1",
        bytes: guestBytes(stage.guest),
        limits,
        capabilities: [stage.grant]
      })
      const granted = "pattern" in stage.grant ? stage.grant.pattern : stage.grant.namespace
      yield* Console.log(`   ${stage.name.padEnd(10)} ${stage.guest}.wasm, sha-256 ${spec.hash.slice(0, 12)}…, granted ${stage.grant._tag}(${granted})`)
    }
    yield* cluster.deploy({ name: "greeter", version: "1", bytes: guestBytes("greeter-v1"), limits })
    yield* Console.log(`   greeter    greeter-v1.wasm, for ${greeters.length} actors greeter/1 … greeter/${greeters.length}`)

    yield* step("3. Where each actor lives: the runner holding its shard activates it on first use")
    const before = yield* placements(stages.map((s) => s.name))
    for (const p of before) yield* Console.log(`   ${p.id.padEnd(10)} on ${name(p.runner)} (${p.runner})`)
    const fleet = yield* placements(greeters)
    yield* Console.log(`   greeters   ${tally(fleet)}`)

    yield* step("4. Records flow through the pipeline, each hop to the runner of the next stage (validation accepts 1 to 32 letters)")
    for (const record of ["  apple ", "kiwi", "Banana!", "plum"]) yield* send(record)

    // The runner with the most stages (then the most greeters) goes.
    const weight = (r: Runner) =>
      before.filter((p) => p.runner === r.address).length * 100 + fleet.filter((p) => p.runner === r.address).length
    const victim = [...runners].sort((a, b) => weight(b) - weight(a))[0]!
    const survivors = runners.filter((r) => r !== victim)
    const moving = [...before, ...fleet].filter((p) => p.runner === victim.address).map((p) => p.id)
    const movingStages = before.filter((p) => p.runner === victim.address).map((p) => p.id)
    const staying = fleet.find((p) => p.runner !== victim.address)

    yield* step(`5. SIGKILL runner ${victim.n} (${movingStages.join(", ")} and ${moving.length - movingStages.length} greeters): no goodbye, its shard locks expire after ${seconds(Duration.toMillis(Duration.fromInputUnsafe(Cluster.shardingDefaults.shardLockExpiration!)))}`)
    const killedAt = yield* Clock.currentTimeMillis
    victim.child.kill("SIGKILL")
    yield* victim.exited
    // Each moving actor, polled until it answers from a survivor (for up to a minute): when, and where.
    const back = yield* Effect.forkChild(Effect.forEach(moving, (id) =>
      Effect.gen(function*() {
        for (let attempt = 0; attempt < 50; attempt++) {
          const exit = yield* Effect.exit(cluster.where(id, { timeout: "1 second" }))
          if (Exit.isSuccess(exit) && exit.value.runner !== victim.address) {
            return { placement: exit.value, after: (yield* Clock.currentTimeMillis) - killedAt }
          }
          yield* Effect.sleep("200 millis")
        }
        return yield* Effect.die(new Error(`${id} did not serve again within a minute of the SIGKILL`))
      }), { concurrency: "unbounded" }))
    if (staying !== undefined) {
      const reply = yield* cluster.request(staying.id, encoder.encode("still here?"))
      yield* Console.log(`   ${staying.id} on ${name(staying.runner)} answers at once: ${JSON.stringify(text(reply))}`)
    }
    yield* Console.log("   a record sent now, while a stage is gone, fails at its timeout with a typed error:")
    yield* send("fig")
    const returned = yield* Fiber.join(back)
    for (const { after, placement } of returned.filter((r) => movingStages.includes(r.placement.id))) {
      yield* Console.log(`   ${placement.id.padEnd(10)} back on ${name(placement.runner)} ${seconds(after)} after the SIGKILL`)
    }
    const slowest = Math.max(...returned.map((r) => r.after))
    yield* Console.log(`   all ${moving.length} actors of runner ${victim.n} serve again on ${survivors.map((r) => `runner ${r.n}`).join(" and ")}: ${seconds(slowest)} after the SIGKILL`)

    yield* step("6. The pipeline serves again; an actor that moved starts fresh (guest memory does not move), storage's records stayed")
    for (const record of ["fig", "pear"]) yield* send(record)
    const after = yield* placements(stages.map((s) => s.name))
    for (const p of after) {
      yield* Console.log(`   ${p.id.padEnd(10)} on ${name(p.runner)}, ${p.handled} messages handled there`)
    }
    // The runners' storage is the cluster's database: this process reads it too.
    const records = yield* Storage.Storage.use((storage) =>
      Effect.flatMap(storage.keys("pipeline"), (keys) =>
        Effect.forEach(keys, (key) => Effect.map(storage.get("pipeline", key), (value) => `${key}=${text(value)}`)))
    ).pipe(Effect.provide(Storage.layerSql()))
    yield* Console.log(`   the cluster's database holds ${records.length} records in storage namespace "pipeline": ${records.join(", ")}`)
    if (movingStages.includes("ingestion")) {
      yield* Console.log("   (ingestion moved: its record counter, kept in guest memory, restarted at 1 and wrote keys 1 and 2 again;")
      yield* Console.log("    what must survive a move belongs in storage, as the records do)")
    }
  })

const main = Effect.gen(function*() {
  const given = process.env["AIRSSYS_DEMO_DIR"]
  const directory = given ?? fs.mkdtempSync(path.join(os.tmpdir(), "airssys-cluster-demo-"))
  if (given !== undefined) fs.mkdirSync(given, { recursive: true })
  else yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(directory, { recursive: true, force: true })))
  const database = path.join(directory, "cluster.db")
  yield* Console.log(`airssys-wasm cluster demo — three runner processes and this client over one SQLite file, ${database}`)
  const sql = SqliteClient.layer({ filename: database })

  yield* step("1. Three runners start on 127.0.0.1 and take the 300 shards between them")
  const runners: Array<Runner> = []
  for (const n of [1, 2, 3]) runners.push(yield* startRunner(n, directory))
  const split = yield* settled(3).pipe(Effect.provide(sql))
  const held = (r: Runner) => split.find((row) => row.address === r.address)?.shards ?? 0
  yield* Console.log(`   shards held: ${runners.map((r) => `runner ${r.n} ${held(r)}`).join(", ")}`)

  // This process is a client: it hosts nothing; its router reaches every actor through the cluster.
  const client = Cluster.layerClient({
    services: Router.Router.layer.pipe(Layer.provideMerge(Registry.Registry.layer), Layer.provideMerge(Audit.layerMemory({ capacity: 1000 })))
  }).pipe(Layer.provideMerge(sql))
  yield* demo(runners).pipe(Effect.provide(client))

  yield* step("7. Clean stop")
  const alive = runners.filter((r) => r.child.exitCode === null && r.child.signalCode === null)
  yield* Effect.forEach(alive, stop, { concurrency: "unbounded", discard: true })
  const graceful = alive.filter((r) => r.child.signalCode === null)
  yield* Console.log(`   ${graceful.map((r) => `runner ${r.n}`).join(" and ")} stopped on SIGTERM by themselves, handing their shards over`)
  yield* Console.log(given === undefined ? "   the temporary folder is removed; no process is left" : `   the files stay in ${directory}; no process is left`)
})

NodeRuntime.runMain(Effect.scoped(
  main.pipe(Effect.onInterrupt(() => Console.log("\n(interrupted: the runners stop, and the temporary folder goes)")))
))
