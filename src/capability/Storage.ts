/**
 * The `airssys:component/storage` host interface: key-value namespaces, gated by `Storage(namespace)`
 * grants, with a per-component quota.
 *
 * A guest names the namespace on every call; the Linker checks it against the component's grants
 * (usually `Storage({ namespace: <its id> })`) before the store is touched, so another component's
 * namespace is an audited `err`, never a read. Writes count against the writing component's quota:
 * the bytes (UTF-8 key plus value) of every entry it wrote last. A write that would take it past its
 * quota fails with `StorageError` (`QuotaExceeded`), audited as denied, and writes nothing; a write
 * that does not grow its usage always passes, so a component over a lowered quota can still shrink.
 *
 * Layers: `layer` persists in SQLite through Node's built-in `node:sqlite`, synchronously (a guest's
 * call runs to its end in one host call, with no JSPI: what an in-process host wants), `layerMemory`
 * keeps entries in a `Map` for tests, `layerDeny` refuses everything; one process writes a given
 * database file. `layerSql` keeps them in the database of an effect `SqlClient` (SQLite, PostgreSQL:
 * the cluster's, shared by every runner) and waits for it asynchronously: it adds the storage functions
 * to `Component.SuspendingImports`, so guests loaded where it is provided suspend on their storage
 * calls (JSPI) instead of blocking the event loop, each call bounded by the guest call's timeout.
 *
 * @since 0.1.0
 */
import { Config, Context, Effect, Layer, Schema, type Scope } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { DatabaseSync } from "node:sqlite"
import type * as Capability from "../Capability.ts"
import * as Component from "../Component.ts"
import { HostRefusal } from "../ComponentError.ts"
import * as Linker from "../Linker.ts"
import * as ResourceLimits from "../ResourceLimits.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * The WIT interface this module implements.
 *
 * @since 0.1.0
 * @category models
 */
export const interfaceName = "airssys:component/storage"

/**
 * Bytes a component may hold when no quota is configured: 1 MiB.
 *
 * @since 0.1.0
 * @category models
 */
export const defaultQuota = 1024 * 1024

/**
 * Keys are 1 to `maxKeyLength` bytes of UTF-8.
 *
 * @since 0.1.0
 * @category models
 */
export const maxKeyLength = 1024

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Bytes (UTF-8 keys plus values) a component may hold: one number, or one per component id. */
  readonly quota?: number | ((component: string) => number) | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface SqliteOptions extends Options {
  /** The database file (created if missing), or `:memory:`. */
  readonly filename: string
}

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * Why a storage operation failed.
 *
 * - `QuotaExceeded`: the write would take the component past its quota; nothing was written.
 * - `InvalidNamespace`: empty, over 255 characters, not printable ASCII, `*`, or an empty segment.
 * - `InvalidKey`: empty, or over `maxKeyLength` bytes.
 * - `Denied`: the host provides no storage (`layerDeny`).
 * - `Unavailable`: the database failed (cannot open, disk full, locked).
 *
 * @since 0.1.0
 * @category models
 */
export const StorageFailure = Schema.Literals(["QuotaExceeded", "InvalidNamespace", "InvalidKey", "Denied", "Unavailable"])

/**
 * @since 0.1.0
 * @category models
 */
export type StorageFailure = typeof StorageFailure.Type

/**
 * @since 0.1.0
 * @category errors
 */
export class StorageError extends Schema.TaggedError<StorageError>()("StorageError", {
  reason: StorageFailure,
  namespace: Schema.optionalKey(Schema.String),
  key: Schema.optionalKey(Schema.String),
  message: Schema.String
}) {}

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------

/**
 * Key-value namespaces. No capability checks here: the Linker checks a guest's grants before it
 * calls these; host code calls them directly.
 *
 * @since 0.1.0
 * @category services
 */
