/**
 * The cluster's own tables, beside effect/cluster's: component bytes stored once by sha-256, the spec of
 * each deployed version, and which version each name routes to. Plain rows in and out; the public
 * `Cluster` module encodes and decodes the spec's limits and grants.
 *
 * Bytes are verified on every fetch (a row whose bytes no longer hash to its key is `Corrupt`, never
 * loaded) and kept per process once verified, so a runner reads a component's bytes from the database
 * once however many entities it activates.
 *
 * @internal
 */
import { Context, Effect, Layer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { sha256 } from "../sha256.ts"
import { type ClusterError, refuse } from "./clusterError.ts"

/** One deployed version as stored: `limits` and `grants` are JSON text, `config` raw bytes. */
export interface SpecRow {
  readonly name: string
  readonly version: string
  readonly hash: string
  /** The runner group that hosts it. */
  readonly group: string
  readonly limits: string
  readonly grants: string
  readonly config: Uint8Array
  /** The supervisor's restart intensity as JSON, `""` for the default. */
  readonly intensity: string
}

export type Fetched =
  | { readonly _tag: "Found"; readonly bytes: Uint8Array }
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Corrupt"; readonly actual: string }

export class ComponentStore extends Context.Service<ComponentStore, {
  /** Stores the bytes under their sha-256: one row per hash (a second put rewrites it, repairing a corrupt one). */
  readonly putComponent: (bytes: Uint8Array) => Effect.Effect<string, SqlError.SqlError>
  readonly getComponent: (hash: string) => Effect.Effect<Fetched, SqlError.SqlError>
  /**
   * Stores a version's spec (replacing the same name and version) and, with `route`, routes its name to
   * it; without, the name is routed to it only when it has no route yet.
   */
  readonly putSpec: (spec: SpecRow, route: boolean) => Effect.Effect<void, SqlError.SqlError>
  /** Routes `name` to a stored version; false when there is no such spec. */
  readonly route: (name: string, version: string) => Effect.Effect<boolean, SqlError.SqlError>
  /** Every name's routed version. */
  readonly routes: Effect.Effect<ReadonlyMap<string, string>, SqlError.SqlError>
  /** The spec the name routes to, if any. */
  readonly routed: (name: string) => Effect.Effect<SpecRow | undefined, SqlError.SqlError>
  readonly subscribe: (topic: string, actorId: string) => Effect.Effect<void, SqlError.SqlError>
  /** False when it was not subscribed. */
  readonly unsubscribe: (topic: string, actorId: string) => Effect.Effect<boolean, SqlError.SqlError>
  /** Subscriber ids, in subscription order. */
  readonly subscribers: (topic: string) => Effect.Effect<ReadonlyArray<string>, SqlError.SqlError>
}>()("airssys-wasm/Cluster/ComponentStore") {}

// Postgres answers a `bytea` as a Buffer, SQLite a Uint8Array: callers get a copy they own either way.
const ownBytes = (value: unknown): Uint8Array =>
  value instanceof Uint8Array ? new Uint8Array(value) : new Uint8Array()

export const make = (sql: SqlClient.SqlClient): Effect.Effect<ComponentStore["Service"], SqlError.SqlError> =>
  Effect.gen(function*() {
    const blob = sql.onDialectOrElse({ pg: () => "BYTEA", orElse: () => "BLOB" })
    yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS airssys_components (hash TEXT PRIMARY KEY, bytes ${blob} NOT NULL)`)
    yield* sql.unsafe(
      `CREATE TABLE IF NOT EXISTS airssys_specs (name TEXT NOT NULL, version TEXT NOT NULL, hash TEXT NOT NULL, limits TEXT NOT NULL, grants TEXT NOT NULL, config ${blob} NOT NULL, grp TEXT NOT NULL DEFAULT 'default', intensity TEXT NOT NULL DEFAULT '', PRIMARY KEY (name, version))`
    )
    yield* sql.unsafe(`CREATE TABLE IF NOT EXISTS airssys_routes (name TEXT PRIMARY KEY, version TEXT NOT NULL)`)
    const serial = sql.onDialectOrElse({ pg: () => "BIGSERIAL", orElse: () => "INTEGER" })
    yield* sql.unsafe(
      `CREATE TABLE IF NOT EXISTS airssys_subscriptions (seq ${serial} PRIMARY KEY, topic TEXT NOT NULL, actor TEXT NOT NULL, UNIQUE (topic, actor))`
    )

    const verified = new Map<string, Uint8Array>()

    const putComponent = (bytes: Uint8Array) =>
      Effect.suspend(() => {
        const hash = sha256(bytes)
        return sql`INSERT INTO airssys_components (hash, bytes) VALUES (${hash}, ${bytes}) ON CONFLICT (hash) DO UPDATE SET bytes = excluded.bytes`
          .pipe(Effect.as(hash))
      })

    const getComponent = (hash: string): Effect.Effect<Fetched, SqlError.SqlError> =>
      Effect.suspend(() => {
        const cached = verified.get(hash)
        if (cached !== undefined) return Effect.succeed({ _tag: "Found", bytes: cached })
        return Effect.map(sql<{ bytes: unknown }>`SELECT bytes FROM airssys_components WHERE hash = ${hash}`, (rows): Fetched => {
          if (rows.length === 0) return { _tag: "Missing" }
          const bytes = ownBytes(rows[0]!.bytes)
          const actual = sha256(bytes)
          if (actual !== hash) return { _tag: "Corrupt", actual }
          verified.set(hash, bytes)
          return { _tag: "Found", bytes }
        })
      })

    const putSpec = (spec: SpecRow, route: boolean) =>
      sql.withTransaction(Effect.andThen(
        sql`INSERT INTO airssys_specs (name, version, hash, limits, grants, config, grp, intensity)
            VALUES (${spec.name}, ${spec.version}, ${spec.hash}, ${spec.limits}, ${spec.grants}, ${spec.config}, ${spec.group}, ${spec.intensity})
            ON CONFLICT (name, version) DO UPDATE SET hash = ${spec.hash}, limits = ${spec.limits}, grants = ${spec.grants}, config = ${spec.config}, grp = ${spec.group}, intensity = ${spec.intensity}`,
        route
          ? sql`INSERT INTO airssys_routes (name, version) VALUES (${spec.name}, ${spec.version})
                ON CONFLICT (name) DO UPDATE SET version = ${spec.version}`
          : sql`INSERT INTO airssys_routes (name, version) VALUES (${spec.name}, ${spec.version}) ON CONFLICT (name) DO NOTHING`
      ))

    const route = (name: string, version: string) =>
      sql.withTransaction(Effect.gen(function*() {
        const found = yield* sql<{ name: string }>`SELECT name FROM airssys_specs WHERE name = ${name} AND version = ${version}`
        if (found.length === 0) return false
        yield* sql`INSERT INTO airssys_routes (name, version) VALUES (${name}, ${version}) ON CONFLICT (name) DO UPDATE SET version = ${version}`
        return true
      }))

    const routes = Effect.map(
      sql<{ name: string; version: string }>`SELECT name, version FROM airssys_routes`,
      (rows): ReadonlyMap<string, string> => new Map(rows.map((row) => [row.name, row.version]))
    )

    const routed = (name: string) =>
      Effect.map(
        sql<{ name: string; version: string; hash: string; limits: string; grants: string; config: unknown; grp: string; intensity: string }>`
          SELECT s.name, s.version, s.hash, s.limits, s.grants, s.config, s.grp, s.intensity
          FROM airssys_routes r JOIN airssys_specs s ON s.name = r.name AND s.version = r.version
          WHERE r.name = ${name}`,
        (rows): SpecRow | undefined => {
          const row = rows[0]
          if (row === undefined) return undefined
          const { grp, ...rest } = row
          return { ...rest, group: grp, config: ownBytes(row.config) }
        }
      )

    const subscribe = (topic: string, actorId: string) =>
      Effect.asVoid(sql`INSERT INTO airssys_subscriptions (topic, actor) VALUES (${topic}, ${actorId}) ON CONFLICT (topic, actor) DO NOTHING`)

    const unsubscribe = (topic: string, actorId: string) =>
      Effect.map(
        sql<{ actor: string }>`DELETE FROM airssys_subscriptions WHERE topic = ${topic} AND actor = ${actorId} RETURNING actor`,
        (rows) => rows.length > 0
      )

    const subscribers = (topic: string) =>
      Effect.map(
        sql<{ actor: string }>`SELECT actor FROM airssys_subscriptions WHERE topic = ${topic} ORDER BY seq`,
        (rows) => rows.map((row) => row.actor)
      )

    return ComponentStore.of({ putComponent, getComponent, putSpec, route, routes, routed, subscribe, unsubscribe, subscribers })
  })

/** The store over the process's `SqlClient`, its tables created if missing. */
export const layer: Layer.Layer<ComponentStore, ClusterError, SqlClient.SqlClient> = Layer.effect(
  ComponentStore,
  Effect.flatMap(SqlClient.SqlClient, make).pipe(
    Effect.mapError((error) => refuse("Storage", `cannot create the cluster's tables: ${error.message}`))
  )
)
