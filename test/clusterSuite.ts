/**
 * The cluster suite, run over SQLite (Cluster.test) and PostgreSQL (ClusterPostgres.test): component
 * actors as effect/cluster entities over three REAL runner processes on loopback
 * (`test/programs/clusterRunner.ts`), sharing one database with this process, which is a client-only
 * member of the cluster: actor ids spread over the runners, each actor keeps its own guest state, typed
 * errors cross the wire as typed errors, routers and guests reach actors on other runners, and after a
 * runner is SIGKILLed its actors serve again on the others with no persisted message lost.
 *
 * Real time throughout (no TestClock): every wait is bounded and generous, and nothing asserts on how long
 * anything took.
 */
import { assert, layer } from "@effect/vitest"
import { Clock, Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Schedule } from "effect"
import { SqlClient } from "effect/sql"
import { createHash } from "node:crypto"
import { Cluster } from "../src/cluster/index.ts"
import { GuestError, LimitExceeded, Trap } from "../src/ComponentError.ts"
import { Actor, Audit, Capability, Component, Registry, Router } from "../src/index.ts"
import { holders, startRunner, settled } from "./clusterRunners.ts"
import { decode, guestBytes, text } from "./fixtures.ts"

/** Three runners, started one after another. */
class Runners extends Context.Service<Runners, {
  readonly runners: ReadonlyArray<Effect.Success<ReturnType<typeof startRunner>>>
}>()("test/Cluster/Runners") {}

const runnersLive = (database: string) =>
  Layer.effect(
    Runners,
    Effect.gen(function*() {
      const runners = [yield* startRunner(database), yield* startRunner(database), yield* startRunner(database)]
      yield* settled(3)
      // What the runners logged as errors (a lost shard lock, say), for a failure that needs explaining.
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          for (const runner of runners) {
            const errors = runner.program.output().split("\n").filter((line) => line.includes("ERROR"))
            if (errors.length > 0) console.warn(`runner ${runner.address} logged:\n${errors.join("\n")}`)
          }
        })
      )
      return { runners }
    })
  )

export const limits = { fuel: 100_000_000, timeout: Duration.seconds(1), memoryBytes: 16 * 1024 * 1024 }

/** Persisted messages stored and not yet processed, in the whole cluster. */
export const unprocessed = SqlClient.SqlClient.use((sql) =>
  sql<{ count: number }>`SELECT count(*) AS count FROM cluster_messages WHERE NOT processed`.pipe(
    Effect.map((rows) => Number(rows[0]!.count)),
    Effect.orDie
  ))

/** The messenger guest as version `version`, allowed to message what `pattern` matches. */
const deployMessenger = (version: string, pattern: string) =>
  Cluster.Cluster.use((cluster) =>
    cluster.deploy({
      name: "messenger",
      version,
      bytes: guestBytes("messenger"),
      limits,
      capabilities: [new Capability.Messaging({ pattern })]
    }))

export const u32 = (bytes: Uint8Array | undefined) => bytes === undefined ? -1 : new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true)

/** What the ledger guest answered: its count, and the correlation id it saw. */
export const ledger = (reply: Uint8Array | undefined) => {
  assert.strictEqual(reply?.length, 16)
  const view = new DataView(reply!.buffer, reply!.byteOffset, 16)
  return { count: view.getUint32(0, true), correlationId: view.getUint32(4, true) === 1 ? view.getBigUint64(8, true) : undefined }
}

/** The correlation id a guest sees for a persisted message's key: the first 8 bytes of its sha-256. */
export const correlationOf = (key: string) => createHash("sha256").update(key).digest().readBigUInt64BE(0)

/** Cannot be delivered yet: no runner holds the shard (yet), or no answer in time. */
const transient = (error: Cluster.CallFailure) =>
  error._tag === "RequestTimeout" || (error._tag === "ClusterError" && error.reason === "Unavailable")

/** Retries `effect` every 200 ms while it fails transiently, for up to `withinMillis`. */
export const eventually = <A, R>(effect: Effect.Effect<A, Cluster.CallFailure, R>, withinMillis = 30_000) =>
  Effect.retry(effect, { while: transient, schedule: Schedule.spaced("200 millis"), times: Math.ceil(withinMillis / 200) })