export class Storage extends Context.Service<Storage, {
  readonly get: (namespace: string, key: string) => Effect.Effect<Uint8Array | undefined, StorageError>
  /** Stores `value` under `key`, counted against `component`'s quota. */
  readonly set: (component: string, namespace: string, key: string, value: Uint8Array) => Effect.Effect<void, StorageError>
  /** Whether there was an entry to remove. */
  readonly delete: (namespace: string, key: string) => Effect.Effect<boolean, StorageError>
  /** The namespace's keys, sorted. */
  readonly keys: (namespace: string) => Effect.Effect<ReadonlyArray<string>, StorageError>
  /** Bytes held by the entries `component` wrote last. */
  readonly usage: (component: string) => Effect.Effect<number, StorageError>
  /**
   * Whether operations may wait (I/O to a database server): guests must then have the storage imports
   * lowered as suspending (`Component.SuspendingImports`), or they do not link. Unset: synchronous.
   */
  readonly suspends?: boolean | undefined
}>()("airssys-wasm/Storage") {}

/**
 * The storage functions as `Component.SuspendingImports` names them: what `layerSql` adds there.
 *
 * @since 0.1.0
 * @category models
 */
export const suspendingFunctions: ReadonlyArray<string> = ["get", "set", "delete", "list-keys"].map((fn) => `${interfaceName}#${fn}`)

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/** What a backend stores per entry besides the value: who wrote it last and what it counts for. */
interface Row {
  readonly owner: string
  readonly size: number
}

/** A backend: plain synchronous operations, wrapped into `Storage` (validation, quota) by `fromTable`. */
interface Table {
  readonly get: (namespace: string, key: string) => Uint8Array | undefined
  readonly row: (namespace: string, key: string) => Row | undefined
  readonly put: (namespace: string, key: string, value: Uint8Array, row: Row) => void
  readonly remove: (namespace: string, key: string) => void
  readonly keys: (namespace: string) => ReadonlyArray<string>
  readonly usage: (owner: string) => number
}

const encoder = new TextEncoder()
const namespaceSyntax = /^[\x21-\x29\x2b-\x7e]{1,255}$/

const invalidNamespace = (namespace: string): StorageError | undefined =>
  namespaceSyntax.test(namespace) && !namespace.split(".").includes("")
    ? undefined
    : new StorageError({
      reason: "InvalidNamespace",
      namespace,
      message: `invalid storage namespace ${JSON.stringify(namespace.slice(0, 64))}: ` +
        `1 to 255 printable ASCII characters, no "*", no empty segments`
    })

/**
 * Whether `name` is a valid namespace: 1 to 255 printable ASCII characters, no `*`, no empty
 * `.`-separated segment.
 *
 * @since 0.1.0
 * @category constructors
 */
export const isNamespace = (name: string): boolean => invalidNamespace(name) === undefined

const invalidKey = (namespace: string, key: string, length: number): StorageError | undefined =>
  length >= 1 && length <= maxKeyLength ? undefined : new StorageError({
    reason: "InvalidKey",
    namespace,
    key: key.slice(0, 64),
    message: `invalid storage key: must be 1 to ${maxKeyLength} bytes of UTF-8, got ${length}`
  })

const unavailable = (namespace: string | undefined, cause: unknown): StorageError =>
  new StorageError({
    reason: "Unavailable",
    ...(namespace === undefined ? {} : { namespace }),
    message: `storage unavailable: ${cause instanceof Error ? cause.message : String(cause)}`
  })

// Runs a backend operation; a thrown exception (the database failed) is `Unavailable`, a returned
// `StorageError` (validation, quota) is that error.
const attempt = <A>(namespace: string | undefined, operation: () => A | StorageError): Effect.Effect<A, StorageError> =>
  Effect.flatMap(
    Effect.try({ try: operation, catch: (cause) => unavailable(namespace, cause) }),
    (result) => result instanceof StorageError ? Effect.fail(result) : Effect.succeed(result)
  )

