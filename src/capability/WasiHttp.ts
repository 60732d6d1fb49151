/**
 * `wasi:http/outgoing-handler` and `wasi:http/types` (0.2): outbound HTTP the way real components
 * do it. A componentize-js guest's `fetch`, or a guest built on a wasi-http library, imports these;
 * with them linked and a `NetworkOutbound` grant, its requests go out under the same checks and
 * limits as `Http`'s.
 *
 * **Checks.** Every request (each hop of a redirect a guest follows is a request of its own) is a
 * `Capability.Request` of `NetworkOutbound(host, port)`, checked and audited when the guest calls
 * `handle`: a denial is `handle`'s `err(HTTP-request-denied)` and nothing is resolved or sent. Then,
 * before a connection is made, the host is resolved once through `Resolver` and every address it
 * resolved to is checked: a name grant reaches only public unicast addresses; loopback, private,
 * link-local (cloud metadata), CGNAT, multicast, IPv4-mapped/compatible IPv6 and every other
 * special-purpose address needs a grant naming the address or its range. A refused address is
 * audited with the address and the range it fell in, and the guest's future answers
 * `destination-IP-prohibited`. The connection goes to the address checked (no second lookup).
 *
 * **Limits.** Request and response bodies stream (the guest writes the request body after `handle`,
 * and reads the response body as it arrives); each is capped at `maxBodyBytes` (1 MiB by default:
 * `HTTP-request-body-size`, `HTTP-response-body-size`), and the whole exchange, from `handle` until
 * the response body has come, at `timeout` (30 s, timed by `Clock`: `HTTP-response-timeout`). Limits
 * hit are audited as `denied`. A guest blocked on a response waits in `wasi:io/poll` (suspended with
 * JSPI) and is bounded by its call's own timeout too.
 *
 * **Resources.** Every resource of `wasi:http/types` the outgoing side uses is implemented
 * (`fields`, `outgoing-request`, `request-options`, `outgoing-body`, `future-incoming-response`,
 * `incoming-response`, `incoming-body`, `future-trailers`); they may be dropped in any order: a
 * future or body dropped early ends its exchange, and every exchange ends at its timeout. What is
 * not supported answers WASI's error, never a trap: request options cannot be set (their setters
 * answer `err`), trailers are not sent (`internal-error`) and none are received, the incoming side
 * (`incoming-request`, `response-outparam`) is never handed out. `Host`, `Connection` and the other
 * hop-by-hop headers are `forbidden` to a guest.
 *
 * Link with the `wasi:io` interfaces (`Stdio.ioInterfaces`) and the clocks (`Clocks.hostInterfaces`,
 * which a componentize-js guest needs anyway):
 *
 * ```ts
 * const HostLive = Linker.layer([...WasiHttp.hostInterfaces, ...Clocks.hostInterfaces, ...Stdio.hostInterfaces]).pipe(
 *   Layer.provide([WasiHttp.layer(), Clocks.layer, Stdio.layer, Audit.layerMemory({ capacity: 1000 })])
 * )
 * ```
 *
 * @since 0.2.0
 */
import { Context, Duration, Effect, Layer } from "effect"
import * as Audit from "../Audit.ts"
import { HostRefusal } from "../ComponentError.ts"
import * as Egress from "../internal/host/httpEgress.ts"
import * as Impl from "../internal/host/wasiHttp.ts"
import * as Linker from "../Linker.ts"
import * as Resolver from "./Resolver.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * The WIT interfaces this module implements.
 *
 * @since 0.2.0
 * @category models
 */
export const interfaceNames = { types: "wasi:http/types", outgoingHandler: "wasi:http/outgoing-handler" } as const

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /** Request and response body bytes, each; more is `HTTP-request-body-size` / `HTTP-response-body-size`. Default 1 MiB. */
  readonly maxBodyBytes?: number | undefined
  /** For one exchange, from `handle` until the response body has come, timed by `Clock`. Default 30 seconds. */
  readonly timeout?: Duration.Input | undefined
}

/**
 * A `wasi:http/types.error-code` as the guest receives it: `{ tag: "destination-IP-prohibited" }`,
 * `{ tag: "DNS-error", val: { rcode, infoCode } }`, ...
 *
 * @since 0.2.0
 * @category models
 */
export type ErrorCode = Impl.ErrorCode

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------

/**
 * Whether and within which limits guests' `wasi:http` requests go out.
 *
 * @since 0.2.0
 * @category services
 */
export class WasiHttp extends Context.Service<WasiHttp, {
  /** `false`: every request is refused, audited (`layerDeny`). */
  readonly enabled: boolean
  readonly maxBodyBytes: number
  readonly timeout: Duration.Duration
}>()("airssys-wasm/WasiHttp") {}