/** Repeats `effect` every 100 ms until its value satisfies `done` (up to 30 s; then it dies). */
export const until = <A, E, R>(effect: Effect.Effect<A, E, R>, done: (a: A) => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 300; i++) {
      const value = yield* effect
      if (done(value)) return value
      yield* Effect.sleep("100 millis")
    }
    return yield* Effect.die(new Error("condition not reached within 30 s"))
  })

/**
 * The suite over a database: `runnerDatabase` is the runners' argument (`sqlite:FILE`, `pg:HOST:PORT`),
 * `sql` this process's client of the same database.
 */
export const clusterSuite = <E>(name: string, runnerDatabase: string, sql: Layer.Layer<SqlClient.SqlClient, E>) => {
  // This process's own registry and router, on top of the cluster client: they reach the whole cluster.
  const live = Cluster.layerClient({
    services: Router.Router.layer.pipe(Layer.provideMerge(Registry.Registry.layer), Layer.provideMerge(Audit.layerMemory({ capacity: 1000 })))
  }).pipe(
    Layer.provideMerge(runnersLive(runnerDatabase)),
    Layer.provideMerge(sql)
  )
  layer(live, { timeout: 120_000, excludeTestServices: true })(`Cluster - three runner processes on ${name}`, (it) => {
    it.effect("deploy - limits are mandatory: a spec that leaves a call unbounded is refused with LimitsRequired", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const bytes = guestBytes("lifecycle")
        for (
          const bad of [
            {},
            { fuel: 1e8 },
            { fuel: Number.POSITIVE_INFINITY, timeout: Duration.seconds(1) },
            { fuel: 1e8, timeout: Duration.seconds(30) }
          ]
        ) {
          const exit = yield* Effect.exit(cluster.deploy({ name: "unbounded", version: "1", bytes, limits: bad }))
          assert.isTrue(Exit.isFailure(exit), JSON.stringify(bad))
          const error = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
          assert.strictEqual(error?._tag === "Fail" ? error.error.reason : undefined, "LimitsRequired", JSON.stringify(bad))
        }
        // A worker-isolated guest cannot block its runner: a timeout is enough.
        yield* cluster.deploy({ name: "isolated", version: "1", bytes, limits: { timeout: Duration.seconds(10), isolation: "worker", memoryBytes: 1 << 24 } })
      }))

    it.effect("request - ids spread over all three runners; each actor keeps its own guest state", () =>
      Effect.gen(function*() {
        const { runners } = yield* Runners
        const cluster = yield* Cluster.Cluster
        yield* cluster.deploy({ name: "counter", version: "1", bytes: guestBytes("lifecycle"), limits })
        const ids = Array.from({ length: 30 }, (_, i) => `counter/${i}`)
        // The first call may wait for the runners to take their shards. A long timeout: a volatile request
        // that timed out may still have been handled, and its retry would count twice.
        const first = yield* Effect.forEach(ids, (id) => eventually(cluster.request(id, text("tick"), { timeout: "20 seconds" })), {
          concurrency: 10
        })
        assert.deepStrictEqual(first.map(u32), ids.map(() => 1))
        // Per actor: counter/0 gets two more messages, counter/1 one more, the others none.
        yield* cluster.request("counter/0", text("tick"))
        assert.strictEqual(u32(yield* cluster.request("counter/0", text("tick"))), 3)
        assert.strictEqual(u32(yield* cluster.request("counter/1", text("tick"))), 2)
        assert.strictEqual(u32(yield* cluster.request("counter/2", text("tick"))), 2)

        const placements = yield* Effect.forEach(ids, (id) => cluster.where(id), { concurrency: 10 })
        const hosts = new Set(placements.map((placement) => placement.runner))
        assert.deepStrictEqual(
          [...hosts].sort(),
          runners.map((runner) => runner.address).sort(),
          `30 ids on ${JSON.stringify(placements.map((p) => p.runner))}`
        )
        assert.isTrue(placements.every((placement) => placement.component === "counter@1"))
        assert.strictEqual(placements.find((placement) => placement.id === "counter/0")?.handled, 3)
      }))

    it.effect("errors - a trap, a guest's err and an exceeded limit reach the caller as typed errors; the actor serves on", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        yield* cluster.deploy({ name: "counter", version: "1", bytes: guestBytes("lifecycle"), limits })
        yield* cluster.deploy({ name: "spinner", version: "1", bytes: guestBytes("spinner"), limits: { ...limits, fuel: 1_000_000 } })
        yield* cluster.deploy({ name: "messenger", version: "1", bytes: guestBytes("messenger"), limits })

        yield* eventually(cluster.request("counter/errors", text("tick")))
        const trap = yield* Effect.flip(cluster.request("counter/errors", text("trap")))
        assert.instanceOf(trap, Trap)
        assert.strictEqual(trap._tag, "Trap")
        // Its supervisor restarted the instance (a fresh counter) on the same runner.
        assert.strictEqual(u32(yield* eventually(cluster.request("counter/errors", text("tick")), 10_000)), 1)

        const fuel = yield* Effect.flip(eventually(cluster.request("spinner/1", text("loop"))))
        assert.instanceOf(fuel, LimitExceeded)
        assert.strictEqual((fuel as LimitExceeded).limit, "fuel")

        // messenger's `send` has no Messaging grant: the host's deny stub answers err, and the guest returns it.
        const send = Uint8Array.from([0x73, 1, 0x78, 1, 0x79]) // 's' "x" "y"
        const denied = yield* Effect.flip(eventually(cluster.request("messenger/1", send)))
        assert.instanceOf(denied, GuestError)

        const unknown = yield* Effect.flip(cluster.request("nothing-deployed/1", text("hi")))
        assert.strictEqual(unknown._tag, "ClusterError")
        assert.strictEqual((unknown as Cluster.ClusterError).reason, "UnknownComponent")
      }))

    it.effect("messaging - a Router reaches actors on any runner; an id held by a local actor stays local", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const router = yield* Router.Router
        const registry = yield* Registry.Registry
        yield* cluster.deploy({ name: "counter", version: "1", bytes: guestBytes("lifecycle"), limits })
        yield* eventually(cluster.request("counter/routed", text("tick")))
        // Not registered here: the router hands it to the cluster.
        assert.strictEqual(u32(yield* router.request("host", "counter/routed", text("tick"))), 2)
        // A send is handed to the cluster at once and delivered on its own.
        yield* router.send("host", "counter/routed", text("tick"))
        yield* until(cluster.where("counter/routed"), (placement) => placement.handled === 3)
        assert.strictEqual(u32(yield* cluster.request("counter/routed", text("tick"))), 4)

        // A local actor under an id the cluster also serves: the router delivers to it, in process.
        const local = yield* Actor.spawn(yield* Component.fromBytes(guestBytes("lifecycle")), { id: "counter/local", config: text("local") })
        yield* registry.register("counter/local", "1", local)
        assert.strictEqual(u32(yield* router.request("host", "counter/local", text("tick"))), 6) // len("local") + 1
        assert.strictEqual(u32(yield* eventually(cluster.request("counter/local", text("tick")))), 1)
        assert.strictEqual((yield* local.stats).handled, 1)
      }).pipe(Effect.scoped))

    it.effect("messaging - a guest's messaging.request reaches an actor on another runner, checked against its grants", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        yield* cluster.deploy({ name: "counter", version: "1", bytes: guestBytes("lifecycle"), limits })
        yield* deployMessenger("1", "counter/*")
        const asker = yield* eventually(cluster.where("messenger/asker"))
        // A counter on another runner than the messenger.
        const placements = yield* Effect.forEach(
          Array.from({ length: 12 }, (_, i) => `counter/asked-${i}`),
          (id) => eventually(cluster.where(id))
        )
        const remote = placements.find((placement) => placement.runner !== asker.runner)!
        const ask = (target: string) => Uint8Array.from([0x72, target.length, ...text(target), 4, ...text("tick")])
        assert.strictEqual(u32(yield* cluster.request("messenger/asker", ask(remote.id))), 1)
        assert.strictEqual(u32(yield* cluster.request("messenger/asker", ask(remote.id))), 2)
        // Outside its grants: the router of the messenger's runner refuses, and the guest returns the refusal.
        const denied = yield* Effect.flip(cluster.request("messenger/asker", ask("greeter/1")))
        assert.instanceOf(denied, GuestError)
        assert.include(String((denied as GuestError).payload), "CapabilityDenied")
      }))

    it.effect("pub/sub - subscribers on every runner get what a host or a guest publishes, once each", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const router = yield* Router.Router
        yield* deployMessenger("2", "news")
        // Subscribers until there is one on each runner (the ids' shards decide where they live).
        const subscribers: Array<Cluster.Placement> = []
        for (let i = 0; i < 30 && new Set(subscribers.map((p) => p.runner)).size < 3; i++) {
          const id = `messenger/sub-${i}`
          yield* eventually(cluster.request(id, Uint8Array.from([0x75, 4, ...text("news")]))) // 'u' "news"
          subscribers.push(yield* cluster.where(id))
        }
        assert.strictEqual(new Set(subscribers.map((p) => p.runner)).size, 3)
        // A guest's subscribe returns at once; the subscription is stored on its own.
        yield* until(cluster.subscribers("news"), (ids) => ids.length === subscribers.length)
        const handled = (id: string) => Effect.map(cluster.where(id), (placement) => placement.handled)
        const before = yield* Effect.forEach(subscribers, (p) => handled(p.id))

        // From the host, through this process's router: nobody here subscribes, all copies go out.
        assert.strictEqual(yield* router.publish("host", "news", text("extra")), subscribers.length)
        for (const [i, p] of subscribers.entries()) yield* until(handled(p.id), (n) => n === before[i]! + 1)

        // From a guest on a runner: that runner's router serves its local subscribers, the rest go out.
        yield* eventually(cluster.request("messenger/publisher", Uint8Array.from([0x70, 4, ...text("news"), 4, ...text("more")])))
        for (const [i, p] of subscribers.entries()) yield* until(handled(p.id), (n) => n === before[i]! + 2)
        // Once each: nothing more arrives.
        yield* Effect.sleep("1 second")
        const after = yield* Effect.forEach(subscribers, (p) => handled(p.id))
        assert.deepStrictEqual(after, before.map((n) => n + 2))
      }))

    it.effect("blue-green - a version deployed on standby serves nobody; once routed, every runner's actors switch to it", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        yield* cluster.deploy({ name: "welcome", version: "1", bytes: guestBytes("greeter-v1"), limits })
        const ids = Array.from({ length: 12 }, (_, i) => `welcome/${i}`)
        const greet = (id: string) => Effect.map(cluster.request(id, text("you")), (reply) => decode(reply!))
        assert.deepStrictEqual(yield* Effect.forEach(ids, (id) => eventually(greet(id))), ids.map(() => "hello, you"))
        const runners = new Set((yield* Effect.forEach(ids, (id) => cluster.where(id))).map((p) => p.runner))
        assert.isAbove(runners.size, 1)

        yield* cluster.deploy({ name: "welcome", version: "2", bytes: guestBytes("greeter-v2"), limits, route: false })
        // Longer than a runner takes to see a route: standby changes nothing.
        yield* Effect.sleep(Duration.sum(Cluster.routePollInterval, Duration.seconds(1)))
        assert.deepStrictEqual(yield* Effect.forEach(ids, greet), ids.map(() => "hello, you"))

        yield* cluster.route("welcome", "2")
        for (const id of ids) yield* until(greet(id), (reply) => reply === "welcome back, you")
        const placements = yield* Effect.forEach(ids, (id) => cluster.where(id))
        assert.isTrue(placements.every((p) => p.component === "welcome@2"))

        const unknown = yield* Effect.flip(cluster.route("welcome", "3"))
        assert.strictEqual(unknown.reason, "UnknownComponent")
      }))

    it.effect("bytes - verified on fetch: bytes that no longer hash to the spec's hash are refused (ComponentCorrupt), never run; a deploy repairs them", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const sql = yield* SqlClient.SqlClient
        // Bytes no other test deploys: no runner has them verified (and kept) yet.
        const spec = yield* cluster.deploy({ name: "flaky", version: "1", bytes: guestBytes("flaky"), limits })
        const tampered = guestBytes("flaky")
        tampered[tampered.length - 1] = tampered.at(-1)! ^ 0xff
        yield* Effect.orDie(sql`UPDATE airssys_components SET bytes = ${tampered} WHERE hash = ${spec.hash}`)
        const refused = yield* Effect.flip(eventually(cluster.request("flaky/1", text("you"))))
        assert.strictEqual(refused._tag, "ClusterError")
        assert.strictEqual((refused as Cluster.ClusterError).reason, "ComponentCorrupt")
        // Deploying the bytes again repairs the row; a failed activation was not kept, so the same actor starts.
        yield* cluster.deploy({ name: "flaky", version: "1", bytes: guestBytes("flaky"), limits })
        assert.strictEqual(decode((yield* cluster.request("flaky/1", text("you")))!), "you")
      }))

    it.effect("persisted - a key sent twice is handled once: the second call gets the stored reply; the guest sees the key as its correlation id", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const sql = yield* SqlClient.SqlClient
        yield* cluster.deploy({ name: "ledger", version: "1", bytes: guestBytes("ledger"), limits })
        const id = "ledger/dedup"
        const first = yield* eventually(cluster.request(id, text("a"), { persisted: { key: "dedup/request" } }))
        assert.deepStrictEqual(ledger(first), { count: 1, correlationId: correlationOf("dedup/request") })
        // Not handled again: the stored reply, byte for byte, though the payload differs.
        assert.deepStrictEqual(yield* cluster.request(id, text("b"), { persisted: { key: "dedup/request" } }), first)

        // A persisted send: the second with the same key is not even stored.
        yield* cluster.send(id, text("c"), { persisted: { key: "dedup/send" } })
        yield* cluster.send(id, text("d"), { persisted: { key: "dedup/send" } })
        yield* until(unprocessed, (n) => n === 0)
        const stored = yield* Effect.orDie(sql<{ n: number }>`SELECT count(*) AS n FROM cluster_messages WHERE message_id LIKE ${"%dedup/send"}`)
        assert.strictEqual(Number(stored[0]!.n), 1)
        // The guest handled three messages: the request once, the send once, and this one.
        const last = ledger(yield* cluster.request(id, text("e")))
        assert.strictEqual(last.count, 3)
        assert.notStrictEqual(last.correlationId, correlationOf("dedup/request"))
      }))

    it.effect("failover - SIGKILL of a runner: its actors serve again on the others, no persisted message lost", () =>
      Effect.gen(function*() {
        const { runners } = yield* Runners
        const cluster = yield* Cluster.Cluster
        yield* cluster.deploy({ name: "counter", version: "1", bytes: guestBytes("lifecycle"), limits })
        const ids = Array.from({ length: 30 }, (_, i) => `counter/failover-${i}`)
        const before = yield* Effect.forEach(ids, (id) => eventually(cluster.request(id, text("tick"))), { concurrency: 10 })
        assert.deepStrictEqual(before.map(u32), ids.map(() => 1))
        const placed = yield* Effect.forEach(ids, (id) => cluster.where(id), { concurrency: 10 })
        const victim = runners[0]!
        const moving = placed.filter((placement) => placement.runner === victim.address).map((placement) => placement.id)
        const staying = placed.filter((placement) => placement.runner !== victim.address).map((placement) => placement.id)
        assert.isAbove(moving.length, 0)

        const killedAt = yield* Clock.currentTimeMillis
        victim.program.process.kill("SIGKILL")
        yield* victim.program.exited

        // Stored while no runner holds their shards: each moving actor gets three persisted sends.
        for (const id of moving) {
          for (let i = 0; i < 3; i++) yield* cluster.send(id, text("tick"), { persisted: { key: `${id}/send/${i}` } })
        }
        // Actors on the survivors were not disturbed: they answer at once, with their state.
        for (const id of staying) assert.strictEqual(u32(yield* cluster.request(id, text("tick"))), 2)

        // A persisted request after the sends: once the actor is back it has handled all three first, on
        // a fresh instance (guest memory does not move): 0 + 3 + 1.
        const replies = yield* Effect.forEach(
          moving,
          (id) => eventually(cluster.request(id, text("tick"), { persisted: { key: `${id}/request` }, timeout: "20 seconds" }), 60_000),
          { concurrency: "unbounded" }
        )
        const backAt = yield* Clock.currentTimeMillis
        assert.deepStrictEqual(replies.map(u32), moving.map(() => 4))
        const now = yield* Effect.forEach(moving, (id) => cluster.where(id))
        assert.isTrue(now.every((placement) => placement.runner !== victim.address))
        assert.strictEqual(yield* unprocessed, 0)
        console.log(`cluster failover: ${moving.length} actors back ${backAt - killedAt} ms after SIGKILL`)
      }))

    it.effect("hand-off - SIGTERM: the runner stops by itself, hands its shards over, and every persisted request in flight is answered", () =>
      Effect.gen(function*() {
        const { runners } = yield* Runners
        const cluster = yield* Cluster.Cluster
        yield* cluster.deploy({ name: "counter", version: "1", bytes: guestBytes("lifecycle"), limits })
        // Runs after the failover test: runners[0] is gone, the others hold every shard.
        const leaving = runners[1]!
        const ids = Array.from({ length: 30 }, (_, i) => `counter/handoff-${i}`)
        const placed = yield* Effect.forEach(ids, (id) => eventually(cluster.where(id)), { concurrency: 10 })
        const moving = placed.filter((placement) => placement.runner === leaving.address).map((placement) => placement.id)
        assert.isAbove(moving.length, 0)

        // Persisted requests in flight while the runner shuts down: each is answered, wherever it ran.
        const inFlight = yield* Effect.forkChild(Effect.forEach(
          moving.flatMap((id) => [0, 1, 2].map((i) => ({ id, key: `${id}/handoff/${i}` }))),
          ({ id, key }) => eventually(cluster.request(id, text("tick"), { persisted: { key }, timeout: "20 seconds" }), 60_000),
          { concurrency: "unbounded" }
        ))
        leaving.program.process.kill("SIGTERM")
        yield* leaving.program.exited
        assert.strictEqual(leaving.program.process.signalCode, null, `killed rather than stopped:\n${leaving.program.output()}`)
        const replies = yield* Fiber.join(inFlight)
        assert.strictEqual(replies.length, moving.length * 3)
        assert.isTrue(replies.every((reply) => u32(reply) >= 1))

        const now = yield* Effect.forEach(moving, (id) => eventually(cluster.where(id)))
        assert.isTrue(now.every((placement) => placement.runner === runners[2]!.address))
        assert.strictEqual(yield* unprocessed, 0)
      }))

    it.effect("snapshot - after the SIGKILL and the SIGTERM, the one runner left answers for all 300 shards and lists the actors it took over, each naming it", () =>
      Effect.gen(function*() {
        const { runners } = yield* Runners
        const cluster = yield* Cluster.Cluster
        const ids = Array.from({ length: 30 }, (_, i) => `counter/handoff-${i}`)
        const placements = yield* Effect.forEach(ids, (id) => eventually(cluster.where(id)))
        const snapshot = yield* cluster.snapshot()
        assert.deepStrictEqual(snapshot.runners.map((runner) => runner.runner), [runners[2]!.address])
        assert.deepStrictEqual(snapshot.unreachable, [])
        assert.strictEqual(snapshot.runners[0]!.shards.length, 300)
        for (const placement of placements) {
          const actor = snapshot.runners[0]!.actors.find((actor) => actor.id === placement.id)
          assert.strictEqual(actor?.supervisor.node, placement.runner, placement.id)
          assert.strictEqual(actor?.supervisor.children[0]!.details?.["handled"], placement.handled)
        }
      }))

    it.effect("storage - an actor's count in Storage survives a SIGKILL of its runner: activated on another, it counts on; its namespace is its id", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        yield* cluster.deploy({ name: "tally", version: "1", bytes: guestBytes("storage-counter"), limits })
        // A runner of this test's own, to kill: it joins the ones still running.
        const live = yield* holders
        const extra = yield* startRunner(runnerDatabase)
        yield* settled(live + 1)
        const ids = Array.from({ length: 30 }, (_, i) => `tally/${i}`)
        // The guest counts in the namespace its payload names: an actor's own is its id. Persisted requests
        // (deduplicated by key), so one re-sent or retried (an actor moving as the new runner takes its
        // shards) counts once.
        const tick = (id: string, key: string) =>
          eventually(Effect.map(cluster.request(id, text(id), { persisted: { key }, timeout: "20 seconds" }), u32), 60_000)
        for (let i = 1; i <= 3; i++) {
          assert.deepStrictEqual(yield* Effect.forEach(ids, (id) => tick(id, `${id}/${i}`), { concurrency: 10 }), ids.map(() => i))
        }
        const placed = yield* Effect.forEach(ids, (id) => cluster.where(id), { concurrency: 10 })
        const moving = placed.filter((placement) => placement.runner === extra.address).map((placement) => placement.id)
        assert.isAbove(moving.length, 0)
        // Another actor's namespace is not its own: the runner's Linker refuses, the guest returns the refusal.
        const denied = yield* Effect.flip(cluster.request("tally/0", text("tally/1")))
        assert.instanceOf(denied, GuestError)
        assert.include(String((denied as GuestError).payload), "holds no Storage grant for tally/1")

        extra.program.process.kill("SIGKILL")
        yield* extra.program.exited
        const after = yield* Effect.forEach(ids, (id) => tick(id, `${id}/after-kill`), { concurrency: "unbounded" })
        // Every actor counts on from 3, the moved ones on a fresh instance elsewhere: the count was in SQL.
        assert.deepStrictEqual(after, ids.map(() => 4))
        const now = yield* Effect.forEach(moving, (id) => cluster.where(id))
        assert.isTrue(now.every((placement) => placement.runner !== extra.address))
        assert.isTrue(now.every((placement) => placement.incarnations === 1 && placement.handled === 1))
      }))

    // Only PostgreSQL waits asynchronously: `@effect/sql-sqlite-node` runs each statement synchronously
    // on the event loop (a database locked by another process blocks it for up to its busy timeout).
    if (runnerDatabase.startsWith("pg:")) {
      it.effect("storage - a guest waiting on a locked table is suspended: its runner serves other actors meanwhile; the call fails with LimitExceeded at its timeout", () =>
        Effect.gen(function*() {
          const cluster = yield* Cluster.Cluster
          const sql = yield* SqlClient.SqlClient
          yield* cluster.deploy({ name: "stall", version: "1", bytes: guestBytes("storage-counter"), limits: { ...limits, timeout: Duration.seconds(2) } })
          yield* cluster.deploy({ name: "counter", version: "1", bytes: guestBytes("lifecycle"), limits })
          const target = yield* eventually(cluster.where("stall/1"))
          // A counter on the same runner.
          let neighbour: string | undefined
          for (let i = 0; neighbour === undefined && i < 60; i++) {
            const placement = yield* eventually(cluster.where(`counter/beside-${i}`))
            if (placement.runner === target.runner) neighbour = placement.id
          }
          assert.isDefined(neighbour)
          const tick = Effect.map(cluster.request("stall/1", text("stall/1")), u32)
          assert.strictEqual(yield* tick, 1)

          // This process holds the storage table locked, in a transaction, until released.
          const held = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          const holder = yield* Effect.forkChild(
            sql.withTransaction(
              sql`LOCK TABLE airssys_storage IN ACCESS EXCLUSIVE MODE`.pipe(
                Effect.andThen(Deferred.succeed(held, undefined)),
                Effect.andThen(Deferred.await(release))
              )
            ),
            { startImmediately: true }
          )
          yield* Deferred.await(held)
          const waiting = yield* Effect.forkChild(Effect.flip(tick), { startImmediately: true })
          // The runner's storage query waits for the lock...
          yield* until(
            Effect.orDie(sql<{ count: number }>`SELECT count(*)::int AS count FROM pg_locks WHERE NOT granted`),
            (rows) => Number(rows[0]!.count) > 0
          )
          // ...while the same runner answers another actor, its guest parked rather than its event loop.
          const before = u32(yield* cluster.request(neighbour!, text("tick")))
          assert.strictEqual(u32(yield* cluster.request(neighbour!, text("tick"))), before + 1)
          assert.isUndefined(waiting.pollUnsafe(), "the stalled call ended before the neighbour answered")
          // The database never answers in time: the call ends at its timeout, typed.
          const error = yield* Fiber.join(waiting)
          assert.instanceOf(error, LimitExceeded)
          assert.strictEqual((error as LimitExceeded).limit, "timeout")

          yield* Deferred.succeed(release, undefined)
          yield* Fiber.join(holder)
          // The timed-out call wrote nothing; the actor (restarted) counts on from the stored 1.
          assert.strictEqual(yield* eventually(tick), 2)
        }))
    }
  })
}