const fromTable = (table: Table, options: Options | undefined): Storage["Service"] => {
  const quota = options?.quota
  const quotaOf = typeof quota === "function" ? quota : () => quota ?? defaultQuota
  // Usage per component, read from the table on first use and kept up to date by this process.
  const usages = new Map<string, number>()
  const usageOf = (component: string): number => {
    let usage = usages.get(component)
    if (usage === undefined) usages.set(component, usage = table.usage(component))
    return usage
  }
  const release = (row: Row): void => {
    const usage = usages.get(row.owner)
    if (usage !== undefined) usages.set(row.owner, usage - row.size)
  }
  return Storage.of({
    get: (namespace, key) =>
      attempt(namespace, () => invalidNamespace(namespace) ?? table.get(namespace, key)),
    set: (component, namespace, key, value) =>
      attempt(namespace, () => {
        const size = encoder.encode(key).byteLength
        const invalid = invalidNamespace(namespace) ?? invalidKey(namespace, key, size)
        if (invalid !== undefined) return invalid
        const entrySize = size + value.byteLength
        const previous = table.row(namespace, key)
        const current = usageOf(component)
        const next = current - (previous?.owner === component ? previous.size : 0) + entrySize
        const limit = quotaOf(component)
        if (next > limit && next > current) {
          return new StorageError({
            reason: "QuotaExceeded",
            namespace,
            key: key.slice(0, 64),
            message: `storage quota exceeded: ${component} would hold ${next} bytes, its quota is ${limit}`
          })
        }
        table.put(namespace, key, value.slice(), { owner: component, size: entrySize })
        if (previous !== undefined && previous.owner !== component) release(previous)
        usages.set(component, next)
        return undefined
      }),
    delete: (namespace, key) =>
      attempt(namespace, () => {
        const invalid = invalidNamespace(namespace)
        if (invalid !== undefined) return invalid
        const previous = table.row(namespace, key)
        if (previous === undefined) return false
        table.remove(namespace, key)
        release(previous)
        return true
      }),
    keys: (namespace) => attempt(namespace, () => invalidNamespace(namespace) ?? table.keys(namespace)),
    usage: (component) => attempt(undefined, () => usageOf(component))
  })
}

interface MemoryEntry extends Row {
  readonly value: Uint8Array
}

const memoryTable = (): Table => {
  const namespaces = new Map<string, Map<string, MemoryEntry>>()
  return {
    get: (namespace, key) => namespaces.get(namespace)?.get(key)?.value.slice(),
    row: (namespace, key) => namespaces.get(namespace)?.get(key),
    put: (namespace, key, value, row) => {
      let entries = namespaces.get(namespace)
      if (entries === undefined) namespaces.set(namespace, entries = new Map())
      entries.set(key, { value, owner: row.owner, size: row.size })
    },
    remove: (namespace, key) => {
      const entries = namespaces.get(namespace)
      entries?.delete(key)
      if (entries?.size === 0) namespaces.delete(namespace)
    },
    keys: (namespace) => Array.from(namespaces.get(namespace)?.keys() ?? []).sort(),
    usage: (owner) => {
      let total = 0
      for (const entries of namespaces.values()) {
        for (const entry of entries.values()) if (entry.owner === owner) total += entry.size
      }
      return total
    }
  }
}

const schema = `
CREATE TABLE IF NOT EXISTS airssys_storage (
  namespace TEXT NOT NULL,
  key TEXT NOT NULL,
  value BLOB NOT NULL,
  owner TEXT NOT NULL,
  size INTEGER NOT NULL,
  PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS airssys_storage_owner ON airssys_storage (owner);
`

