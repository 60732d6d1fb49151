/**
 * The `airssys:component/http` host interface: outbound HTTP, one call per request, every hop checked
 * against the component's `NetworkOutbound` grants.
 *
 * **Beside `wasi:http`.** Guests from standard toolchains speak `wasi:http/outgoing-handler`
 * (`WasiHttp`, the same checks and limits over a dozen resources). This interface is the small one: one
 * function, `fetch(request) -> result<response, string>`, that a WAT guest calls with nine integers,
 * that follows redirects on the host (each hop checked) and that suspends the guest (JSPI) while the
 * host awaits the network: the guest's stack is parked, the event loop keeps running.
 *
 * **Checks.** Every hop is a `Capability.Request` of `NetworkOutbound(host, port)`: the request's
 * URL first, then each redirect's `Location`, checked before the connection is made and audited
 * (`granted` or `denied`, resource `host:port`). Redirects are never followed by the HTTP client:
 * this module follows them itself, up to `maxRedirects`. Hosts are checked as the URL parser
 * normalizes them (lowercase, IDNA, `2130706433`, `0177.0.0.1` and `0x7f.1` → `127.0.0.1`); only
 * `http:` and `https:` URLs, no credentials in URLs and no `Host` header from the guest.
 *
 * **Addresses.** After the name, each hop's host is resolved once (`Resolver`) and every address
 * checked: a name grant reaches only public unicast addresses; loopback, private, link-local (cloud
 * metadata at 169.254.169.254), CGNAT, multicast, unspecified, IPv4-mapped/compatible IPv6, ULA and
 * the other special-purpose ranges need a grant naming the address or a range containing it
 * (`127.0.0.1`, `10.0.0.0/8`, `::1`). A refusal is audited with the address and its range. The
 * connection goes to the checked address (Node's `http` client dialing the IP, the name in `Host`
 * and the TLS server name), so DNS rebinding between the check and the connect cannot move it.
 *
 * **Limits.** The response body is read up to `maxBodyBytes` (1 MiB by default; more is
 * `BodyTooLarge`), the whole call (all hops) is timed out after `timeout` (30 s), timed by `Clock`
 * (so `TestClock` drives it) and the request aborted. Limits hit are audited as `denied` decisions too.
 *
 * Layers: `layer` fetches with Node's `http`/`https` client; `layerHandler` answers from a function
 * (a test double that still runs every name check, redirects included; nothing is resolved);
 * `layerDeny` refuses every request.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Schema } from "effect"
import * as Audit from "../Audit.ts"
import * as Capability from "../Capability.ts"
import { HostRefusal } from "../ComponentError.ts"
import * as Egress from "../internal/host/httpEgress.ts"
import * as Linker from "../Linker.ts"
import * as Resolver from "./Resolver.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * The WIT interface this module implements.
 *
 * @since 0.1.0
 * @category models
 */
export const interfaceName = "airssys:component/http"

/**
 * A request, as the guest's `http.request` record lifts.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  readonly method: string
  readonly url: string
  readonly headers: ReadonlyArray<readonly [string, string]>
  /** Empty for none. */
  readonly body: Uint8Array
}

/**
 * The final response, after redirects.
 *
 * @since 0.1.0
 * @category models
 */
export interface Response {
  readonly status: number
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly body: Uint8Array
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Redirects followed per call; one more is `TooManyRedirects`. Default 5. */
  readonly maxRedirects?: number | undefined
  /** Response body bytes read; more is `BodyTooLarge`. Default 1 MiB. */
  readonly maxBodyBytes?: number | undefined
  /** For the whole call, redirects included, timed by `Clock`. Default 30 seconds. */
  readonly timeout?: Duration.Input | undefined
}

/**
 * Who a request is made for: audit events name `component`, every hop is checked against `grants`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Policy {
  readonly component: string
  readonly grants: Capability.Grants
}

/**
 * What a transport answers for one hop: the raw response, its body not read yet.
 *
 * @since 0.1.0
 * @category models
 */
