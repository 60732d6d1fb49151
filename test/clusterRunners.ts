/**
 * Runner processes for the cluster suites and `bench cluster`: start one, and wait until a set of them
 * holds every shard.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql"
import * as net from "node:net"
import { startProgram } from "./fixtures.ts"

/** A free TCP port on loopback. */
export const freePort = Effect.callback<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** A runner process (`test/programs/clusterRunner.ts`) on a free port, once it serves. */
export const startRunner = (database: string, extra: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const port = yield* freePort
    const program = yield* startProgram("clusterRunner", [database, String(port), ...extra], (line) => line.includes(`"ready":${port}`))
    return { port, address: `127.0.0.1:${port}`, program }
  })

/**
 * How the shard locks are split, once all `shards` (300 per group served) are held by all `runners` and the split is the same in
 * two reads a second apart (an assignment refresh): a test that starts before then can see its actors move while a
 * late runner takes its shards. SQLite keeps lock rows; PostgreSQL advisory locks, one session per runner.
 */
export const settled = (runners: number, shards = 300) => Effect.gen(function*() {
  const split = lockSplit
  let last = ""
  for (let i = 0; i < 60; i++) {
    const now = yield* split
    const rows = JSON.parse(now) as Array<[string, number]>
    if (now === last && rows.length === runners && rows.reduce((sum, [, held]) => sum + held, 0) === shards) return rows
    last = now
    yield* Effect.sleep("1 second")
  }
  return yield* Effect.die(new Error(`the runners did not settle: ${last}`))
})

/** How many runners hold shard locks now. */
export const holders = Effect.map(Effect.suspend(() => lockSplit), (split) => (JSON.parse(split) as Array<unknown>).length)

/** The shard locks per holder, as JSON `[[holder, shards], ...]`. */
const lockSplit: Effect.Effect<string, never, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const query = sql.onDialectOrElse({
    pg: () =>
      sql<{ holder: string; shards: number }>`SELECT pid::text AS holder, count(*)::int AS shards FROM pg_locks WHERE locktype = 'advisory' AND granted GROUP BY pid ORDER BY pid`,
    orElse: () =>
      sql<{ holder: string; shards: number }>`SELECT address AS holder, count(*) AS shards FROM cluster_locks GROUP BY address ORDER BY address`
  })
  return yield* query.pipe(
    Effect.map((rows) => JSON.stringify(rows.map((row) => [row.holder, Number(row.shards)]))),
    Effect.orDie
  )
})