const sqliteTable = (db: DatabaseSync): Table => {
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
  db.exec(schema)
  const get = db.prepare("SELECT value FROM airssys_storage WHERE namespace = ? AND key = ?")
  const row = db.prepare("SELECT owner, size FROM airssys_storage WHERE namespace = ? AND key = ?")
  const put = db.prepare(
    "INSERT INTO airssys_storage (namespace, key, value, owner, size) VALUES (?, ?, ?, ?, ?) " +
      "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, owner = excluded.owner, size = excluded.size"
  )
  const remove = db.prepare("DELETE FROM airssys_storage WHERE namespace = ? AND key = ?")
  const keys = db.prepare("SELECT key FROM airssys_storage WHERE namespace = ? ORDER BY key")
  const usage = db.prepare("SELECT COALESCE(SUM(size), 0) AS total FROM airssys_storage WHERE owner = ?")
  return {
    get: (namespace, key) => (get.get(namespace, key) as { value: Uint8Array } | undefined)?.value,
    row: (namespace, key) => row.get(namespace, key) as Row | undefined,
    put: (namespace, key, value, entry) => void put.run(namespace, key, value, entry.owner, entry.size),
    remove: (namespace, key) => void remove.run(namespace, key),
    keys: (namespace) => (keys.all(namespace) as Array<{ key: string }>).map((entry) => entry.key),
    usage: (owner) => Number((usage.get(owner) as { total: number | bigint }).total)
  }
}