export interface Exchange {
  readonly status: number
  readonly headers: ReadonlyArray<readonly [string, string]>
  /** Chunks of the body, read on demand; `undefined` when the body is done. */
  readonly read: Effect.Effect<Uint8Array | undefined, HttpError>
  /** Drops the rest of the body (a redirect's, or one past the cap). */
  readonly discard: Effect.Effect<void>
}

/**
 * One hop on the wire: no redirects, no checks (the service does those).
 *
 * @since 0.1.0
 * @category models
 */
export type Transport = (hop: {
  readonly method: string
  readonly url: URL
  readonly headers: Headers
  readonly body: Uint8Array | undefined
  /** The checked address to connect to (never looked up again); absent for a transport without addresses (`layerHandler`). */
  readonly address?: Resolver.Address | undefined
}) => Effect.Effect<Exchange, HttpError>

/**
 * A test double's answer to one hop (see `layerHandler`).
 *
 * @since 0.1.0
 * @category models
 */
export type Handler = (hop: { readonly method: string; readonly url: string; readonly headers: ReadonlyArray<readonly [string, string]> }) => Effect.Effect<Response>

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * Why a request failed.
 *
 * - `Denied`: a hop (the request or a redirect) to a host and port the grants do not cover, to an
 *   address only an address grant reaches, or a host without outbound HTTP (`layerDeny`). Nothing
 *   was sent to it.
 * - `InvalidRequest`: not an absolute `http:`/`https:` URL, credentials in the URL, a bad method or
 *   header, a `Host` header.
 * - `TooManyRedirects`: more than `maxRedirects`.
 * - `BodyTooLarge`: the response body passed `maxBodyBytes`.
 * - `Timeout`: the call took longer than `timeout`.
 * - `Unavailable`: the network failed (refused connection, reset, DNS).
 *
 * @since 0.1.0
 * @category models
 */
export const HttpFailure = Schema.Literals([
  "Denied",
  "InvalidRequest",
  "TooManyRedirects",
  "BodyTooLarge",
  "Timeout",
  "Unavailable"
])

/**
 * @since 0.1.0
 * @category models
 */
export type HttpFailure = typeof HttpFailure.Type

/**
 * @since 0.1.0
 * @category errors
 */
export class HttpError extends Schema.TaggedError<HttpError>()("HttpError", {
  reason: HttpFailure,
  /** The hop's URL, when there was one. */
  url: Schema.optionalKey(Schema.String),
  message: Schema.String
}) {}

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------

/**
 * Outbound HTTP on a component's behalf: every hop checked against `policy.grants` and audited.
 *
 * @since 0.1.0
 * @category services
 */
export class Http extends Context.Service<Http, {
  readonly fetch: (request: Request, policy: Policy) => Effect.Effect<Response, HttpError>
}>()("airssys-wasm/Http") {}

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

const defaults = { maxRedirects: 5, maxBodyBytes: 1024 * 1024, timeout: Duration.seconds(30) }

const methodSyntax = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/
const redirectStatuses = new Set([301, 302, 303, 307, 308])
// Sent to the first origin only: a redirect elsewhere must not carry the guest's credentials.
const credentialHeaders = new Set(["authorization", "cookie", "proxy-authorization"])

const invalid = (message: string, url?: string) =>
  new HttpError({ reason: "InvalidRequest", ...(url === undefined ? {} : { url }), message })

// `forEach`, not `Array.from(headers)`: the same pairs in the same order, and TypeScript 5.9's DOM lib
// types `Headers` as iterable only with `DOM.Iterable`.
const headerEntries = (headers: Headers): Array<[string, string]> => {
  const entries: Array<[string, string]> = []
  headers.forEach((value, name) => void entries.push([name, value]))
  return entries
}

