/**
 * Observing a cluster through two REAL runner processes (`test/programs/clusterRunner.ts`, each with a
 * JSONL audit file and an observer) over one SQLite file, from this process, a client-only member: the
 * cluster-wide supervision snapshot names each actor's runner (as `where` does), a trap restarts an
 * actor on its runner as `Deployment` does in one process, audit events recorded on a runner carry it,
 * and so do its actors' metric series.
 *
 * Real time throughout (no TestClock): every wait is bounded, and nothing asserts on how long anything
 * took.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { Cluster } from "../src/cluster/index.ts"
import { Trap } from "../src/ComponentError.ts"
import { Audit } from "../src/index.ts"
import { Observer } from "../src/observer/index.ts"
import { settled, startRunner } from "./clusterRunners.ts"
import { guestBytes, text } from "./fixtures.ts"
import { eventually, limits, u32, until } from "./clusterSuite.ts"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-cluster-observe-"))
const database = path.join(work, "cluster.db")
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

interface Observed {
  readonly address: string
  readonly auditFile: string
  readonly observer: string
}

class Runners extends Context.Service<Runners, { readonly runners: ReadonlyArray<Observed> }>()("test/ClusterObserve/Runners") {}

const runnersLive = Layer.effect(
  Runners,
  Effect.gen(function*() {
    const runners: Array<Observed> = []
    for (let i = 0; i < 2; i++) {
      const auditFile = path.join(work, `audit-${i}.jsonl`)
      const runner = yield* startRunner(`sqlite:${database}`, [`--audit=${auditFile}`, "--observer"])
      const line = runner.program.output().split("\n").find((l) => l.includes(`"observer":`))!
      runners.push({ address: runner.address, auditFile, observer: (JSON.parse(line) as { observer: string }).observer })
    }
    yield* settled(2)
    return { runners }
  })
)

const live = Cluster.layerClient().pipe(
  Layer.provideMerge(runnersLive),
  Layer.provideMerge(SqliteClient.layer({ filename: database }))
)


/** The actor `id` in a cluster snapshot, with the runner that listed it. */
const hostedIn = (snapshot: Cluster.Snapshot, id: string) => {
  const found = snapshot.runners.flatMap((runner) =>
    runner.actors.filter((actor) => actor.id === id).map((actor) => ({ runner: runner.runner, actor }))
  )
  assert.strictEqual(found.length, 1, `${id} is listed once: ${JSON.stringify(found)}`)
  return found[0]!
}