/**
 * A `Storage` in a SQLite database, opened now and closed with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSqlite = (options: SqliteOptions): Effect.Effect<Storage["Service"], StorageError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => new DatabaseSync(options.filename),
      catch: (cause) => unavailable(undefined, cause)
    }),
    (db) => Effect.sync(() => db.close())
  ).pipe(
    Effect.flatMap((db) =>
      Effect.try({ try: () => fromTable(sqliteTable(db), options), catch: (cause) => unavailable(undefined, cause) })
    )
  )

/**
 * A `Storage` in memory.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory = (options?: Options): Storage["Service"] => fromTable(memoryTable(), options)

// Postgres answers a `bytea` as a Buffer, SQLite a Uint8Array: callers get a copy they own either way.
const ownBytes = (value: unknown): Uint8Array => value instanceof Uint8Array ? new Uint8Array(value) : new Uint8Array()

/**
 * A `Storage` in the database of the `SqlClient` in the environment, in the same table as `makeSqlite`
 * (created if missing). Every operation is one query, or one transaction for `set`: several processes
 * may share the database (cluster runners do), and usage is read from it, never cached. On PostgreSQL
 * a `set` takes a transaction-scoped advisory lock on its writer, so two concurrent writes for one
 * component cannot both pass its quota.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeSql = (options?: Options): Effect.Effect<Storage["Service"], StorageError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const fail = (namespace: string | undefined) => (error: SqlError.SqlError | StorageError): StorageError =>
      error instanceof StorageError ? error : unavailable(namespace, error)
    const blob = sql.onDialectOrElse({ pg: () => "BYTEA", orElse: () => "BLOB" })
    const rowid = sql.onDialectOrElse({ pg: () => "", orElse: () => " WITHOUT ROWID" })
    yield* Effect.mapError(
      Effect.andThen(
        sql.unsafe(
          `CREATE TABLE IF NOT EXISTS airssys_storage (namespace TEXT NOT NULL, key TEXT NOT NULL, value ${blob} NOT NULL, ` +
            `owner TEXT NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (namespace, key))${rowid}`
        ),
        sql.unsafe("CREATE INDEX IF NOT EXISTS airssys_storage_owner ON airssys_storage (owner)")
      ),
      fail(undefined)
    )
    const quota = options?.quota
    const quotaOf = typeof quota === "function" ? quota : () => quota ?? defaultQuota
    const pg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
    // Keys sorted by their bytes, as SQLite's BINARY collation does.
    const byKey = pg ? `key COLLATE "C"` : "key"
    const usageOf = (owner: string) =>
      Effect.map(
        sql<{ total: unknown }>`SELECT COALESCE(SUM(size), 0) AS total FROM airssys_storage WHERE owner = ${owner}`,
        (rows) => Number(rows[0]?.total ?? 0)
      )

    const set = (component: string, namespace: string, key: string, value: Uint8Array) =>
      Effect.suspend(() => {
        const size = encoder.encode(key).byteLength
        const invalid = invalidNamespace(namespace) ?? invalidKey(namespace, key, size)
        if (invalid !== undefined) return Effect.fail(invalid)
        const entrySize = size + value.byteLength
        const stored = value.slice()
        return sql.withTransaction(Effect.gen(function*() {
          if (pg) yield* sql`SELECT pg_advisory_xact_lock(hashtext(${component}))`
          const previous = (yield* sql<{ owner: string; size: unknown }>`
            SELECT owner, size FROM airssys_storage WHERE namespace = ${namespace} AND key = ${key}`)[0]
          const current = yield* usageOf(component)
          const next = current - (previous?.owner === component ? Number(previous.size) : 0) + entrySize
          const limit = quotaOf(component)
          if (next > limit && next > current) {
            return yield* new StorageError({
              reason: "QuotaExceeded",
              namespace,
              key: key.slice(0, 64),
              message: `storage quota exceeded: ${component} would hold ${next} bytes, its quota is ${limit}`
            })
          }
          yield* sql`INSERT INTO airssys_storage (namespace, key, value, owner, size)
            VALUES (${namespace}, ${key}, ${stored}, ${component}, ${entrySize})
            ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, owner = excluded.owner, size = excluded.size`
        })).pipe(Effect.mapError(fail(namespace)))
      })

    return Storage.of({
      get: (namespace, key) => {
        const invalid = invalidNamespace(namespace)
        if (invalid !== undefined) return Effect.fail(invalid)
        return Effect.mapBoth(
          sql<{ value: unknown }>`SELECT value FROM airssys_storage WHERE namespace = ${namespace} AND key = ${key}`,
          { onFailure: fail(namespace), onSuccess: (rows) => rows.length === 0 ? undefined : ownBytes(rows[0]!.value) }
        )
      },
      set,
      delete: (namespace, key) => {
        const invalid = invalidNamespace(namespace)
        if (invalid !== undefined) return Effect.fail(invalid)
        return Effect.mapBoth(
          sql<{ key: string }>`DELETE FROM airssys_storage WHERE namespace = ${namespace} AND key = ${key} RETURNING key`,
          { onFailure: fail(namespace), onSuccess: (rows) => rows.length > 0 }
        )
      },
      keys: (namespace) => {
        const invalid = invalidNamespace(namespace)
        if (invalid !== undefined) return Effect.fail(invalid)
        return Effect.mapBoth(
          sql<{ key: string }>`SELECT key FROM airssys_storage WHERE namespace = ${namespace} ORDER BY ${sql.literal(byKey)}`,
          { onFailure: fail(namespace), onSuccess: (rows) => rows.map((row) => row.key) }
        )
      },
      usage: (component) => Effect.mapError(usageOf(component), fail(undefined)),
      suspends: true
    })
  })

const denied = (namespace: string): Effect.Effect<never, StorageError> =>
  Effect.fail(new StorageError({ reason: "Denied", namespace, message: "storage is not available on this host" }))

// -----------------------------------------------------------------------------
// host interface
// -----------------------------------------------------------------------------

const request = (namespace: string): Capability.Request => ({ _tag: "Storage", namespace })

// A quota or a host without storage is a decision (audited as denied); anything else is an error.
const toRefusal = <A>(effect: Effect.Effect<A, StorageError>): Effect.Effect<A, HostRefusal | Linker.Refused> =>
  Effect.mapError(effect, (error) =>
    error.reason === "QuotaExceeded" || error.reason === "Denied"
      ? new Linker.Refused({ reason: error.reason, message: error.message })
      : new HostRefusal({ payload: error.message }))

/**
 * How the Linker links `airssys:component/storage` to the `Storage` service: every call is checked
 * as `Storage(namespace)`, for the namespace the guest names.
 *
 * @since 0.1.0
 * @category models
 */