const parseUrl = (text: string, base?: URL): URL | HttpError => {
  if (!URL.canParse(text, base?.href)) return invalid(`not a URL: ${JSON.stringify(text.slice(0, 256))}`)
  const url = new URL(text, base)
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return invalid(`only http: and https: URLs are allowed, got ${url.protocol}`, url.href)
  }
  if (url.username !== "" || url.password !== "") return invalid("credentials in URLs are not allowed", url.origin)
  return url
}

const portOf = Egress.portOf

const concat = (chunks: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  const out = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

/**
 * An `Http` over a transport: the checks, redirects, body cap and timeout, with `Audit` for the
 * decisions.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  transport: Transport,
  options?: Options & {
    /** Resolve and check addresses before each hop (default); `false` for a transport that connects nowhere. */
    readonly addressChecks?: boolean | undefined
  }
): Effect.Effect<Http["Service"], never, Audit.Audit> =>
  Effect.gen(function*() {
    const audit = yield* Audit.Audit
    const resolver = yield* Resolver.Resolver
    const addressChecks = options?.addressChecks ?? true
    const maxRedirects = options?.maxRedirects ?? defaults.maxRedirects
    const maxBodyBytes = options?.maxBodyBytes ?? defaults.maxBodyBytes
    const timeout = Duration.fromInputUnsafe(options?.timeout ?? defaults.timeout)

    // A limit or a refused address is a decision about the component's request: audited like a denial.
    const refuse = (policy: Policy, url: URL, reason: HttpFailure, message: string, detail = `${interfaceName}#fetch: ${reason}`) =>
      Effect.flatMap(
        audit.record({
          kind: "capability",
          component: policy.component,
          capability: "NetworkOutbound",
          resource: `${url.hostname}:${portOf(url)}`,
          decision: "denied",
          detail
        }),
        () => Effect.fail(new HttpError({ reason, url: url.href, message }))
      )

    const authorize = (policy: Policy, url: URL, detail: string) =>
      Linker.authorize(
        policy.component,
        policy.grants,
        { _tag: "NetworkOutbound", host: url.hostname, port: portOf(url) },
        detail
      ).pipe(
        Effect.mapError((denied) => new HttpError({ reason: "Denied", url: url.href, message: denied.message })),
        Effect.provideService(Audit.Audit, audit)
      )

    // After the name check: resolve once, check every address, answer the one to connect to.
    const checkAddress = (policy: Policy, url: URL, detail: string) =>
      Egress.resolveGranted(url, policy.grants, resolver.lookup).pipe(Effect.catch((refusal) =>
        refusal._tag === "Resolve"
          ? Effect.fail(new HttpError({ reason: "Unavailable", url: url.href, message: refusal.message }))
          : refuse(policy, url, "Denied", `address refused: ${refusal.why}`, `${detail}: ${refusal.why}`)
      ))

    const readBody = Effect.fnUntraced(function*(policy: Policy, url: URL, exchange: Exchange) {
      const chunks: Array<Uint8Array> = []
      let size = 0
      for (;;) {
        const chunk = yield* exchange.read
        if (chunk === undefined) return concat(chunks, size)
        size += chunk.byteLength
        if (size > maxBodyBytes) {
          yield* exchange.discard
          return yield* refuse(policy, url, "BodyTooLarge", `response body over ${maxBodyBytes} bytes from ${url.origin}`)
        }
        chunks.push(chunk)
      }
    }, (effect, _policy, _url, exchange) => Effect.onInterrupt(effect, () => exchange.discard))

    const follow = Effect.fnUntraced(function*(request: Request, policy: Policy) {
      if (!methodSyntax.test(request.method)) return yield* invalid(`invalid method ${JSON.stringify(request.method.slice(0, 32))}`)
      const parsed = parseUrl(request.url)
      if (parsed instanceof HttpError) return yield* parsed
      let url = parsed
      const headers = yield* Effect.try({
        try: () => new Headers(request.headers.map(([name, value]): [string, string] => [name, value])),
        catch: (cause) => invalid(`invalid header: ${cause instanceof Error ? cause.message : String(cause)}`, url.href)
      })
      if (headers.has("host")) return yield* invalid("the Host header is set by the host", url.href)
      let method = request.method
      let body: Uint8Array | undefined = request.body.byteLength === 0 ? undefined : request.body
      const origin = url.origin
      for (let hop = 0;; hop++) {
        const detail = hop === 0 ? `${interfaceName}#fetch` : `${interfaceName}#fetch: redirect ${hop}`
        yield* authorize(policy, url, detail)
        const address = addressChecks ? yield* checkAddress(policy, url, detail) : undefined
        const exchange = yield* transport({ method, url, headers, body, address })
        const location = exchange.headers.find(([name]) => name.toLowerCase() === "location")?.[1]
        if (!redirectStatuses.has(exchange.status) || location === undefined) {
          return { status: exchange.status, headers: exchange.headers, body: yield* readBody(policy, url, exchange) }
        }
        yield* exchange.discard
        if (hop >= maxRedirects) {
          return yield* refuse(policy, url, "TooManyRedirects", `more than ${maxRedirects} redirects from ${request.url.slice(0, 256)}`)
        }
        const next = parseUrl(location, url)
        if (next instanceof HttpError) return yield* next
        // As browsers do: 303, and 301/302 after a POST, continue as a GET without a body.
        if (exchange.status === 303 || ((exchange.status === 301 || exchange.status === 302) && method === "POST")) {
          if (method !== "HEAD") method = "GET"
          body = undefined
          headers.delete("content-type")
          headers.delete("content-length")
        }
        if (next.origin !== origin) for (const name of credentialHeaders) headers.delete(name)
        url = next
      }
    })

    return Http.of({
      fetch: (request, policy) =>
        Effect.suspend(() => follow(request, policy)).pipe(
          Effect.timeoutOrElse({
            duration: timeout,
            orElse: () => {
              const url = parseUrl(request.url)
              return url instanceof HttpError
                ? Effect.fail(url)
                : refuse(policy, url, "Timeout", `no response from ${url.origin} within ${Duration.format(timeout)}`)
            }
          })
        )
    })
  })