// -----------------------------------------------------------------------------
// host interfaces
// -----------------------------------------------------------------------------

const detail = `${interfaceNames.outgoingHandler}#handle`

const portOf = Egress.portOf

/**
 * How the Linker links `wasi:http/types`: its resources and `http-error-code`. Ungated (a
 * request built in them goes nowhere without `outgoing-handler`).
 *
 * @since 0.2.0
 * @category models
 */
export const typesInterface: Linker.HostInterface = Linker.hostInterface({
  name: interfaceNames.types,
  resources: {
    Fields: Impl.fields,
    OutgoingRequest: Impl.outgoingRequest,
    RequestOptions: Impl.requestOptions,
    OutgoingBody: Impl.outgoingBody,
    FutureIncomingResponse: Impl.futureIncomingResponse,
    IncomingResponse: Impl.incomingResponse,
    IncomingBody: Impl.incomingBody,
    FutureTrailers: Impl.futureTrailers,
    IncomingRequest: Impl.incomingRequest,
    OutgoingResponse: Impl.outgoingResponse,
    ResponseOutparam: Impl.responseOutparam
  },
  make: Effect.succeed(() => ({ httpErrorCode: { run: Impl.httpErrorCode } }))
})

/**
 * How the Linker links `wasi:http/outgoing-handler`: for a component holding any `NetworkOutbound`
 * grant; each request is checked and audited by `handle` itself (name, then addresses).
 *
 * @since 0.2.0
 * @category models
 */
export const outgoingHandlerInterface: Linker.HostInterface<WasiHttp | Audit.Audit> = Linker.hostInterface({
  name: interfaceNames.outgoingHandler,
  capability: "NetworkOutbound",
  make: Effect.gen(function*() {
    const service = yield* WasiHttp
    const audit = yield* Audit.Audit
    const resolver = yield* Resolver.Resolver
    return (target) => {
      const denied = (url: URL, why: string) =>
        audit.record({
          kind: "capability",
          component: target.componentId,
          capability: "NetworkOutbound",
          resource: `${url.hostname}:${portOf(url)}`,
          decision: "denied",
          detail: `${detail}: ${why}`
        })
      const outbound: Impl.Outbound = {
        authorize: (url) =>
          service.enabled
            ? Linker.authorize(target.componentId, target.grants, {
              _tag: "NetworkOutbound",
              host: url.hostname,
              port: portOf(url)
            }, detail).pipe(
              Effect.provideService(Audit.Audit, audit),
              Effect.mapError((): ErrorCode => ({ tag: "HTTP-request-denied" }))
            )
            : Effect.flatMap(denied(url, "no outbound HTTP on this host"), () => Effect.fail<ErrorCode>({ tag: "HTTP-request-denied" })),
        resolve: (url) =>
          Egress.resolveGranted(url, target.grants, resolver.lookup).pipe(Effect.catch((refusal) =>
            refusal._tag === "Resolve"
              ? Effect.fail<ErrorCode>({ tag: "DNS-error", val: { rcode: refusal.code, infoCode: undefined } })
              : Effect.flatMap(denied(url, refusal.why), () => Effect.fail<ErrorCode>({ tag: "destination-IP-prohibited" }))
          )),
        start: Egress.start,
        refuse: (url, reason) => denied(url, reason),
        maxBodyBytes: service.maxBodyBytes,
        timeout: service.timeout
      }
      return {
        handle: {
          run: (request: unknown, options: unknown): Effect.Effect<object, HostRefusal> => Impl.handle(outbound, request, options)
        }
      }
    }
  })
})

/**
 * Both `wasi:http` interfaces. Link `Stdio.ioInterfaces` (or `Stdio.hostInterfaces`) and
 * `Clocks.hostInterfaces` beside them.
 *
 * @since 0.2.0
 * @category models
 */
export const hostInterfaces: ReadonlyArray<Linker.HostInterface<WasiHttp | Audit.Audit>> = [
  typesInterface,
  outgoingHandlerInterface
]

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * Outbound `wasi:http` to granted hosts, over Node's `http`/`https` client.
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<WasiHttp> =>
  Layer.succeed(WasiHttp, WasiHttp.of({
    enabled: true,
    maxBodyBytes: options?.maxBodyBytes ?? 1024 * 1024,
    timeout: Duration.fromInputUnsafe(options?.timeout ?? Duration.seconds(30))
  }))

/**
 * No outbound `wasi:http`: every `handle` answers `HTTP-request-denied`, audited.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerDeny: Layer.Layer<WasiHttp> = Layer.succeed(
  WasiHttp,
  WasiHttp.of({ enabled: false, maxBodyBytes: 0, timeout: Duration.seconds(30) })
)
