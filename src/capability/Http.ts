/**
 * The `airssys:component/http` host interface: outbound HTTP, one call per request, every hop checked
 * against the component's `NetworkOutbound` grants.
 *
 * **Why not `wasi:http`.** A plugin host needs one thing from outbound HTTP: a request goes out only
 * to hosts the component was granted, redirects included, with a bounded answer in bounded time.
 * `wasi:http/outgoing-handler` spreads one request over a dozen resources (fields, outgoing-request,
 * outgoing-body, output streams, future-incoming-response, pollables); none of them carries anything
 * we check beyond the authority and scheme, and all of them would have to be implemented, kept
 * per-instance and kept safe against misuse (dropped streams, polls on dead futures). Ours is one
 * function, `fetch(request) -> result<response, string>`, that a WAT guest calls with nine integers
 * and that suspends the guest (JSPI) while the host awaits the network: the guest's stack is parked,
 * the event loop keeps running.
 *
 * **Checks.** Every hop is a `Capability.Request` of `NetworkOutbound(host, port)`: the request's
 * URL first, then each redirect's `Location`, checked before the connection is made and audited
 * (`granted` or `denied`, resource `host:port`). Redirects are never followed by the HTTP client
 * (`redirect: "manual"`): this module follows them itself, up to `maxRedirects`. Hosts are checked as
 * the URL parser normalizes them (lowercase, IDNA, `0x7f.1` → `127.0.0.1`); IPv6 literals are denied
 * (grants name DNS names and IPv4 addresses). Only `http:` and `https:` URLs, no credentials in URLs
 * and no `Host` header from the guest. A name is checked, not the address it resolves to: grant names
 * whose DNS you trust.
 *
 * **Limits.** The response body is read up to `maxBodyBytes` (1 MiB by default; more is
 * `BodyTooLarge`), the whole call (all hops) is timed out after `timeout` (30 s), timed by `Clock`
 * (so `TestClock` drives it) and the request aborted. Limits hit are audited as `denied` decisions too.
 *
 * Layers: `layer` fetches with Node's `fetch`; `layerHandler` answers from a function (a test double
 * that still runs every check, redirects included); `layerDeny` refuses every request.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Schema } from "effect"
import * as Audit from "../Audit.ts"
import type * as Capability from "../Capability.ts"
import { HostRefusal } from "../ComponentError.ts"
import * as Linker from "../Linker.ts"

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
export type Transport = (hop: { readonly method: string; readonly url: URL; readonly headers: Headers; readonly body: Uint8Array | undefined }) => Effect.Effect<Exchange, HttpError>

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
 * - `Denied`: a hop (the request or a redirect) to a host and port the grants do not cover, or a
 *   host without outbound HTTP (`layerDeny`). Nothing was sent to it.
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

const portOf = (url: URL): number => url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port)

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
export const make = (transport: Transport, options?: Options): Effect.Effect<Http["Service"], never, Audit.Audit> =>
  Effect.gen(function*() {
    const audit = yield* Audit.Audit
    const maxRedirects = options?.maxRedirects ?? defaults.maxRedirects
    const maxBodyBytes = options?.maxBodyBytes ?? defaults.maxBodyBytes
    const timeout = Duration.fromInputUnsafe(options?.timeout ?? defaults.timeout)

    // A limit is a decision about the component's request: audited like a denial.
    const refuse = (policy: Policy, url: URL, reason: HttpFailure, message: string) =>
      Effect.flatMap(
        audit.record({
          kind: "capability",
          component: policy.component,
          capability: "NetworkOutbound",
          resource: `${url.hostname}:${portOf(url)}`,
          decision: "denied",
          detail: `${interfaceName}#fetch: ${reason}`
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

    const readBody = (policy: Policy, url: URL, exchange: Exchange) =>
      Effect.gen(function*() {
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
      }).pipe(Effect.onInterrupt(() => exchange.discard))

    const follow = (request: Request, policy: Policy) =>
      Effect.gen(function*() {
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
          yield* authorize(policy, url, hop === 0 ? `${interfaceName}#fetch` : `${interfaceName}#fetch: redirect ${hop}`)
          const exchange = yield* transport({ method, url, headers, body })
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

// `fetch` rejects a network failure with a TypeError whose `cause` says what failed, and a request it
// will not send (a GET with a body, a forbidden method) with a bare TypeError.
const unavailable = (url: URL, cause: unknown) =>
  cause instanceof TypeError && cause.cause === undefined
    ? invalid(`request refused by the HTTP client: ${cause.message}`, url.href)
    : new HttpError({
      reason: "Unavailable",
      url: url.href,
      message: `request to ${url.origin} failed: ${
        cause instanceof Error ? (cause.cause instanceof Error ? cause.cause.message : cause.message) : String(cause)
      }`
    })

/**
 * One hop with Node's `fetch`, redirects left to the caller (`redirect: "manual"`), aborted when the
 * effect is interrupted (a timeout).
 *
 * @since 0.1.0
 * @category constructors
 */
export const nodeTransport: Transport = (hop) =>
  Effect.tryPromise({
    try: (signal) =>
      globalThis.fetch(hop.url, {
        method: hop.method,
        headers: hop.headers,
        ...(hop.body === undefined ? {} : { body: hop.body as Uint8Array<ArrayBuffer> }),
        redirect: "manual",
        signal
      }),
    catch: (cause) => unavailable(hop.url, cause)
  }).pipe(Effect.map((response): Exchange => {
    const reader = response.body?.getReader()
    return {
      status: response.status,
      headers: headerEntries(response.headers),
      read: reader === undefined ? Effect.succeed(undefined) : Effect.tryPromise({
        try: () => reader.read(),
        catch: (cause) => unavailable(hop.url, cause)
      }).pipe(Effect.map((chunk) => chunk.done ? undefined : chunk.value)),
      discard: reader === undefined ? Effect.void : Effect.promise(() => reader.cancel().catch(() => undefined))
    }
  }))

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
 * Outbound HTTP with Node's `fetch`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<Http, never, Audit.Audit> =>
  Layer.effect(Http, make(nodeTransport, options))

/**
 * Outbound HTTP answered by `handler` instead of the network, with every check, redirect and limit
 * of `layer`: a test double.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerHandler = (handler: Handler, options?: Options): Layer.Layer<Http, never, Audit.Audit> =>
  Layer.effect(Http, make(handlerTransport(handler), options))

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
