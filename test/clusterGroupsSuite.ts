/**
 * Runner groups over three REAL runner processes (`test/programs/clusterRunner.ts`), run over SQLite
 * (ClusterGroups.test) and PostgreSQL (ClusterPostgres.test), each serving its own groups: `plain`
 * (with `default`, no filesystem), `files` (with `default`, linking the WASI filesystem over a
 * temporary directory), and `files` alone (no filesystem). This process is a
 * client-only member. A component pinned to a group is only activated on runners of that group; a spec
 * whose grants no runner of its group can satisfy is refused at deploy and nothing is stored; a name's
 * group is fixed; a runner of the right group that lacks what a spec needs refuses it when activating.
 *
 * Real time throughout (no TestClock): every wait is bounded and nothing asserts on how long it took.
 */
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Metric, Schedule } from "effect"
import { SqlClient } from "effect/sql"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { Cluster } from "../src/cluster/index.ts"
import { Capability, Component } from "../src/index.ts"
import { settled, startRunner } from "./clusterRunners.ts"
import { decode, guestBytes, text } from "./fixtures.ts"
import { eventually, limits } from "./clusterSuite.ts"

class Runners extends Context.Service<Runners, {
  /** Serves `default` and `plain`; links no filesystem. */
  readonly plain: string
  /** Serves `default` and `files`; links the filesystem. */
  readonly both: string
  /** Serves `files` only; links no filesystem. */
  readonly filesOnly: string
}>()("test/ClusterGroups/Runners") {}

const runnersLive = (database: string, files: string) => Layer.effect(
  Runners,
  Effect.gen(function*() {
    const plain = yield* startRunner(database, ["--groups", "default,plain"])
    const both = yield* startRunner(database, ["--groups", "default,files", "--filesystem", files])
    const filesOnly = yield* startRunner(database, ["--groups", "files"])
    // default (two runners), plain (one), files (two): 300 shards each.
    yield* settled(3, 900)
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const runner of [plain, both, filesOnly]) {
          const errors = runner.program.output().split("\n").filter((line) => line.includes("ERROR"))
          if (errors.length > 0) console.warn(`runner ${runner.address} logged:\n${errors.join("\n")}`)
        }
      })
    )
    return { plain: plain.address, both: both.address, filesOnly: filesOnly.address }
  })
)


const reasonOf = <A, E>(exit: Exit.Exit<A, E>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const reason = exit.cause.reasons[0]
  return reason?._tag === "Fail" && typeof reason.error === "object" && reason.error !== null && "reason" in reason.error
    ? String(reason.error.reason)
    : undefined
}

const count = (query: Effect.Effect<ReadonlyArray<{ readonly n: number }>, unknown>) =>
  Effect.map(Effect.orDie(query), (rows) => Number(rows[0]!.n))

/**
 * The suite over a database: `runnerDatabase` is the runners' argument (`sqlite:FILE`, `pg:HOST:PORT`),
 * `sql` this process's client of the same database.
 */
