/**
 * The cluster-wide supervision view: every runner's hosted actors, each with the supervision tree it
 * runs under (which names the runner as its `node`), in one call from any member (`Cluster.snapshot`).
 * Re-exported by `Cluster`.
 *
 * **How each runner is asked.** effect/cluster addresses entities, not runners: a message goes to the
 * runner that holds the shard of its entity id. So each runner hosts a small `airssys/Runner` entity
 * whose `Snapshot` RPC answers with that runner's hosted actors and the shards it holds; the caller
 * knows which id falls into which shard (`Sharding.getShardId`; the probe id names its shard group), and
 * asks ids in shards no answer has covered yet, until every shard of every group in its
 * `availableShardGroups` is covered by a runner that answered, or was asked and did not answer in time
 * (`unreachable`: no live runner holds it, e.g. between a runner's death and its locks' expiry). With a
 * healthy cluster that takes a few rounds of a few requests each. A runner that holds no shard hosts no
 * actor either, and is not listed.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schema } from "effect"
import { ClusterSchema, Entity, EntityId, ShardId, Sharding, ShardingConfig } from "effect/cluster"
import { Rpc } from "effect/rpc"
import type { ChildSnapshot, SupervisorSnapshot } from "./internal/supervision.ts"
import { RunnerTree } from "./internal/cluster/runnerTree.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

const ChildExit = Schema.Struct({
  reason: Schema.Literals(["Normal", "Failure", "Defect", "Interrupted", "Shutdown", "ShutdownTimedOut"]),
  message: Schema.optionalKey(Schema.String),
  at: Schema.Number
})

const ChildSnapshotSchema: Schema.Codec<ChildSnapshot> = Schema.Struct({
  id: Schema.String,
  restartType: Schema.Literals(["Permanent", "Transient", "Temporary"]),
  state: Schema.Literals(["starting", "running", "restarting", "stopped", "failed"]),
  ownRestarts: Schema.Number,
  groupRestarts: Schema.Number,
  lastExit: Schema.optionalKey(ChildExit),
  supervisor: Schema.optionalKey(Schema.suspend((): Schema.Codec<SupervisorSnapshot> => SupervisorSnapshotSchema)),
  details: Schema.optionalKey(Schema.Record(Schema.String, Schema.Union([Schema.String, Schema.Number, Schema.Boolean])))
})

/**
 * `Supervisor.SupervisorSnapshot` as it crosses the wire.
 *
 * @since 0.1.0
 * @category models
 */
export const SupervisorSnapshotSchema: Schema.Codec<SupervisorSnapshot> = Schema.Struct({
  id: Schema.String,
  node: Schema.optionalKey(Schema.String),
  strategy: Schema.Literals(["OneForOne", "OneForAll", "RestForOne"]),
  status: Schema.Literals(["starting", "running", "stopping", "stopped", "escalated"]),
  intensity: Schema.Struct({ maxRestarts: Schema.Number, periodMillis: Schema.Number }),
  dynamic: Schema.optionalKey(Schema.Boolean),
  maxChildren: Schema.optionalKey(Schema.Number),
  stopReason: Schema.optionalKey(Schema.String),
  children: Schema.Array(ChildSnapshotSchema)
})

/**
 * One actor a runner hosts: its id, the `name@version` it runs, and the supervisor it runs under (whose
 * `node` is the runner; its one child is the actor, with its stats as `details`).
 *
 * @since 0.1.0
 * @category models
 */
export class HostedActor extends Schema.Class<HostedActor>("airssys-wasm/Cluster/HostedActor")({
  id: Schema.String,
  component: Schema.String,
  supervisor: SupervisorSnapshotSchema
}) {}

/**
 * One runner's answer: its address (`host:port`), the actors it hosts now (in activation order), and
 * the shards it holds, as `group:n` (`default:17`) for each shard group it serves.
 *
 * @since 0.1.0
 * @category models
 */
export class RunnerSnapshot extends Schema.Class<RunnerSnapshot>("airssys-wasm/Cluster/RunnerSnapshot")({
  runner: Schema.String,
  actors: Schema.Array(HostedActor),
  shards: Schema.Array(Schema.String)
}) {}

/**
 * What `Cluster.snapshot` returns: every runner that answered (by address), and the shards (`group:n`)
 * no runner answered for in time.
 *
 * @since 0.1.0
 * @category models
 */
export class Snapshot extends Schema.Class<Snapshot>("airssys-wasm/Cluster/Snapshot")({
  runners: Schema.Array(RunnerSnapshot),
  unreachable: Schema.Array(Schema.String)
}) {}

const probePrefix = "airssys-runner/"

/** A probe id names its shard group after its number: `airssys-runner/<n>/<group>`. */
const groupOfProbe = (id: string): string => {
  const slash = id.indexOf("/", probePrefix.length)
  return slash < 0 ? "default" : id.slice(slash + 1)
}

/**
 * The entity each runner answers `Snapshot` through: the id only picks the shard (and its group),
 * hence the runner.
 *
 * @since 0.1.0
 * @category models
 */
export const RunnerEntity = Entity.make("airssys/Runner", [Rpc.make("Snapshot", { success: RunnerSnapshot })])
  .annotate(ClusterSchema.ShardGroup, groupOfProbe)

// -----------------------------------------------------------------------------
// the runner's side
// -----------------------------------------------------------------------------

