/**
 * Runner groups, on effect/cluster's shard groups: each deployed name is pinned to one group, and only
 * the runners that serve a group take its shards.
 *
 * **Shard group names.** effect/cluster numbers a shard's PostgreSQL advisory lock by the position of
 * its group in the runner's sorted `availableShardGroups`, so two runners whose lists sort a group to
 * different places would lock the same shard under two numbers (and both host it). Our groups are
 * therefore registered once, append-only, in `airssys_groups` with a sequence number, and each group's
 * shard group is named after it (`g000001-files`): names sort in registration order, after `default`,
 * so a group registered later never moves an earlier one. A runner's list is `default` and every group
 * registered when it starts: the same prefix on every member, whatever each one serves. `default` stays
 * `default`: effect/cluster runs its own singletons (the runner health check) there.
 *
 * **The view.** The entity's `ShardGroup` annotation is a synchronous function of the entity id, so
 * each member keeps the name → shard group map it has needed, read from the database on a miss before
 * the call is sent (`ensure`). A name's group never changes once deployed (`pin` refuses another), so a
 * cached entry is never wrong. One view per `Cluster` layer: two layers in one process never share one.
 *
 * @internal
 */
import { Context, Effect, Layer, type Scope } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { type ClusterError, refuse } from "./clusterError.ts"

/** The component name an actor id belongs to: the part before the first `/` (`Cluster.componentOf`). */
export const componentOf = (id: string): string => {
  const slash = id.indexOf("/")
  return slash === -1 ? id : id.slice(0, slash)
}

/** The group of a name deployed without one, and every runner's unless told otherwise. */
export const defaultGroup = "default"

const validName = /^[a-z0-9][a-z0-9_-]{0,62}$/

/** A group name: lowercase letters, digits, `-` and `_`, at most 63 characters. */
export const checkGroup = (group: string, what: string): Effect.Effect<string, ClusterError> =>
  validName.test(group)
    ? Effect.succeed(group)
    : Effect.fail(refuse("InvalidSpec", `${what}: ${JSON.stringify(group)} is not a group name (lowercase letters, digits, - and _; at most 63)`))

/** effect/cluster's shard group for our group registered as number `seq`. */
const shardGroup = (group: string, seq: number): string =>
  group === defaultGroup ? defaultGroup : `g${String(seq).padStart(6, "0")}-${group}`

const storage = (error: SqlError.SqlError) => refuse("Storage", error.message)

/** Our tables for groups: the registry, each name's group, and what each runner can host. */
const createTables = (sql: SqlClient.SqlClient) =>
  Effect.all([
    sql`CREATE TABLE IF NOT EXISTS airssys_groups (seq INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)`,
    sql`CREATE TABLE IF NOT EXISTS airssys_names (name TEXT PRIMARY KEY, grp TEXT NOT NULL)`,
    sql`CREATE TABLE IF NOT EXISTS airssys_runners (address TEXT PRIMARY KEY, groups TEXT NOT NULL, interfaces TEXT NOT NULL)`
  ], { discard: true })

const seqOf = (sql: SqlClient.SqlClient, group: string) =>
  Effect.map(sql<{ seq: number }>`SELECT seq FROM airssys_groups WHERE name = ${group}`, (rows) =>
    rows.length === 0 ? undefined : Number(rows[0]!.seq))

/**
 * Registers `group` (append-only) and answers its shard group. The next number is taken with the
 * insert; a member registering another group at the same moment takes it first, and this one retries.
 */
const register = (sql: SqlClient.SqlClient, group: string): Effect.Effect<string, SqlError.SqlError | ClusterError> =>
  Effect.gen(function*() {
    if (group === defaultGroup) return defaultGroup
    for (let attempt = 0; attempt < 20; attempt++) {
      const seq = yield* seqOf(sql, group)
      if (seq !== undefined) return shardGroup(group, seq)
      // `WHERE true`: SQLite's parser needs it between a SELECT and its ON CONFLICT.
      yield* sql`INSERT INTO airssys_groups (seq, name)
        SELECT COALESCE(MAX(seq), 0) + 1, ${group} FROM airssys_groups WHERE true ON CONFLICT DO NOTHING`
    }
    return yield* refuse("Storage", `group ${JSON.stringify(group)} could not be registered: 20 others were registered meanwhile`)
  })

/**
 * `default` and the shard groups of every group registered so far: a client's `availableShardGroups`
 * (what `Cluster.snapshot` asks about; a client takes no shard lock).
 */
export const knownShardGroups: Effect.Effect<ReadonlyArray<string>, ClusterError, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* createTables(sql)
  const rows = yield* sql<{ seq: number; name: string }>`SELECT seq, name FROM airssys_groups ORDER BY seq`
  return [defaultGroup, ...rows.map((row) => shardGroup(row.name, Number(row.seq)))]
}).pipe(Effect.catchTag("SqlError", (error) => Effect.fail(storage(error))))

/**
 * A runner's `availableShardGroups` and `assignedShardGroups`: its own groups registered first, then
 * `default` and every group registered so far (see the module documentation).
 */
export const runnerShardGroups = (groups: ReadonlyArray<string>): Effect.Effect<
  { readonly available: ReadonlyArray<string>; readonly assigned: ReadonlyArray<string> },
  ClusterError,
  SqlClient.SqlClient
> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (const group of groups) yield* checkGroup(group, "a runner's groups")
    yield* createTables(sql)
    const assigned = yield* Effect.forEach(groups, (group) => register(sql, group))
    return { available: yield* knownShardGroups, assigned }
  }).pipe(Effect.catchTag("SqlError", (error) => Effect.fail(storage(error))))

/** What a runner says it can host, in `airssys_runners`. */
export interface Advert {
  readonly address: string
  readonly groups: ReadonlyArray<string>
  /** The host interfaces its `Linker` links, unversioned. */
  readonly interfaces: ReadonlyArray<string>
}

export class Groups extends Context.Service<Groups, {
  /** effect/cluster's shard group for an entity id: its name's, once the view knows it (`default` until then). */
  readonly shardGroupOf: (entityId: string) => string
  /**
   * Makes sure the view knows the group of the id's name, reading the database on a miss:
   * `UnknownComponent` when nothing is deployed under that name.
   */
  readonly ensure: (entityId: string) => Effect.Effect<void, ClusterError>
  /**
   * Pins `name` to `group` and runs `store` in the same transaction: `GroupChanged` (and nothing
   * stored) when the name is already pinned to another group.
   */
  readonly pin: <A>(name: string, group: string, store: Effect.Effect<A, ClusterError>) => Effect.Effect<A, ClusterError>
  /** Every runner's advertisement. */
  readonly runners: Effect.Effect<ReadonlyArray<Advert>, ClusterError>
  /** Advertises a runner (replacing what it said before), until the scope closes. */
  readonly advertise: (advert: Advert) => Effect.Effect<void, ClusterError, Scope.Scope>
}>()("airssys-wasm/Cluster/Groups") {}

const parseList = (json: string): ReadonlyArray<string> => {
  const value: unknown = JSON.parse(json)
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : []
}

export const layer: Layer.Layer<Groups, ClusterError, SqlClient.SqlClient> = Layer.effect(
  Groups,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* Effect.mapError(createTables(sql), storage)
    const shardGroups = new Map<string, string>()

    const learn = (name: string, entityId: string): Effect.Effect<void, ClusterError> =>
      Effect.gen(function*() {
        const rows = yield* sql<{ grp: string }>`SELECT grp FROM airssys_names WHERE name = ${name}`
        const group = rows[0]?.grp
        if (group === undefined) {
          return yield* refuse("UnknownComponent", `no component is deployed as ${JSON.stringify(name)} (for ${entityId})`)
        }
        // Registered already, by the deploy that pinned the name: this reads its number.
        shardGroups.set(name, yield* register(sql, group))
      }).pipe(Effect.catchTag("SqlError", (error) => Effect.fail(storage(error))))

    // Every call goes through here: a known name costs a map lookup.
    const ensure = (entityId: string): Effect.Effect<void, ClusterError> => {
      const name = componentOf(entityId)
      return shardGroups.has(name) ? Effect.void : learn(name, entityId)
    }

    const pin = <A>(name: string, group: string, store: Effect.Effect<A, ClusterError>): Effect.Effect<A, ClusterError> => {
      const pinned = Effect.gen(function*() {
        yield* sql`INSERT INTO airssys_names (name, grp) VALUES (${name}, ${group}) ON CONFLICT (name) DO NOTHING`
        const rows = yield* sql<{ grp: string }>`SELECT grp FROM airssys_names WHERE name = ${name}`
        return rows[0]?.grp
      })
      return Effect.gen(function*() {
        yield* register(sql, group)
        return yield* sql.withTransaction(Effect.gen(function*() {
          const current = yield* Effect.mapError(pinned, storage)
          if (current !== undefined && current !== group) {
            return yield* refuse(
              "GroupChanged",
              `${JSON.stringify(name)} runs in group ${JSON.stringify(current)}: a name's group is fixed once deployed (deploy it under another name)`
            )
          }
          return yield* store
        }))
      }).pipe(Effect.catchTag("SqlError", (error) => Effect.fail(storage(error))))
    }

    const runners = sql<{ address: string; groups: string; interfaces: string }>`SELECT address, groups, interfaces FROM airssys_runners ORDER BY address`.pipe(
      Effect.map((rows) => rows.map((row): Advert => ({ address: row.address, groups: parseList(row.groups), interfaces: parseList(row.interfaces) }))),
      Effect.mapError(storage)
    )

    const advertise = (advert: Advert) =>
      Effect.acquireRelease(
        Effect.mapError(
          sql`INSERT INTO airssys_runners (address, groups, interfaces)
              VALUES (${advert.address}, ${JSON.stringify(advert.groups)}, ${JSON.stringify(advert.interfaces)})
              ON CONFLICT (address) DO UPDATE SET groups = excluded.groups, interfaces = excluded.interfaces`,
          storage
        ),
        () => Effect.ignore(sql`DELETE FROM airssys_runners WHERE address = ${advert.address}`)
      ).pipe(Effect.asVoid)

    return Groups.of({
      shardGroupOf: (entityId) => shardGroups.get(componentOf(entityId)) ?? defaultGroup,
      ensure,
      pin,
      runners,
      advertise
    })
  })
)
