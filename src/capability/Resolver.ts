/**
 * Name resolution for outbound connections: the one place a host name becomes the addresses that
 * are checked and connected to.
 *
 * Both HTTP interfaces (`Http`, `WasiHttp`) resolve a request's host once, through this service,
 * check every address it answers against the component's grants, and connect to the address they
 * checked: a second lookup (DNS rebinding: the name's answer changes between the check and the
 * connect) never happens. So the resolver is the seam where tests decide what a name resolves to
 * (`layerHandler`), without touching the system's DNS.
 *
 * By default (`Resolver` is a reference with a default) names go through Node's `dns.lookup`: the
 * system resolver, `/etc/hosts` included, every address it has (`all`), in its order.
 *
 * @since 0.2.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import * as dns from "node:dns"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * One resolved address: canonical text and family.
 *
 * @since 0.2.0
 * @category models
 */
export interface Address {
  readonly address: string
  readonly family: 4 | 6
}

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * A name that did not resolve (`code`: the resolver's, e.g. `ENOTFOUND`), or resolved to nothing.
 *
 * @since 0.2.0
 * @category errors
 */
export class ResolveError extends Schema.TaggedError<ResolveError>()("ResolveError", {
  host: Schema.String,
  code: Schema.optionalKey(Schema.String),
  message: Schema.String
}) {}

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

const familyOf = (address: string): 4 | 6 => address.includes(":") ? 6 : 4

/**
 * Resolves with Node's `dns.lookup` (all addresses, in the system resolver's order).
 *
 * @since 0.2.0
 * @category constructors
 */
export const nodeLookup = (host: string): Effect.Effect<ReadonlyArray<Address>, ResolveError> =>
  Effect.callback<ReadonlyArray<Address>, ResolveError>((resume) => {
    dns.lookup(host, { all: true, order: "verbatim" }, (error, addresses) => {
      if (error !== null) {
        resume(Effect.fail(new ResolveError({ host, code: error.code ?? "EAI_FAIL", message: `${host} did not resolve: ${error.code ?? error.message}` })))
      } else {
        resume(Effect.succeed(addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }))))
      }
    })
  })

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------

/**
 * Resolves a host name to addresses. A reference: without a layer, `nodeLookup`.
 *
 * @since 0.2.0
 * @category services
 */
export const Resolver: Context.Reference<{
  readonly lookup: (host: string) => Effect.Effect<ReadonlyArray<Address>, ResolveError>
}> = Context.Reference("airssys-wasm/Resolver", { defaultValue: () => ({ lookup: nodeLookup }) })

/**
 * The service's shape.
 *
 * @since 0.2.0
 * @category models
 */
export type Service = Context.Service.Shape<typeof Resolver>

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * Node's `dns.lookup` (what the reference defaults to).
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<never> = Layer.succeed(Resolver, { lookup: nodeLookup })

/**
 * Answers from `handler`: a list of address texts (empty: the name does not resolve). A test
 * double; it is called once per lookup, so it can count them or answer differently each time.
 *
 * @since 0.2.0
 * @category layers
 */
export const layerHandler = (handler: (host: string) => ReadonlyArray<string>): Layer.Layer<never> =>
  Layer.succeed(Resolver, {
    lookup: (host) =>
      Effect.suspend(() => {
        const answer = handler(host)
        return answer.length === 0
          ? Effect.fail(new ResolveError({ host, code: "ENOTFOUND", message: `${host} did not resolve: ENOTFOUND` }))
          : Effect.succeed(answer.map((address) => ({ address, family: familyOf(address) })))
      })
  })