export const hostInterface: Linker.HostInterface<Storage> = Linker.hostInterface({
  name: interfaceName,
  capability: "Storage",
  make: Effect.gen(function*() {
    const storage = yield* Storage
    const suspends = storage.suspends === true
    return (target) => ({
      get: { request, suspends, run: (namespace: string, key: string) => toRefusal(storage.get(namespace, key)) },
      set: {
        request,
        suspends,
        run: (namespace: string, key: string, value: Uint8Array) =>
          toRefusal(storage.set(target.componentId, namespace, key, value))
      },
      delete: { request, suspends, run: (namespace: string, key: string) => toRefusal(Effect.asVoid(storage.delete(namespace, key))) },
      listKeys: { request, suspends, run: (namespace: string) => toRefusal(storage.keys(namespace)) }
    })
  })
})

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * Storage persisted in a SQLite database file (`node:sqlite`), closed with the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: SqliteOptions): Layer.Layer<Storage, StorageError> =>
  Layer.effect(Storage, makeSqlite(options))

/**
 * The SQLite storage's options read from configuration:
 *
 * - `STORAGE_FILENAME` (required): the database file (created if missing), or `:memory:`;
 * - `STORAGE_QUOTA`: bytes per component, a number or text such as `"1 MiB"`, `"unlimited"` (default 1 MiB).
 *
 * With `ConfigProvider.fromUnknown` the names are paths: `{ STORAGE: { FILENAME: "state.db" } }`.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<SqliteOptions> = Config.all({
  filename: Config.NonEmptyString("FILENAME"),
  quota: Config.schema(ResourceLimits.Bytes, "QUOTA").pipe(Config.withDefault(defaultQuota))
}).pipe(Config.nested("STORAGE"))

/**
 * Storage persisted in SQLite, its options read from configuration: `config` (the `STORAGE_*` names)
 * unless another `Config` (or record of them) is given. A missing `STORAGE_FILENAME` or an invalid value
 * fails the layer with a `ConfigError`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Wrap<SqliteOptions> = config
): Layer.Layer<Storage, StorageError | Config.ConfigError> =>
  Layer.effect(Storage, Effect.flatMap(Config.unwrap(options), makeSqlite))

/**
 * Storage in the database of the `SqlClient` in the environment (`makeSql`): `@effect/sql-sqlite-node`,
 * `@effect/sql-pg`, or any other effect SQL driver. Its operations wait for the database, so it adds
 * `suspendingFunctions` to `Component.SuspendingImports` in what it provides: components loaded there
 * (`Component.fromBytes`) suspend on their storage calls — the event loop serves others meanwhile — and
 * each call ends with the guest call's timeout (`LimitExceeded`) when the database does not answer. A
 * component loaded elsewhere, with synchronous storage imports, does not link against it (`LinkError`).
 * Cluster runners provide it on the cluster's own database by default (`Cluster.layerRunner`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSql = (options?: Options): Layer.Layer<Storage, StorageError, SqlClient.SqlClient> =>
  Layer.effectContext(Effect.gen(function*() {
    const storage = yield* makeSql(options)
    const suspending = yield* Component.SuspendingImports
    return Context.make(Storage, storage).pipe(
      Context.add(Component.SuspendingImports, [...suspending, ...suspendingFunctions])
    )
  }))

/**
 * Storage in memory, for tests.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options?: Options): Layer.Layer<Storage> =>
  Layer.effect(Storage, Effect.sync(() => makeMemory(options)))

/**
 * No storage: every operation fails with `Denied`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDeny: Layer.Layer<Storage> = Layer.succeed(
  Storage,
  Storage.of({
    get: (namespace) => denied(namespace),
    set: (_component, namespace) => denied(namespace),
    delete: (namespace) => denied(namespace),
    keys: (namespace) => denied(namespace),
    usage: () => Effect.succeed(0)
  })
)