/**
 * The `airssys/Runner` entity on a runner, over the runner's `RunnerTree`.
 *
 * @internal
 */
export const layer = RunnerEntity.toLayer(
  Effect.gen(function*() {
    const runner = yield* Entity.CurrentRunnerAddress
    const sharding = yield* Sharding.Sharding
    const config = yield* ShardingConfig.ShardingConfig
    const tree = yield* RunnerTree
    const runnerName = `${runner.host}:${runner.port}`
    return RunnerEntity.of({
      Snapshot: () =>
        Effect.gen(function*() {
          const hosted = yield* tree.hosted
          const actors = yield* Effect.forEach(hosted, (entry) =>
            Effect.map(entry.supervisor.snapshot, (supervisor) =>
              new HostedActor({ id: entry.id, component: entry.component, supervisor })))
          const shards: Array<string> = []
          for (const group of config.assignedShardGroups) {
            for (let shard = 1; shard <= config.shardsPerGroup; shard++) {
              if (sharding.hasShardId(ShardId.make(group, shard))) shards.push(`${group}:${shard}`)
            }
          }
          return new RunnerSnapshot({ runner: runnerName, actors, shards })
        })
    })
  }),
  { disableFatalDefects: true }
)

// -----------------------------------------------------------------------------
// the caller's side
// -----------------------------------------------------------------------------

/**
 * One probe id per shard of `group` (index `shard - 1`): `airssys-runner/<n>/<group>` for the first `n`
 * that hashes into it. Computed once per group and shard count (a few thousand string hashes).
 */
const probeCache = new Map<string, ReadonlyArray<EntityId.EntityId>>()
const probeIds = (sharding: Sharding.Sharding["Service"], shardsPerGroup: number, group: string): ReadonlyArray<EntityId.EntityId> => {
  const key = `${group}/${shardsPerGroup}`
  const cached = probeCache.get(key)
  if (cached !== undefined) return cached
  const ids: Array<EntityId.EntityId | undefined> = new Array(shardsPerGroup).fill(undefined)
  let missing = shardsPerGroup
  for (let n = 0; missing > 0; n++) {
    const id = EntityId.make(`${probePrefix}${n}/${group}`)
    const shard = sharding.getShardId(id, group).id
    if (ids[shard - 1] === undefined) {
      ids[shard - 1] = id
      missing--
    }
  }
  const done = ids as ReadonlyArray<EntityId.EntityId>
  probeCache.set(key, done)
  return done
}

/**
 * The snapshot call, for `Cluster.snapshot`: asks runners through their `airssys/Runner` entity until
 * every shard is covered (see the module doc). Each request is bounded by `timeout` (default 2 s); the
 * rounds grow (1, 2, 4, … requests) and, once a request went unanswered, the next round asks every
 * shard still uncovered at once, so a dead runner costs at most two timeouts.
 *
 * @internal
 */
export const make = Effect.gen(function*() {
  const sharding = yield* Sharding.Sharding
  const config = yield* ShardingConfig.ShardingConfig
  const clientFor = yield* RunnerEntity.client
  const shardsPerGroup = config.shardsPerGroup
  // Every shard of every group the cluster has, as `group:n`, with the probe id that lands in it.
  const all = config.availableShardGroups.flatMap((group) =>
    probeIds(sharding, shardsPerGroup, group).map((id, i) => ({ key: `${group}:${i + 1}`, id }))
  )
  const known = new Set(all.map((shard) => shard.key))
  return (options?: { readonly timeout?: Duration.Input | undefined }): Effect.Effect<Snapshot> =>
    Effect.gen(function*() {
      const timeout = Duration.fromInputUnsafe(options?.timeout ?? "2 seconds")
      const covered = new Set<string>()
      const unreachable = new Set<string>()
      const runners = new Map<string, RunnerSnapshot>()
      let width = 1
      let failed = false
      while (covered.size + unreachable.size < all.length) {
        const open = all.filter((shard) => !covered.has(shard.key) && !unreachable.has(shard.key))
        // Spread over what is open: neighbouring shards are often one runner's.
        const count = failed ? open.length : Math.min(width, open.length)
        const asked = Array.from({ length: count }, (_, i) => open[Math.floor((i * open.length) / count)]!)
        const answers = yield* Effect.forEach(asked, (shard) =>
          clientFor(shard.id).Snapshot().pipe(
            Effect.timeoutOption(timeout),
            Effect.map((answer) => [shard.key, answer._tag === "Some" ? answer.value : undefined] as const),
            Effect.catch(() => Effect.succeed([shard.key, undefined] as const))
          ), { concurrency: "unbounded" })
        for (const [key, answer] of answers) {
          if (answer === undefined) {
            unreachable.add(key)
            failed = true
            continue
          }
          // The shard asked counts as covered even if it moved meanwhile: it was answered for.
          covered.add(key)
          for (const held of answer.shards) if (known.has(held)) covered.add(held)
          runners.set(answer.runner, answer)
        }
        width *= 2
      }
      for (const key of covered) unreachable.delete(key)
      return new Snapshot({
        runners: Array.from(runners.values()).sort((a, b) => a.runner < b.runner ? -1 : a.runner > b.runner ? 1 : 0),
        unreachable: Array.from(unreachable).sort()
      })
    })
})