const unavailable = (url: URL, failure: Egress.WireFailure) =>
  new HttpError({ reason: "Unavailable", url: url.href, message: `request to ${url.origin} failed: ${failure.message}` })

/**
 * One hop with Node's `http`/`https` client, connected to the checked address (`hop.address`; the
 * URL's host is looked up with `Resolver` only when there is none), redirects left to the caller,
 * aborted when the effect is interrupted (a timeout).
 *
 * @since 0.1.0
 * @category constructors
 */
export const nodeTransport: Transport = (hop) =>
  Effect.gen(function*() {
    if (hop.body !== undefined && (hop.method === "GET" || hop.method === "HEAD")) {
      return yield* invalid(`a ${hop.method} request cannot have a body`, hop.url.href)
    }
    const address = hop.address ?? (yield* Effect.mapError(
      Egress.resolveChecked(hop.url.hostname, (yield* Resolver.Resolver).lookup, () => true),
      (refusal) => new HttpError({ reason: "Unavailable", url: hop.url.href, message: refusal._tag === "Resolve" ? refusal.message : refusal.why })
    ))
    const wire = yield* Effect.mapError(
      Egress.start({
        method: hop.method,
        url: hop.url,
        address,
        headers: headerEntries(hop.headers),
        body: hop.body,
        maxBodyBytes: Number.MAX_SAFE_INTEGER
      }),
      (failure) => invalid(`request refused by the HTTP client: ${failure.message}`, hop.url.href)
    )
    yield* Effect.onInterrupt(wire.waitHead, () => Effect.sync(() => wire.abort()))
    const head = wire.head()
    if (head === undefined || Egress.isFailure(head)) {
      return yield* unavailable(hop.url, head ?? { code: "internal-error", message: "no response" })
    }
    const read: Effect.Effect<Uint8Array | undefined, HttpError> = Effect.flatMap(wire.waitBody, () => {
      const chunk = wire.read(64 * 1024)
      if (Egress.isFailure(chunk)) return Effect.fail(unavailable(hop.url, chunk))
      return chunk !== undefined && chunk.byteLength === 0 ? read : Effect.succeed(chunk)
    })
    return {
      status: head.status,
      headers: head.headers,
      read,
      discard: Effect.sync(() => wire.abort())
    } satisfies Exchange
  })

