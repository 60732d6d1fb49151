/**
 * What a runner hosts now: each activated component actor with the supervisor it runs under, added by
 * the activation and removed when the activation's scope closes (the actor passivated, moved, switched
 * version or stopped for good). What the runner's `Snapshot` RPC reads (see `ClusterSnapshot`).
 *
 * @internal
 */
import { Context, Effect, Layer, type Scope } from "effect"
import type { SupervisorRef } from "../../Supervisor.ts"

export interface Hosted {
  readonly id: string
  /** `name@version` of the spec it runs. */
  readonly component: string
  readonly supervisor: SupervisorRef
}

export class RunnerTree extends Context.Service<RunnerTree, {
  /** Lists the actor while the scope is open. */
  readonly add: (hosted: Hosted) => Effect.Effect<void, never, Scope.Scope>
  /** In activation order. */
  readonly hosted: Effect.Effect<ReadonlyArray<Hosted>>
}>()("airssys-wasm/Cluster/RunnerTree") {}

export const layer: Layer.Layer<RunnerTree> = Layer.sync(RunnerTree, () => {
  const hosted = new Set<Hosted>()
  return RunnerTree.of({
    add: (entry) => Effect.acquireRelease(Effect.sync(() => void hosted.add(entry)), () => Effect.sync(() => void hosted.delete(entry))),
    hosted: Effect.sync(() => Array.from(hosted))
  })
})
