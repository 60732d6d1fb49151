/**
 * A runner's view of which version each component name routes to, re-read every `routePollInterval`
 * with one query for all names: how an actor of an old version learns it must drain and stop
 * (blue-green). Re-exported as `Cluster.routePollInterval`.
 *
 * @internal
 */
import { Context, Duration, Effect, Layer, Schedule } from "effect"
import { ComponentStore } from "./componentStore.ts"

/**
 * How often a runner re-reads the routes: how long after `route` (or a `deploy`) its actors of the old
 * version take to switch.
 *
 * @since 0.1.0
 * @category models
 */
export const routePollInterval: Duration.Duration = Duration.seconds(1)

export class RouteWatch extends Context.Service<RouteWatch, {
  readonly versionOf: (name: string) => string | undefined
  /** Re-reads the routes now (when an actor's version differs from the view, which may be stale). */
  readonly refresh: Effect.Effect<void>
}>()("airssys-wasm/Cluster/RouteWatch") {}

export const layer: Layer.Layer<RouteWatch, never, ComponentStore> = Layer.effect(
  RouteWatch,
  Effect.gen(function*() {
    const store = yield* ComponentStore
    let routes: ReadonlyMap<string, string> = new Map()
    const read = Effect.catch(
      Effect.map(store.routes, (latest) => void (routes = latest)),
      (error) => Effect.logWarning(`cannot read the routes: ${error.message}`)
    )
    yield* read
    yield* Effect.forkScoped(Effect.repeat(Effect.delay(read, routePollInterval), Schedule.forever))
    return RouteWatch.of({ versionOf: (name) => routes.get(name), refresh: read })
  })
)
