/**
 * Delivery over REAL runner processes on SQLite (`test/programs/clusterRunner.ts`), each block with
 * runners and a database of its own: passivation after `maxIdleTime` (read from the `CLUSTER_*`
 * configuration names), a rolling restart of three runners while persisted messages flow, and calls to
 * actors whose runner was SIGKILLed.
 *
 * Real time throughout (no TestClock): every wait is bounded and generous, and nothing asserts on how long
 * anything took. The `ledger` guest answers each message with its count and the correlation id it saw.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, layer } from "@effect/vitest"
import { Clock, ConfigProvider, Context, Duration, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { SqlClient } from "effect/sql"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { MailboxFull } from "../src/ActorError.ts"
import { Cluster } from "../src/cluster/index.ts"
import { LimitExceeded } from "../src/ComponentError.ts"
import { settled, startRunner } from "./clusterRunners.ts"
import { correlationOf, eventually, ledger, limits, unprocessed, until } from "./clusterSuite.ts"
import { decode, guestBytes, text } from "./fixtures.ts"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-cluster-delivery-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

type Runner = Effect.Success<ReturnType<typeof startRunner>>

/** The runners of a block, and a way to start more that live as long as the block. */
class Runners extends Context.Service<Runners, {
  readonly runners: Array<Runner>
  readonly start: (extra?: ReadonlyArray<string>) => Effect.Effect<Runner, Error, SqlClient.SqlClient>
}>()("test/ClusterDelivery/Runners") {}

const runnersLive = (database: string, count: number, extra: ReadonlyArray<string>) =>
  Layer.effect(
    Runners,
    Effect.gen(function*() {
      const scope = yield* Effect.scope
      const runners: Array<Runner> = []
      const start = (more: ReadonlyArray<string> = extra) =>
        Effect.tap(Scope.provide(startRunner(`sqlite:${database}`, more), scope), (runner) => Effect.sync(() => runners.push(runner)))
      for (let i = 0; i < count; i++) yield* start()
      yield* settled(count)
      // What the runners logged as errors (a lost shard lock, say), for a failure that needs explaining.
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          for (const runner of runners) {
            const errors = runner.program.output().split("\n").filter((line) => line.includes("ERROR"))
            if (errors.length > 0) console.warn(`runner ${runner.address} logged:\n${errors.join("\n")}`)
          }
        })
      )
      return { runners, start }
    })
  )

const live = (name: string, count: number, config?: object) => {
  const database = path.join(work, `${name}.db`)
  const extra = config === undefined ? [] : ["--config", JSON.stringify(config), "--print-events"]
  // This process reads the same settings as its runners.
  const delivery = config === undefined
    ? Layer.empty
    : Cluster.layerDeliveryConfig().pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(config))))
  return Cluster.layerClient().pipe(
    Layer.provide(delivery),
    Layer.provideMerge(runnersLive(database, count, extra)),
    Layer.provideMerge(SqliteClient.layer({ filename: database }))
  )
}

const deployLedger = Cluster.Cluster.use((cluster) =>
  cluster.deploy({ name: "ledger", version: "1", bytes: guestBytes("ledger"), limits })
)

/** The registry events a runner printed (`--print-events`) for `id`, in order. */
const eventsOf = (runner: Runner, id: string) =>
  runner.program.output().split("\n")
    .filter((line) => line.startsWith(`{"event"`))
    .map((line) => JSON.parse(line) as { event: string; id: string })
    .filter((event) => event.id === id)
    .map((event) => event.event)