/**
 * A transport that answers from `handler` (whole bodies), for tests.
 *
 * @since 0.1.0
 * @category constructors
 */
export const handlerTransport = (handler: Handler): Transport => (hop) =>
  handler({ method: hop.method, url: hop.url.href, headers: headerEntries(hop.headers) }).pipe(
    Effect.map((response): Exchange => {
      let body: Uint8Array | undefined = response.body
      return {
        status: response.status,
        headers: response.headers,
        read: Effect.sync(() => {
          const chunk = body
          body = undefined
          return chunk
        }),
        discard: Effect.sync(() => void (body = undefined))
      }
    })
  )

// -----------------------------------------------------------------------------
// host interface
// -----------------------------------------------------------------------------

const guestRequest = (request: unknown): Request | HostRefusal => {
  const r = request as Partial<Request> | null
  if (
    typeof r !== "object" || r === null || typeof r.method !== "string" || typeof r.url !== "string" ||
    !Array.isArray(r.headers) || !(r.body instanceof Uint8Array)
  ) return new HostRefusal({ payload: "invalid http request" })
  return r as Request
}

// Denials and limits were audited by the service: the guest gets the message.
const toRefusal = (error: HttpError) => new HostRefusal({ payload: `${error.reason}: ${error.message}` })

/**
 * How the Linker links `airssys:component/http` to the `Http` service. It links for a component
 * holding any `NetworkOutbound` grant; the service checks and audits each hop itself (the request and
 * every redirect), so the Linker's own per-call check is not repeated here.
 *
 * @since 0.1.0
 * @category models
 */
export const hostInterface: Linker.HostInterface<Http> = Linker.hostInterface({
  name: interfaceName,
  capability: "NetworkOutbound",
  make: Effect.gen(function*() {
    const http = yield* Http
    return (target) => {
      const policy: Policy = { component: target.componentId, grants: target.grants }
      return {
        fetch: {
          run: (request: unknown) => {
            const checked = guestRequest(request)
            return checked instanceof HostRefusal
              ? Effect.fail(checked)
              : Effect.mapError(http.fetch(checked, policy), toRefusal)
          }
        }
      }
    }
  })
})

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * Outbound HTTP with Node's `http`/`https` client, to checked addresses (resolved with `Resolver`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<Http, never, Audit.Audit> =>
  Layer.effect(Http, make(nodeTransport, options))

/**
 * Outbound HTTP answered by `handler` instead of the network, with every check, redirect and limit
 * of `layer` but the address checks (nothing is resolved or connected to): a test double.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHandler = (handler: Handler, options?: Options): Layer.Layer<Http, never, Audit.Audit> =>
  Layer.effect(Http, make(handlerTransport(handler), { ...options, addressChecks: false }))

/**
 * No outbound HTTP: every request is `Denied` (and audited as such).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDeny: Layer.Layer<Http, never, Audit.Audit> = Layer.effect(
  Http,
  Effect.map(Audit.Audit, (audit) =>
    Http.of({
      fetch: (request, policy) =>
        Effect.flatMap(
          audit.record({
            kind: "capability",
            component: policy.component,
            capability: "NetworkOutbound",
            resource: request.url.slice(0, 256),
            decision: "denied",
            detail: `${interfaceName}#fetch: no outbound HTTP on this host`
          }),
          () => Effect.fail(new HttpError({ reason: "Denied", url: request.url, message: "outbound HTTP is not available on this host" }))
        )
    }))
)
