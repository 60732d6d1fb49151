/**
 * What the cluster stores for each deployed version of a component, and the checks every spec passes:
 * limits that bound every call (a synchronous guest call blocks its runner's event loop, and with it the
 * shard-lock refreshes), and grants as Schema-encoded data that any runner decodes. Re-exported by
 * `Cluster`.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Option, Schema } from "effect"
import * as Capability from "./Capability.ts"
import { type ClusterError, refuse } from "./internal/cluster/clusterError.ts"
import * as Groups from "./internal/cluster/groups.ts"
import type { SpecRow } from "./internal/cluster/componentStore.ts"
import * as ResourceLimits from "./ResourceLimits.ts"
import type * as Supervisor from "./Supervisor.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * The longest call timeout an in-process cluster guest may have: no longer than the 2 s a lock refresh
 * may take with `shardingDefaults` (a third of the 6 s expiry), so a runner blocked by a guest still
 * refreshes its locks in time.
 *
 * @since 0.1.0
 * @category models
 */
export const maxBlockingTimeout: Duration.Duration = Duration.seconds(2)

/**
 * A deployed version, as every runner reads it from the database.
 *
 * @since 0.1.0
 * @category models
 */
export class Spec extends Schema.Class<Spec>("airssys-wasm/Cluster/Spec")({
  name: Schema.String,
  version: Schema.String,
  /** sha-256 of the component's bytes, hex. */
  hash: Schema.String,
  /** The runner group whose runners host it (fixed for the name once deployed). */
  group: Schema.String,
  limits: ResourceLimits.ResourceLimits,
  capabilities: Schema.Array(Capability.Capability),
  /** Passed to the guest's `lifecycle.init`. */
  config: Schema.Uint8Array,
  /**
   * How many restarts its supervisor allows within a period before it gives up (and the actor's next
   * call activates it afresh). Absent: `Supervisor.defaultIntensity`.
   */
  intensity: Schema.optional(Schema.Struct({ maxRestarts: Schema.Int, period: Schema.DurationFromMillis }))
}) {}

/**
 * What `deploy` takes.
 *
 * @since 0.1.0
 * @category models
 */
export interface DeployInput {
  readonly name: string
  readonly version: string
  readonly bytes: Uint8Array
  /** Required; see the module documentation. */
  readonly limits: ResourceLimits.ResourceLimits
  readonly capabilities?: ReadonlyArray<Capability.Capability> | undefined
  readonly config?: Uint8Array | undefined
  /**
   * The runner group that hosts its actors (default `"default"`): only runners started with that group
   * in `RunnerOptions.groups` take them. Fixed for the name once deployed: a later version in another
   * group is refused (`GroupChanged`).
   */
  readonly group?: string | undefined
  /**
   * Restarts its supervisor allows within a period (default `Supervisor.defaultIntensity`, as for a
   * `Deployment` version): past it the supervisor gives up, and the actor's next call activates it afresh.
   */
  readonly intensity?: Supervisor.Intensity | undefined
  /**
   * Route the name to this version now (default `true`). `false` deploys it on standby (unless the name
   * has no route yet): switch later with `route`.
   */
  readonly route?: boolean | undefined
}

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

/**
 * The component name an actor id belongs to: the part before the first `/`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const componentOf: (id: string) => string = Groups.componentOf

/**
 * Checks that limits bound every call (see the module documentation), as `deploy` and every runner do.
 *
 * @since 0.1.0
 * @category constructors
 */
export const checkLimits = (limits: ResourceLimits.ResourceLimits): Effect.Effect<ResourceLimits.Resolved, ClusterError> => {
  const resolved = ResourceLimits.resolve(limits)
  const problems: Array<string> = []
  if (limits.timeout === undefined || !Duration.isFinite(resolved.timeout)) problems.push("a finite `timeout`")
  if (resolved.isolation === "in-process") {
    if (limits.fuel === undefined || !Number.isFinite(resolved.fuel)) problems.push("a finite `fuel` (or `isolation: \"worker\"`)")
    if (Duration.isFinite(resolved.timeout) && Duration.isGreaterThan(resolved.timeout, maxBlockingTimeout)) {
      problems.push(`a \`timeout\` of at most ${Duration.format(maxBlockingTimeout)} in-process (or \`isolation: "worker"\`)`)
    }
  }
  if (!Number.isFinite(resolved.memoryBytes)) problems.push("a finite `memoryBytes`")
  return problems.length === 0
    ? Effect.succeed(resolved)
    : Effect.fail(refuse("LimitsRequired", `a cluster guest needs ${problems.join(", ")}: a call must not block its runner for long`))
}

const encodeLimits = Schema.encodeEffect(Schema.fromJsonString(ResourceLimits.ResourceLimits))
const decodeLimits = Schema.decodeEffect(Schema.fromJsonString(ResourceLimits.ResourceLimits))

const decodeGrants = Schema.decodeEffect(Schema.fromJsonString(Schema.Unknown))

const IntensityJson = Schema.fromJsonString(Schema.Struct({ maxRestarts: Schema.Int, periodMillis: Schema.Finite }))
const encodeIntensity = Schema.encodeEffect(IntensityJson)
const decodeIntensity = Schema.decodeEffect(IntensityJson)

/** The intensity as stored: JSON with the period in milliseconds, or `""` for the default. */
const intensityText = (intensity: Supervisor.Intensity | undefined): Effect.Effect<string, ClusterError> => {
  if (intensity === undefined) return Effect.succeed("")
  const period = Option.getOrUndefined(Duration.fromInput(intensity.period))
  if (period === undefined || !Duration.isFinite(period) || !Number.isInteger(intensity.maxRestarts) || intensity.maxRestarts < 0) {
    return Effect.fail(refuse("InvalidSpec", "`intensity` needs a whole `maxRestarts` of 0 or more and a finite `period`"))
  }
  return Effect.mapError(
    encodeIntensity({ maxRestarts: intensity.maxRestarts, periodMillis: Duration.toMillis(period) }),
    (error) => refuse("InvalidSpec", error.message)
  )
}

/** The row `deploy` stores for a spec whose bytes are stored under `hash`. @internal */
export const toRow = (input: DeployInput, hash: string): Effect.Effect<SpecRow, ClusterError> =>
  Effect.zipWith(
    Effect.mapError(encodeLimits(input.limits), (error) => refuse("InvalidSpec", error.message)),
    intensityText(input.intensity),
    (limits, intensity) => ({
      name: input.name,
      version: input.version,
      hash,
      group: input.group ?? "default",
      limits,
      grants: JSON.stringify(Capability.encode(input.capabilities ?? [])),
      config: input.config ?? new Uint8Array(),
      intensity
    })
  )

/** A stored row as the spec it encodes; a row that does not decode is `InvalidSpec`, never run. @internal */
export const fromRow = (row: SpecRow): Effect.Effect<Spec, ClusterError> =>
  Effect.gen(function*() {
    const limits = yield* decodeLimits(row.limits)
    const capabilities = yield* Capability.decode(yield* decodeGrants(row.grants))
    const intensity = row.intensity === "" ? undefined : yield* decodeIntensity(row.intensity)
    return new Spec({
      name: row.name,
      version: row.version,
      hash: row.hash,
      group: row.group,
      limits,
      capabilities,
      config: row.config,
      ...(intensity === undefined ? {} : { intensity: { maxRestarts: intensity.maxRestarts, period: Duration.millis(intensity.periodMillis) } })
    })
  }).pipe(Effect.catch((error) => Effect.fail(refuse("InvalidSpec", `the spec of ${row.name}@${row.version} does not decode: ${error.message}`))))
