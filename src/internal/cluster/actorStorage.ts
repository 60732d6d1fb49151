/**
 * Durable state for cluster actors: guest memory does not move with an actor, its storage does. A
 * runner provides `Storage.layerSql` on the cluster's own database by default (every runner reads and
 * writes the same rows), and each actor it activates holds a grant on one namespace of its own, named
 * by its actor id: the id is what stays the same when the actor is activated elsewhere.
 *
 * @internal
 */
import { Effect, Layer } from "effect"
import type { SqlClient } from "effect/sql"
import * as Capability from "../../Capability.ts"
import * as Storage from "../../capability/Storage.ts"
import { type ClusterError, refuse } from "./clusterError.ts"

/** The runner's storage: on the cluster's database, its failure to start a `ClusterError` (`Storage`). */
export const layer = (options: Storage.Options | undefined): Layer.Layer<Storage.Storage, ClusterError, SqlClient.SqlClient> =>
  Storage.layerSql(options).pipe(
    Layer.catchTag("StorageError", (error) =>
      Layer.effect(Storage.Storage, Effect.fail(refuse("Storage", `cannot create the storage table: ${error.message}`))))
  )

/**
 * An actor's grants: its spec's, and `Storage` on its own id (an id that is not a storage namespace —
 * a `*`, a space, an empty `.` segment, over 255 characters — gets none).
 */
export const grantsOf = (id: string, capabilities: ReadonlyArray<Capability.Capability>): Capability.Grants =>
  Capability.makeGrants(Storage.isNamespace(id) ? [...capabilities, new Capability.Storage({ namespace: id })] : capabilities)
