/**
 * Which node (process, machine) a supervisor, an actor's metrics and an audit event belong to, for a
 * host made of several processes. Unset (`undefined`) by default: a single-process host never names
 * itself, and nothing below changes for it.
 *
 * Where it is set, it is read **once**, when a thing is made — never on a message or a host call:
 *
 * - `Supervisor.start` / `run` / `startDynamic`: the snapshot's `node`.
 * - `Actor.spawn` / `Actor.make`: a `node` attribute on each of the actor's metric series.
 * - `Audit.make` (and the `Audit` layers): a `node` field on every event of that audit's chain.
 *
 * A cluster runner (`Cluster.layerRunner` from `airssys-wasm/cluster`) sets it to its address,
 * `host:port`, for the services it builds and the actors it hosts. Any other multi-process host can set
 * it with `layer`.
 *
 * @since 0.1.0
 */
import { Layer } from "effect"
import { CurrentNode } from "./internal/node.ts"

export {
  /**
   * The current node's name, or `undefined` (the default) when the host does not name its nodes.
   *
   * @since 0.1.0
   * @category references
   */
  CurrentNode
} from "./internal/node.ts"

/**
 * Names the node for what is built on top of the layer: `Node.layer("eu-1")` provided to an `Audit`
 * layer, say, stamps its events `node: "eu-1"`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (name: string): Layer.Layer<never> => Layer.succeed(CurrentNode, name) as Layer.Layer<never>