layer(live("idle", 1, { CLUSTER: { MAX_IDLE_TIME: "1 second", MAILBOX_CAPACITY: 2, PERSISTED_HANDLING_TIMEOUT: "500 millis" } }), {
  timeout: 120_000,
  excludeTestServices: true
})("Cluster delivery - one runner configured by CLUSTER_* names: passivation after 1 s idle, 2 calls queued per actor, 500 ms to handle a persisted send", (it) => {
  it.effect("passivation - an actor idle for maxIdleTime is released (instance, supervisor, registration); its next message activates it afresh; a busy one stays", () =>
    Effect.gen(function*() {
      const { runners } = yield* Runners
      const runner = runners[0]!
      const cluster = yield* Cluster.Cluster
      yield* deployLedger
      const idle = "ledger/idle"
      const busy = "ledger/busy"
      // The busy actor gets a message every 100 ms, well within its idle time; nothing goes to the idle
      // one after its first two messages (a message would keep it active).
      assert.strictEqual(ledger(yield* eventually(cluster.request(busy, text("a")))).count, 1)
      let busyCount = 1
      let waiting = true
      const keepBusy = yield* Effect.forkChild(Effect.whileLoop({
        while: () => waiting,
        body: () =>
          Effect.andThen(
            Effect.sleep("100 millis"),
            Effect.flatMap(cluster.request(busy, text("more")), (reply) => Effect.sync(() => (busyCount = ledger(reply).count)))
          ),
        step: () => {}
      }))
      assert.strictEqual(ledger(yield* eventually(cluster.request(idle, text("a")))).count, 1)
      assert.strictEqual(ledger(yield* cluster.request(idle, text("b"))).count, 2)
      // (The runner prints its events on stdout, which may lag behind the replies.)
      const before = yield* until(Effect.sync(() => eventsOf(runner, idle)), (events) => events.includes("Registered"))
      // Its activation's scope closed: the registration, the supervisor and the instance it holds.
      const released = yield* until(Effect.sync(() => eventsOf(runner, idle)), (events) => events.length > before.length)
      assert.deepStrictEqual(released.slice(before.length), ["Unregistered"])
      waiting = false
      yield* Fiber.join(keepBusy)

      // A fresh activation: a new instance (count 1), a new registration, a new actor (1 handled).
      assert.strictEqual(ledger(yield* cluster.request(idle, text("c"))).count, 1)
      const placement = yield* cluster.where(idle)
      assert.strictEqual(placement.handled, 1)
      assert.strictEqual(placement.incarnations, 1)
      const after = yield* until(Effect.sync(() => eventsOf(runner, idle).slice(before.length)), (events) => events.length > before.length)
      assert.deepStrictEqual(after, ["Unregistered", ...before])
      // The busy actor kept its memory throughout.
      assert.isAbove(busyCount, 2)
      assert.strictEqual(ledger(yield* cluster.request(busy, text("last"))).count, busyCount + 1)
      assert.deepStrictEqual(eventsOf(runner, busy).filter((event) => event === "Unregistered"), [])
    }))

  it.effect("mailbox - past mailboxCapacity calls waiting for one actor, a volatile call fails with MailboxFull, typed; the actor serves on", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster.Cluster
      yield* cluster.deploy({ name: "spinner", version: "1", bytes: guestBytes("spinner"), limits: { ...limits, fuel: 50_000_000 } })
      const id = "spinner/full"
      yield* eventually(cluster.request(id, text("tick")))
      // Each "loop" spins until its fuel runs out: while one runs, the others wait in its mailbox.
      const exits = yield* Effect.all(
        Array.from({ length: 12 }, () => Effect.exit(cluster.request(id, text("loop"), { timeout: "20 seconds" }))),
        { concurrency: "unbounded" }
      )
      const errors = exits.map((exit) => {
        const reason = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
        return reason?._tag === "Fail" ? reason.error : reason
      })
      const full = errors.filter((error) => error instanceof MailboxFull)
      assert.isAbove(full.length, 0, JSON.stringify(errors))
      assert.deepStrictEqual({ ...full[0]! }, { ...new MailboxFull({ actorId: id, capacity: 2 }) })
      assert.isTrue(errors.every((error) => error instanceof MailboxFull || error instanceof LimitExceeded), JSON.stringify(errors))
      assert.strictEqual(decode((yield* cluster.request(id, text("tick")))!), "tock")
    }))

  it.effect("persisted handling - a persisted send whose handling outlasts persistedHandlingTimeout is processed with RequestTimeout, not left pending", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster.Cluster
      const sql = yield* SqlClient.SqlClient
      // In a worker with no fuel limit, so the runner's event loop stays free while the guest spins (until
      // its 10 s timeout).
      yield* cluster.deploy({
        name: "slow",
        version: "1",
        bytes: guestBytes("spinner"),
        limits: { fuel: Number.POSITIVE_INFINITY, timeout: Duration.seconds(10), isolation: "worker", memoryBytes: 1 << 24 }
      })
      assert.strictEqual(decode((yield* eventually(cluster.request("slow/1", text("tick"), { timeout: "20 seconds" })))!), "tock")
      yield* cluster.send("slow/1", text("loop"), { persisted: { key: "slow/send" } })
      yield* until(unprocessed, (n) => n === 0)
      const rows = yield* Effect.orDie(sql<{ reply: string }>`
        SELECT r.payload AS reply FROM cluster_messages m JOIN cluster_replies r ON r.request_id = m.id
        WHERE m.message_id LIKE ${"%slow/send"}`)
      assert.strictEqual(rows.length, 1)
      assert.include(rows[0]!.reply, `"_tag":"RequestTimeout"`, rows[0]!.reply)
      assert.include(rows[0]!.reply, `"timeoutMillis":500`)
    }))
})