layer(live, { timeout: 120_000, excludeTestServices: true })("Cluster - observed through two runner processes on SQLite", (it) => {
  it.effect("snapshot - from a client: every runner answers with the actors it hosts, each under a supervisor that names its runner, as `where` does", () =>
    Effect.gen(function*() {
      const { runners } = yield* Runners
      const cluster = yield* Cluster.Cluster
      yield* cluster.deploy({ name: "counter", version: "1", bytes: guestBytes("lifecycle"), limits })
      const ids = Array.from({ length: 12 }, (_, i) => `counter/seen-${i}`)
      yield* Effect.forEach(ids, (id) => eventually(cluster.request(id, text("tick"))), { concurrency: 4 })
      yield* cluster.request("counter/seen-0", text("tick"))
      const placements = yield* Effect.forEach(ids, (id) => cluster.where(id))

      const snapshot = yield* cluster.snapshot()
      assert.deepStrictEqual(snapshot.runners.map((runner) => runner.runner), runners.map((runner) => runner.address).sort())
      assert.deepStrictEqual(snapshot.unreachable, [])
      // Every shard is held by exactly one of them.
      const shards = snapshot.runners.flatMap((runner) => runner.shards)
      assert.strictEqual(shards.length, 300)
      assert.strictEqual(new Set(shards).size, 300)
      for (const placement of placements) {
        const { actor, runner } = hostedIn(snapshot, placement.id)
        assert.strictEqual(runner, placement.runner, placement.id)
        assert.strictEqual(actor.supervisor.node, placement.runner)
        assert.strictEqual(actor.component, "counter@1")
        assert.strictEqual(actor.supervisor.status, "running")
        const child = actor.supervisor.children[0]!
        assert.strictEqual(child.state, "running")
        assert.strictEqual(child.details?.["handled"], placement.handled)
        assert.strictEqual(child.details?.["incarnations"], placement.incarnations)
      }
      assert.strictEqual(hostedIn(snapshot, "counter/seen-0").actor.supervisor.children[0]!.details?.["handled"], 2)
      assert.isAbove(new Set(placements.map((placement) => placement.runner)).size, 1, "the ids spread over both runners")
    }))

  it.effect("observer - a client's observer shows every runner's trees (watchTrees over Cluster.snapshot), each naming its runner", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster.Cluster
      yield* cluster.deploy({ name: "counter", version: "1", bytes: guestBytes("lifecycle"), limits })
      const ids = Array.from({ length: 6 }, (_, i) => `counter/watched-${i}`)
      yield* Effect.forEach(ids, (id) => eventually(cluster.request(id, text("tick"))))
      const placements = yield* Effect.forEach(ids, (id) => cluster.where(id))
      const observer = yield* Observer.make()
      yield* observer.watchTrees(Effect.map(cluster.snapshot(), (snapshot) =>
        snapshot.runners.flatMap((runner) => runner.actors.map((actor) => actor.supervisor))))
      const overview = yield* observer.overview
      for (const placement of placements) {
        const tree = overview.supervisors.find((supervisor) => supervisor.id === placement.id)
        assert.strictEqual(tree?.node, placement.runner, placement.id)
      }
      // And its JSON API, which the page renders ("on <node>" beside each supervisor).
      const tree = yield* Effect.promise(() =>
        fetch(new URL("api/tree", observer.url)).then((response) => response.json() as Promise<{ supervisors: ReadonlyArray<{ id: string; node?: string }> }>))
      assert.strictEqual(tree.supervisors.find((supervisor) => supervisor.id === placements[0]!.id)?.node, placements[0]!.runner)
    }).pipe(Effect.scoped))

  it.effect("supervision - a trap restarts the instance on its runner, a message queued meanwhile waits for it; past the restart intensity the next call activates afresh", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster.Cluster
      yield* cluster.deploy({ name: "counter", version: "1", bytes: guestBytes("lifecycle"), limits })
      const id = "counter/crashy"
      assert.strictEqual(u32(yield* eventually(cluster.request(id, text("tick")))), 1)
      assert.strictEqual(u32(yield* cluster.request(id, text("tick"))), 2)
      const before = yield* cluster.where(id)

      // The trap and, right behind it, a tick: the tick reaches the mailbox while the supervisor waits
      // out its backoff, and the fresh instance (a counter from 0) serves it.
      const trap = yield* Effect.flip(cluster.request(id, text("trap")))
      assert.instanceOf(trap, Trap)
      assert.strictEqual(u32(yield* cluster.request(id, text("tick"))), 1)
      const after = yield* cluster.where(id)
      assert.strictEqual(after.runner, before.runner, "restarted where it ran")
      assert.strictEqual(after.incarnations, 2)
      const restarted = hostedIn(yield* cluster.snapshot(), id)
      assert.strictEqual(restarted.runner, before.runner)
      assert.strictEqual(restarted.actor.supervisor.status, "running")
      assert.strictEqual(restarted.actor.supervisor.children[0]!.ownRestarts, 1)
      assert.strictEqual(restarted.actor.supervisor.children[0]!.details?.["incarnations"], 2)

      // Three more traps within the intensity window (3 restarts in 5 s): the fourth restart is one too
      // many, and the supervisor gives up, as an in-process `Deployment`'s does.
      for (let i = 0; i < 3; i++) assert.instanceOf(yield* Effect.flip(cluster.request(id, text("trap"))), Trap)
      const escalated = hostedIn(yield* cluster.snapshot(), id)
      assert.strictEqual(escalated.actor.supervisor.status, "escalated")
      assert.strictEqual(escalated.actor.supervisor.node, before.runner)

      // The next call activates the actor afresh: a new instance under a new supervisor, same runner.
      assert.strictEqual(u32(yield* cluster.request(id, text("tick"))), 1)
      const fresh = yield* cluster.where(id)
      assert.strictEqual(fresh.incarnations, 1)
      assert.strictEqual(fresh.runner, before.runner)
      const again = hostedIn(yield* cluster.snapshot(), id)
      assert.strictEqual(again.actor.supervisor.status, "running")
      assert.strictEqual(again.actor.supervisor.children[0]!.ownRestarts, 0)
    }))

  it.effect("supervision - the spec's intensity is its actors' supervisor's: with no restart allowed the first trap escalates; a bad intensity is InvalidSpec, nothing stored", () =>
    Effect.gen(function*() {
      const cluster = yield* Cluster.Cluster
      const spec = yield* cluster.deploy({
        name: "brittle",
        version: "1",
        bytes: guestBytes("lifecycle"),
        limits,
        intensity: { maxRestarts: 0, period: "1 minute" }
      })
      assert.deepStrictEqual(spec.intensity?.maxRestarts, 0)
      const id = "brittle/1"
      assert.strictEqual(u32(yield* eventually(cluster.request(id, text("tick")))), 1)
      assert.instanceOf(yield* Effect.flip(cluster.request(id, text("trap"))), Trap)
      // Not restarted: its supervisor allowed none and gave up at once (the default allows 3 in 5 s).
      const escalated = yield* until(Effect.map(cluster.snapshot(), (snapshot) => hostedIn(snapshot, id)), (hosted) => hosted.actor.supervisor.status === "escalated")
      assert.strictEqual(escalated.actor.supervisor.children[0]!.ownRestarts, 0)
      // Its next call activates it afresh.
      assert.strictEqual(u32(yield* cluster.request(id, text("tick"))), 1)

      const bad = yield* Effect.flip(cluster.deploy({
        name: "brittle-bad",
        version: "1",
        bytes: guestBytes("lifecycle"),
        limits,
        intensity: { maxRestarts: -1, period: "1 minute" }
      }))
      assert.strictEqual(bad._tag === "ClusterError" ? bad.reason : bad._tag, "InvalidSpec")
      const unknown = yield* Effect.flip(cluster.request("brittle-bad/1", text("tick")))
      assert.strictEqual(unknown._tag === "ClusterError" ? unknown.reason : unknown._tag, "UnknownComponent")
    }))

  it.effect("audit - every event recorded on a runner carries that runner: a guest's capability denial there, its trap, its restart", () =>
    Effect.gen(function*() {
      const { runners } = yield* Runners
      const cluster = yield* Cluster.Cluster
      // No Messaging grant: its `send` is denied by the runner that hosts it, and audited there. Denied
      // guests until there is one on each runner (the ids' shards decide where they live).
      yield* cluster.deploy({ name: "messenger", version: "1", bytes: guestBytes("messenger"), limits })
      const send = Uint8Array.from([0x73, 1, 0x78, 1, 0x79]) // 's' "x" "y"
      const denied = new Map<string, string>()
      for (let i = 0; i < 40 && denied.size < runners.length; i++) {
        const id = `messenger/denied-${i}`
        yield* Effect.flip(eventually(cluster.request(id, send)))
        denied.set((yield* cluster.where(id)).runner, id)
      }
      assert.strictEqual(denied.size, runners.length)

      const events = (file: string) =>
        Effect.sync(() => fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Audit.AuditEvent) : [])
      for (const runner of runners) {
        const id = denied.get(runner.address)!
        const logged = yield* until(events(runner.auditFile), (all) => all.some((event) => event.component === id && event.decision === "denied"))
        const denial = logged.find((event) => event.component === id && event.decision === "denied")!
        assert.strictEqual(denial.node, runner.address)
        assert.strictEqual(denial.capability, "Messaging")
      }

      // A trap and the restart it causes, on the crashy counter's runner (the supervision test ran first).
      yield* cluster.deploy({ name: "counter", version: "1", bytes: guestBytes("lifecycle"), limits })
      yield* eventually(cluster.request("counter/audited", text("tick")))
      yield* Effect.flip(cluster.request("counter/audited", text("trap")))
      yield* cluster.request("counter/audited", text("tick"))
      const counterHost = (yield* cluster.where("counter/audited")).runner
      const counterFile = runners.find((runner) => runner.address === counterHost)!.auditFile
      const lifecycle = yield* until(events(counterFile), (all) =>
        all.some((event) => event.component === "counter/audited" && event.action === "restarted"))
      assert.isTrue(lifecycle.some((event) => event.component === "counter/audited" && event.node === counterHost && event.action === "restarted"))

      // Every event of each runner's chain names that runner, and each chain verifies (the node is hashed).
      for (const runner of runners) {
        const all = yield* events(runner.auditFile)
        assert.isAbove(all.length, 0)
        assert.isTrue(all.every((event) => event.node === runner.address), `${runner.address}: ${JSON.stringify(all.map((e) => e.node))}`)
        // Up to the last whole line: the runner may be writing.
        const whole = fs.readFileSync(runner.auditFile, "utf8")
        yield* Audit.verify(whole.slice(0, whole.lastIndexOf("\n") + 1))
      }
    }))

  it.effect("metrics - a runner's actor series carry its address as `node`, on its own /metrics", () =>
    Effect.gen(function*() {
      const { runners } = yield* Runners
      const cluster = yield* Cluster.Cluster
      yield* cluster.deploy({ name: "counter", version: "1", bytes: guestBytes("lifecycle"), limits })
      yield* eventually(cluster.request("counter/metered", text("tick")))
      yield* cluster.request("counter/metered", text("tick"))
      const host = (yield* cluster.where("counter/metered")).runner
      const observer = runners.find((runner) => runner.address === host)!.observer
      const metrics = yield* Effect.promise(() => fetch(new URL("metrics", observer)).then((response) => response.text()))
      const line = metrics.split("\n").find((l) => l.startsWith("airssys_actor_messages_handled_total{") && l.includes(`actor="counter/metered"`))
      assert.isDefined(line, metrics.slice(0, 2000))
      assert.include(line!, `node="${host}"`)
      assert.isTrue(line!.trimEnd().endsWith(" 2"), line)
      // The other runner never hosted it.
      const other = runners.find((runner) => runner.address !== host)!.observer
      const elsewhere = yield* Effect.promise(() => fetch(new URL("metrics", other)).then((response) => response.text()))
      assert.notInclude(elsewhere, `actor="counter/metered"`)
    }))
})
