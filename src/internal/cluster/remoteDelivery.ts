/**
 * The seam between the `Router` and the cluster: where a message goes when no actor in this process
 * holds its address. The `Cluster` layers provide it to what they build on top of themselves (see
 * `Cluster.layerRunner`'s `services`); a router without it knows only this process's actors.
 *
 * @internal
 */
import { Context, type Duration, type Effect } from "effect"
import type { ActorStopped, MailboxFull, RequestTimeout } from "../../ActorError.ts"
import type { CallError } from "../componentError.ts"
import type { ClusterError } from "./clusterError.ts"

/** What a request to a remote actor can fail with (besides the router's own guards). */
export type RemoteError = CallError | RequestTimeout | ActorStopped | MailboxFull | ClusterError

export class RemoteDelivery extends Context.Service<RemoteDelivery, {
  /**
   * Hands the message to the cluster and returns at once (a guest's `send` is a synchronous host call);
   * what cannot be delivered goes to dead letters.
   */
  readonly send: (from: string, target: string, payload: Uint8Array) => Effect.Effect<void>
  readonly request: (
    from: string,
    target: string,
    payload: Uint8Array,
    options: { readonly timeout: Duration.Input; readonly correlationId: bigint }
  ) => Effect.Effect<Uint8Array | undefined, RemoteError>
  /**
   * Records a subscription cluster-wide (it outlives the actor's moves, until `unsubscribe`). Returns at
   * once (a guest's `subscribe` is a synchronous host call): publishers elsewhere see it once it is
   * stored; a failure to store it is logged.
   */
  readonly subscribe: (actorId: string, topic: string) => Effect.Effect<void>
  readonly unsubscribe: (actorId: string, topic: string) => Effect.Effect<boolean, ClusterError>
  /**
   * Hands a copy to every subscriber of `topic` in the cluster but those in `delivered` (the publisher's
   * own process served them). With `wait`, succeeds with how many copies it handed over once it has
   * read the subscribers; without (a guest's synchronous `publish`), returns 0 at once and fans out on
   * its own. Like `send`, it never waits for delivery.
   */
  readonly publish: (
    from: string,
    topic: string,
    payload: Uint8Array,
    delivered: ReadonlySet<string>,
    wait: boolean
  ) => Effect.Effect<number, ClusterError>
}>()("airssys-wasm/RemoteDelivery") {}