layer(live("three", 3), { timeout: 300_000, excludeTestServices: true })(
  "Cluster delivery - three runner processes, restarted and killed",
  (it) => {
    it.effect("rolling restart - each runner in turn replaced and SIGTERMed while persisted messages flow: every one is handled, none left unprocessed", () =>
      Effect.gen(function*() {
        const state = yield* Runners
        const cluster = yield* Cluster.Cluster
        const sql = yield* SqlClient.SqlClient
        yield* deployLedger
        const ids = Array.from({ length: 12 }, (_, i) => `ledger/roll-${i}`)
        yield* Effect.forEach(ids, (id) => eventually(cluster.where(id)), { concurrency: 6 })

        // Four senders, each a persisted send then a persisted request per round, until told to stop.
        // A failed call is retried with the same key: the key makes that safe.
        let flowing = true
        const replies: Array<{ readonly key: string; readonly reply: Uint8Array | undefined }> = []
        const sendKeys: Array<string> = []
        const sender = (w: number) =>
          Effect.gen(function*() {
            for (let round = 0; flowing; round++) {
              const id = ids[(w * 5 + round) % ids.length]!
              const key = `roll/${w}/${round}`
              yield* eventually(cluster.send(id, text("s"), { persisted: { key: `${key}/send` }, timeout: "20 seconds" }), 60_000)
              sendKeys.push(`${key}/send`)
              const reply = yield* eventually(cluster.request(id, text("r"), { persisted: { key }, timeout: "20 seconds" }), 60_000)
              replies.push({ key, reply })
            }
          })
        const senders = yield* Effect.forkChild(Effect.all([0, 1, 2, 3].map(sender), { concurrency: "unbounded" }))

        const original = [...state.runners]
        for (const leaving of original) {
          yield* state.start()
          yield* settled(4)
          const repliedBefore = replies.length
          leaving.program.process.kill("SIGTERM")
          yield* leaving.program.exited
          assert.strictEqual(leaving.program.process.signalCode, null, `killed rather than stopped:\n${leaving.program.output()}`)
          yield* settled(3)
          // Messages went on flowing through each hand-off.
          yield* until(Effect.sync(() => replies.length), (n) => n > repliedBefore)
        }
        flowing = false
        yield* Fiber.join(senders)

        // Every persisted request was answered, and its guest saw the key as the correlation id.
        assert.isAbove(replies.length, 12)
        for (const { key, reply } of replies) assert.strictEqual(ledger(reply).correlationId, correlationOf(key), key)
        // Every persisted send was handled: stored, processed, and answered by the guest (not by a failure).
        yield* until(unprocessed, (n) => n === 0)
        const rows = yield* Effect.orDie(sql<{ key: string; reply: string | null }>`
          SELECT m.message_id AS key, r.payload AS reply FROM cluster_messages m
          LEFT JOIN cluster_replies r ON r.request_id = m.id
          WHERE m.message_id LIKE ${"%roll/%/send"}`)
        assert.strictEqual(rows.length, sendKeys.length)
        for (const row of rows) assert.include(String(row.reply), `"_tag":"Success"`, row.key)
        console.log(`cluster rolling restart: ${replies.length} persisted requests and ${sendKeys.length} persisted sends over 3 hand-offs`)
      }))

    it.effect("dead runner - calls to its actors fail with RequestTimeout at their timeout, not hang; a persisted message waits in SQL and is handled once the shard moves", () =>
      Effect.gen(function*() {
        const { runners } = yield* Runners
        const cluster = yield* Cluster.Cluster
        const sql = yield* SqlClient.SqlClient
        yield* deployLedger
        const ids = Array.from({ length: 30 }, (_, i) => `ledger/dead-${i}`)
        const placed = yield* Effect.forEach(ids, (id) => eventually(cluster.where(id)), { concurrency: 10 })
        const victim = runners.at(-1)!
        const moving = placed.filter((placement) => placement.runner === victim.address).map((placement) => placement.id)
        assert.isAtLeast(moving.length, 2)
        const [target, other] = moving as [string, string]
        assert.strictEqual(ledger(yield* cluster.request(target, text("before"))).count, 1)

        const killedAt = yield* Clock.currentTimeMillis
        victim.program.process.kill("SIGKILL")
        yield* victim.program.exited

        // Before the shard moves (its lock outlives the runner by up to `shardLockExpiration`): each call
        // fails at its own timeout, typed.
        const [request, send, persistedRequest] = yield* Effect.all([
          Effect.exit(Effect.asVoid(cluster.request(target, text("volatile request"), { timeout: "1 second" }))),
          Effect.exit(cluster.send(target, text("volatile send"), { timeout: "1 second" })),
          Effect.exit(Effect.asVoid(cluster.request(other, text("persisted request"), { persisted: { key: "dead/request" }, timeout: "1 second" })))
        ], { concurrency: "unbounded" }).pipe(Effect.timed, Effect.map(([duration, exits]) => {
          console.log(`cluster dead runner: three calls with a 1 s timeout done in ${Duration.toMillis(duration)} ms`)
          return exits
        }))
        // ... at their timeout, not once the shard moved: the dead runner still holds its shard locks.
        const held = yield* Effect.orDie(sql<{ n: number }>`SELECT count(*) AS n FROM cluster_locks WHERE address = ${victim.address}`)
        assert.isAbove(Number(held[0]!.n), 0, "the dead runner's shards moved before the calls returned")
        for (const [what, exit] of [["request", request], ["send", send], ["persisted request", persistedRequest]] as const) {
          assert.isTrue(Exit.isFailure(exit), `${what} succeeded: the shard moved too soon`)
          const reason = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
          const error = reason?._tag === "Fail" ? reason.error : undefined
          assert.strictEqual(error?._tag, "RequestTimeout", `${what}: ${String(reason)}`)
          assert.strictEqual((error as { timeoutMillis: number }).timeoutMillis, 1000, what)
        }
        // A persisted send is done once stored.
        yield* cluster.send(target, text("persisted send"), { persisted: { key: "dead/send" }, timeout: "1 second" })

        // Once the shard moved: a fresh instance has handled what was stored (the persisted send), not
        // the volatile calls that timed out; the persisted request is still delivered, and asking again
        // with its key returns its reply.
        // (Stored messages reach an actor in the order they were stored; a volatile one could overtake them.)
        const after = ledger(yield* eventually(cluster.request(target, text("after"), { persisted: { key: "dead/after" }, timeout: "20 seconds" }), 60_000))
        assert.strictEqual(after.count, 2)
        assert.strictEqual(ledger(yield* cluster.request(target, text("volatile"))).count, 3)
        const stored = ledger(yield* eventually(cluster.request(other, text("again"), { persisted: { key: "dead/request" }, timeout: "20 seconds" }), 60_000))
        assert.strictEqual(stored.correlationId, correlationOf("dead/request"))
        assert.strictEqual(stored.count, 1)
        console.log(`cluster dead runner: the timed-out persisted request answered ${(yield* Clock.currentTimeMillis) - killedAt} ms after SIGKILL`)
        assert.strictEqual(ledger(yield* cluster.request(other, text("next"))).count, 2)
        const now = yield* Effect.forEach([target, other], (id) => cluster.where(id))
        assert.isTrue(now.every((placement) => placement.runner !== victim.address))
        assert.strictEqual(yield* unprocessed, 0)
      }))
  }
)