export const clusterGroupsSuite = <E>(name: string, runnerDatabase: string, sql: Layer.Layer<SqlClient.SqlClient, E>) => {
  // The directory the `files` runner serves, with the file its readers read.
  const files = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "airssys-groups-files-")))
  fs.writeFileSync(path.join(files, "hello.txt"), "hello from the files runner")
  afterAll(() => fs.rmSync(files, { recursive: true, force: true }))
  const live = Cluster.layerClient().pipe(
    Layer.provideMerge(runnersLive(runnerDatabase, files)),
    Layer.provideMerge(sql)
  )
  layer(live, { timeout: 120_000, excludeTestServices: true })(`Cluster - runner groups over three runner processes on ${name}`, (it) => {
    it.effect("groups - a component pinned to a group is only ever activated on runners of that group", () =>
      Effect.gen(function*() {
        const runners = yield* Runners
        const cluster = yield* Cluster.Cluster
        const spec = yield* cluster.deploy({ name: "filed", version: "1", bytes: guestBytes("lifecycle"), limits, group: "files" })
        assert.strictEqual(spec.group, "files")
        yield* cluster.deploy({ name: "anywhere", version: "1", bytes: guestBytes("lifecycle"), limits })
        const placed = (name: string) =>
          Effect.forEach(Array.from({ length: 24 }, (_, i) => `${name}/${i}`), (id) => eventually(cluster.where(id)), { concurrency: 6 })

        const filedPlacements = yield* placed("filed")
        const filed = new Set(filedPlacements.map((placement) => placement.runner))
        assert.deepStrictEqual([...filed].sort(), [runners.both, runners.filesOnly].sort())
        // The cluster-wide snapshot asks every group's shards: it lists each pinned actor where `where` put it.
        const snapshot = yield* cluster.snapshot()
        assert.deepStrictEqual(snapshot.unreachable, [])
        for (const placement of filedPlacements) {
          const listedBy = snapshot.runners.filter((runner) => runner.actors.some((actor) => actor.id === placement.id))
          assert.deepStrictEqual(listedBy.map((runner) => runner.runner), [placement.runner], placement.id)
        }
        // The default group: the runners that serve it, never the one that serves `files` alone.
        const anywhere = new Set((yield* placed("anywhere")).map((placement) => placement.runner))
        assert.deepStrictEqual([...anywhere].sort(), [runners.plain, runners.both].sort())
      }))

    it.effect("deploy - a spec whose grants no runner of its group can satisfy is refused with Unsatisfiable, and nothing is stored", () =>
      Effect.gen(function*() {
        const runners = yield* Runners
        const cluster = yield* Cluster.Cluster
        const sql = yield* SqlClient.SqlClient
        const read = [new Capability.FileRead({ glob: `${files}/**` })]
        const transpilesBefore = (yield* Metric.value(Component.transpiles)).count

        // `plain` is served by one runner, which links no filesystem.
        const plain = yield* Effect.flip(
          cluster.deploy({ name: "reader-plain", version: "1", bytes: guestBytes("fs-actor"), limits, capabilities: read, group: "plain" })
        )
        assert.strictEqual(plain.reason, "Unsatisfiable")
        assert.include(plain.message, "wasi:filesystem/preopens")
        assert.include(plain.message, `no runner of group "plain"`)
        assert.include(plain.message, `${runners.plain} lacks`)
        assert.include(plain.message, `runners of "default", "files" do`)
        // A group no runner serves.
        const nowhere = yield* Effect.flip(
          cluster.deploy({ name: "reader-nowhere", version: "1", bytes: guestBytes("fs-actor"), limits, capabilities: read, group: "nowhere" })
        )
        assert.strictEqual(nowhere.reason, "Unsatisfiable")
        assert.include(nowhere.message, `no runner serves group "nowhere"`)
        // A custom host interface no runner links.
        const game = yield* Effect.flip(cluster.deploy({
          name: "game",
          version: "1",
          bytes: guestBytes("game-actor"),
          limits,
          capabilities: [new Capability.Custom({ interface: "game:api/weapons", scope: "*" })]
        }))
        assert.strictEqual(game.reason, "Unsatisfiable")
        assert.include(game.message, "game:api/weapons")
        assert.include(game.message, `no runner of group "default"`)
        assert.include(game.message, "no runner links them all")

        for (const name of ["reader-plain", "reader-nowhere", "game"]) {
          assert.strictEqual(yield* count(sql`SELECT count(*) AS n FROM airssys_specs WHERE name = ${name}`), 0, name)
          assert.strictEqual(yield* count(sql`SELECT count(*) AS n FROM airssys_names WHERE name = ${name}`), 0, name)
          assert.strictEqual(yield* count(sql`SELECT count(*) AS n FROM airssys_routes WHERE name = ${name}`), 0, name)
        }
        const gameHash = Component.hashOf(guestBytes("game-actor"))
        assert.strictEqual(yield* count(sql`SELECT count(*) AS n FROM airssys_components WHERE hash = ${gameHash}`), 0)
        const unknown = yield* Effect.flip(cluster.request("game/1", text("laser")))
        assert.strictEqual(unknown._tag === "ClusterError" ? unknown.reason : unknown._tag, "UnknownComponent")

        // What a spec needs comes from its grants: without a file grant, the same bytes fit `plain`.
        const ungranted = yield* cluster.deploy({ name: "reader-ungranted", version: "1", bytes: guestBytes("fs-actor"), limits, group: "plain" })
        assert.strictEqual(ungranted.group, "plain")
        // Bad bytes are refused here, as before, without a transpile in this process; so is a component
        // that is no actor (fs-probe exports `process` only: every message would trap).
        const truncated = guestBytes("fs-actor").slice(0, 200)
        const bad = yield* Effect.flip(cluster.deploy({ name: "broken", version: "1", bytes: truncated, limits }))
        assert.strictEqual(bad.reason, "StartFailed")
        const processor = yield* Effect.flip(cluster.deploy({ name: "processor", version: "1", bytes: guestBytes("fs-probe"), limits }))
        assert.strictEqual(processor.reason, "StartFailed")
        assert.include(processor.message, "airssys:component/handler")
        assert.strictEqual((yield* Metric.value(Component.transpiles)).count, transpilesBefore, "this process transpiled")
      }))

    it.effect("groups - a name's group is fixed once deployed: another group is refused with GroupChanged", () =>
      Effect.gen(function*() {
        const cluster = yield* Cluster.Cluster
        const sql = yield* SqlClient.SqlClient
        yield* cluster.deploy({ name: "fixed", version: "1", bytes: guestBytes("greeter-v1"), limits, group: "files" })
        const moved = yield* Effect.exit(cluster.deploy({ name: "fixed", version: "2", bytes: guestBytes("greeter-v2"), limits }))
        assert.strictEqual(reasonOf(moved), "GroupChanged")
        assert.strictEqual(yield* count(sql`SELECT count(*) AS n FROM airssys_specs WHERE name = 'fixed' AND version = '2'`), 0)
        assert.strictEqual(decode((yield* eventually(cluster.request("fixed/1", text("you"))))!), "hello, you")
        // The same group is fine: version 2 is routed, still in `files`.
        yield* cluster.deploy({ name: "fixed", version: "2", bytes: guestBytes("greeter-v2"), limits, group: "files" })
        yield* Effect.retry(
          Effect.flatMap(cluster.request("fixed/1", text("you")), (reply) =>
            decode(reply!) === "welcome back, you" ? Effect.void : Effect.fail(new Error("not switched yet"))),
          { schedule: Schedule.spaced("200 millis"), times: 100 }
        )
        const invalid = yield* Effect.exit(cluster.deploy({ name: "odd", version: "1", bytes: guestBytes("greeter-v1"), limits, group: "Not A Group" }))
        assert.strictEqual(reasonOf(invalid), "InvalidSpec")
      }))

    it.effect("activation - a runner of the group that does not link what the grants need refuses the actor (Unsatisfiable); one that does serves it", () =>
      Effect.gen(function*() {
        const runners = yield* Runners
        const cluster = yield* Cluster.Cluster
        // `default` has one runner with the filesystem: the spec is accepted.
        yield* cluster.deploy({
          name: "reader",
          version: "1",
          bytes: guestBytes("fs-actor"),
          limits,
          capabilities: [new Capability.FileRead({ glob: `${files}/**` })]
        })
        const ids = Array.from({ length: 16 }, (_, i) => `reader/${i}`)
        const outcomes = yield* Effect.forEach(ids, (id) => Effect.exit(eventually(cluster.request(id, text("hello.txt")))), { concurrency: 4 })
        const served = ids.filter((_, i) => Exit.isSuccess(outcomes[i]!))
        const refused = outcomes.filter(Exit.isFailure)
        assert.isAbove(served.length, 0, JSON.stringify(refused.map((exit) => String(exit.cause))))
        assert.isAbove(refused.length, 0)
        for (const exit of outcomes) {
          if (Exit.isSuccess(exit)) assert.strictEqual(decode(exit.value!), "hello from the files runner")
        }
        for (const exit of refused) {
          assert.strictEqual(reasonOf(exit), "Unsatisfiable")
          const reason = exit.cause.reasons[0]
          assert.include(reason?._tag === "Fail" ? reason.error.message : "", `runner ${runners.plain} cannot host reader@1`)
        }
        for (const id of served) assert.strictEqual((yield* cluster.where(id)).runner, runners.both)
      }))
  })
}
