/**
 * The `airssys:component/messaging` host interface: a guest's `send`, `request`, `publish` and
 * `subscribe`, through the `Router`, with the calling component as the sender.
 *
 * Everything the router enforces therefore holds for guests: the payload limit (`PayloadTooLarge`), the
 * per-sender rate limit (`RateLimited`) and the sender's `Messaging` grants on targets and topics
 * (`CapabilityDenied`). The grants checked are the ones the component was registered with
 * (`Registry.register`); a component that is linked but not registered has none, so it can send nothing.
 * Each refusal reaches the guest as `err("Tag: message")`. Capability denials are audited by the router
 * (when an `Audit` is provided); rate and size refusals by the Linker, as `denied` with the reason.
 *
 * Linking: the interface links for a component holding at least one `Messaging` grant (deny by default);
 * which targets and topics it may use is the router's decision, per message.
 *
 * `request` is the one call that waits. It suspends the guest's stack with JSPI
 * (`WebAssembly.Suspending`, see `internal/jco.ts`) while the host awaits the reply or the timeout the
 * guest asked for (capped at `maxRequestTimeoutMillis`): no thread blocks and no other actor waits. A
 * request cycle (A asks B, B asks A) ends when the inner request times out, because the actor waiting on
 * it takes no other message meanwhile. A reply of `none` reaches the guest as an empty list.
 *
 * `send` and `publish` are synchronous host calls, so they never wait for room in a full mailbox: a full
 * target is `err("MailboxFull: ...")` for `send`, and a dead letter for that subscriber's copy of a
 * `publish`.
 *
 * Topic messages reach a subscribed guest through its `handler.handle-message`, with `topic` set.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer } from "effect"
import * as Capability from "../Capability.ts"
import { HostRefusal } from "../ComponentError.ts"
import * as Linker from "../Linker.ts"
import * as Router from "../Router.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * The WIT interface this module implements.
 *
 * @since 0.1.0
 * @category models
 */
export const interfaceName = "airssys:component/messaging"

/**
 * The longest a guest's `request` may wait, whatever timeout it asks for: one minute.
 *
 * @since 0.1.0
 * @category models
 */
export const maxRequestTimeoutMillis = 60_000

/**
 * What a messaging call can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type MessagingError = Router.RequestError | Router.SendError | Router.SubscribeError

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------

/**
 * Messaging on behalf of a component (`from`). No capability checks here: the router behind `layer`
 * makes them.
 *
 * @since 0.1.0
 * @category services
 */
export class Messaging extends Context.Service<Messaging, {
  readonly send: (from: string, target: string, payload: Uint8Array) => Effect.Effect<void, Router.SendError>
  readonly request: (
    from: string,
    target: string,
    payload: Uint8Array,
    timeout: Duration.Input
  ) => Effect.Effect<Uint8Array | undefined, Router.RequestError>
  readonly publish: (from: string, topic: string, payload: Uint8Array) => Effect.Effect<number, Router.GuardError>
  readonly subscribe: (from: string, topic: string) => Effect.Effect<void, Router.SubscribeError>
}>()("airssys-wasm/Messaging") {}

// -----------------------------------------------------------------------------
// host interface
// -----------------------------------------------------------------------------

const empty = new Uint8Array(0)

// Rate and size refusals are policy decisions, audited by the Linker; a capability denial was audited by
// the router already; anything else (unknown target, timeout, the peer's own err) is just the answer.
const toRefusal = (error: MessagingError): HostRefusal | Linker.Refused => {
  const message = `${error._tag}: ${error.message}`
  return error._tag === "RateLimited" || error._tag === "PayloadTooLarge"
    ? new Linker.Refused({ reason: error._tag, message })
    : new HostRefusal({ payload: message })
}

const timeoutOf = (millis: unknown): Duration.Duration =>
  Duration.millis(typeof millis === "number" && millis >= 0 ? Math.min(millis, maxRequestTimeoutMillis) : maxRequestTimeoutMillis)

/**
 * How the Linker links `airssys:component/messaging` to the `Messaging` service, for the component
 * being linked as the sender.
 *
 * @since 0.1.0
 * @category models
 */
export const hostInterface: Linker.HostInterface<Messaging> = Linker.hostInterface({
  name: interfaceName,
  capability: "Messaging",
  make: Effect.gen(function*() {
    const messaging = yield* Messaging
    return (target) => {
      const self = target.componentId
      return {
        send: {
          run: (to: string, payload: Uint8Array) => Effect.mapError(messaging.send(self, to, payload), toRefusal)
        },
        request: {
          run: (to: string, payload: Uint8Array, timeoutMillis: number) =>
            messaging.request(self, to, payload, timeoutOf(timeoutMillis)).pipe(
              Effect.map((reply) => reply ?? empty),
              Effect.mapError(toRefusal)
            )
        },
        publish: {
          run: (topic: string, payload: Uint8Array) =>
            Effect.mapError(Effect.asVoid(messaging.publish(self, topic, payload)), toRefusal)
        },
        subscribe: {
          run: (topic: string) => Effect.mapError(messaging.subscribe(self, topic), toRefusal)
        }
      }
    }
  })
})

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

const failFast: Router.DeliveryOptions = { failFast: true }

/**
 * Messaging through the `Router` in the environment. Sends and publishes never wait for room (a guest's
 * host call is synchronous); requests wait for the reply or the timeout.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Messaging, never, Router.Router> = Layer.effect(
  Messaging,
  Effect.gen(function*() {
    const router = yield* Router.Router
    return Messaging.of({
      send: (from, target, payload) => router.sendNow(from, target, payload, failFast),
      request: (from, target, payload, timeout) => router.request(from, target, payload, { timeout }),
      publish: (from, topic, payload) => router.publish(from, topic, payload, failFast),
      subscribe: (from, topic) => router.subscribe(from, topic)
    })
  })
)

const deniedTarget = (from: string, kind: "target" | "topic", address: string) =>
  Effect.fail(Capability.messagingDenied(from, kind, address))

/**
 * No messaging: every call fails with `CapabilityDenied`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDeny: Layer.Layer<Messaging> = Layer.succeed(
  Messaging,
  Messaging.of({
    send: (from, target) => deniedTarget(from, "target", target),
    request: (from, target) => deniedTarget(from, "target", target),
    publish: (from, topic) => deniedTarget(from, "topic", topic),
    subscribe: (from, topic) => deniedTarget(from, "topic", topic)
  })
)
