/**
 * Outbound HTTP on the wire, for both HTTP interfaces: resolve a host once, check every address it
 * resolved to, and connect to the address checked (no second lookup, so DNS rebinding between the
 * check and the connect cannot move the connection).
 *
 * The exchange is Node's `http`/`https` client with the destination pinned: the socket connects to
 * the checked IP, the `Host` header and TLS server name (SNI and certificate check) carry the URL's
 * name. Keep-alive sockets are pooled by that IP (Node's agent keys its pool by `host`), so a socket
 * opened for one checked address is never reused for another.
 *
 * Bodies stream both ways: the request body is written as it comes (a `wasi:http` guest writes it
 * after sending the request), the response body is buffered up to a high-water mark (the socket is
 * paused past it) and read in chunks, with a cap on its total size.
 *
 * @internal
 */
import { Effect } from "effect"
import * as http from "node:http"
import * as https from "node:https"
import { allowsAddress, type CompiledGrants } from "./capabilityCheck.ts"
import * as Ip from "./ipAddress.ts"

export type { Address } from "./ipAddress.ts"

// -----------------------------------------------------------------------------
// addresses
// -----------------------------------------------------------------------------

/** Why a destination was refused, or could not be resolved. */
export type EgressRefusal =
  | { readonly _tag: "Address"; readonly address: string; readonly why: string }
  | { readonly _tag: "Resolve"; readonly code: string; readonly message: string }

/** The port a URL connects to: its own, or its scheme's default. */
export const portOf = (url: URL): number => url.port === "" ? (url.protocol === "https:" ? 443 : 80) : Number(url.port)

/** `url.hostname` without IPv6 brackets. */
export const bareHost = (hostname: string): string =>
  hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname

/** A DNS lookup (`Resolver`'s): its answers, or an error with the resolver's code. */
type Lookup = (host: string) => Effect.Effect<
  ReadonlyArray<{ readonly address: string }>,
  { readonly code?: string | undefined; readonly message: string }
>

/**
 * The address to connect to for `hostname`: the literal when it is one, otherwise what `lookup`
 * answers. Every address is checked: one the grants' address rules do not cover and that is not
 * public unicast refuses the whole request (a name with one private address among public ones is a
 * rebinding attempt waiting for its turn). The first address is the one connected to.
 */
export const resolveChecked = (
  hostname: string,
  lookup: Lookup,
  allows: (address: Ip.Address) => boolean
): Effect.Effect<Ip.Address, EgressRefusal> => {
  const literal = Ip.parse(hostname)
  const resolved: Effect.Effect<ReadonlyArray<Ip.Address>, EgressRefusal> = literal !== undefined
    ? Effect.succeed([literal])
    : Effect.flatMap(
      Effect.mapError(
        lookup(bareHost(hostname)),
        (error): EgressRefusal => ({ _tag: "Resolve", code: error.code ?? "EAI_FAIL", message: error.message })
      ),
      (answers) => {
        const parsed: Array<Ip.Address> = []
        for (const answer of answers) {
          const address = Ip.parse(answer.address)
          if (address === undefined) {
            return Effect.fail<EgressRefusal>({ _tag: "Address", address: answer.address, why: "is not an IP address" })
          }
          parsed.push(address)
        }
        return parsed.length === 0
          ? Effect.fail<EgressRefusal>({ _tag: "Resolve", code: "ENOTFOUND", message: `${hostname} resolved to no address` })
          : Effect.succeed(parsed)
      }
    )
  return Effect.flatMap(resolved, (addresses) => {
    for (const address of addresses) {
      if (allows(address)) continue
      const range = Ip.special(address)
      if (range !== undefined) {
        const via = literal !== undefined || address.address === bareHost(hostname) ? "" : ` (resolved from ${hostname})`
        return Effect.fail<EgressRefusal>({
          _tag: "Address",
          address: address.address,
          why: `${address.address}${via} is ${range.label} (${range.cidr}): only a NetworkOutbound grant naming the address or its range reaches it`
        })
      }
    }
    return Effect.succeed(addresses[0]!)
  })
}

/** `resolveChecked` for a component's request to `url`: every address against its grants, on the URL's port. */
export const resolveGranted = (url: URL, grants: CompiledGrants, lookup: Lookup): Effect.Effect<Ip.Address, EgressRefusal> =>
  resolveChecked(url.hostname, lookup, (address) => allowsAddress(grants, address.address, portOf(url)))

// -----------------------------------------------------------------------------
// the wire
// -----------------------------------------------------------------------------

/** A failure on the wire: the `wasi:http` error-code tag, and a message. */
export interface WireFailure {
  readonly code: string
  readonly message: string
}

/** A response's head. */
export interface WireHead {
  readonly status: number
  readonly headers: ReadonlyArray<readonly [string, string]>
}

/** One exchange in flight. Everything is synchronous except the two waits. */
export interface Wire {
  /** Appends to the request body (once the request was started with `streamBody`). */
  readonly write: (chunk: Uint8Array) => void
  /** Ends the request body. */
  readonly end: () => void
  /** The response head, its failure, or `undefined` while it has not come. */
  readonly head: () => WireHead | WireFailure | undefined
  /** Completes once `head()` is not `undefined`. */
  readonly waitHead: Effect.Effect<void>
  /**
   * Up to `max` bytes of the response body: bytes (empty when none has come yet), `undefined` at
   * the end, or the failure.
   */
  readonly read: (max: number) => Uint8Array | undefined | WireFailure
  /** Whether `read` would answer something other than empty bytes. */
  readonly readable: () => boolean
  /** Completes once `readable()`. */
  readonly waitBody: Effect.Effect<void>
  /** Ends the exchange (idempotent): the connection is destroyed unless the body was read to its end. */
  readonly abort: (failure?: WireFailure) => void
  /** Whether the exchange is over (body read to the end, failed or aborted). */
  readonly done: () => boolean
}

export interface Hop {
  readonly method: string
  readonly url: URL
  readonly address: Ip.Address
  readonly headers: ReadonlyArray<readonly [string, string]>
  /** A whole body to send, or `"stream"` to write it with `write`/`end`, or `undefined` for none. */
  readonly body: Uint8Array | "stream" | undefined
  /** Response body bytes past which the exchange fails with `HTTP-response-body-size`. */
  readonly maxBodyBytes: number
  /** Called once, when nothing more comes from the network: the response ended, or the exchange failed. */
  readonly onEnd?: ((failure: WireFailure | undefined) => void) | undefined
}

const httpAgent = new http.Agent({ keepAlive: true })
const httpsAgent = new https.Agent({ keepAlive: true })

// Buffered response bytes past which the socket is paused until the reader catches up.
const highWaterMark = 256 * 1024

const failureOf = (error: NodeJS.ErrnoException): WireFailure => {
  switch (error.code) {
    case "ECONNREFUSED":
      return { code: "connection-refused", message: error.message }
    case "ECONNRESET":
    case "EPIPE":
      return { code: "connection-terminated", message: error.message }
    case "ETIMEDOUT":
      return { code: "connection-timeout", message: error.message }
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return { code: "destination-unavailable", message: error.message }
    case "ERR_INVALID_HTTP_TOKEN":
    case "ERR_INVALID_CHAR":
    case "ERR_HTTP_INVALID_HEADER_VALUE":
      return { code: "HTTP-request-header-size", message: error.message }
    case "ERR_UNESCAPED_CHARACTERS":
      return { code: "HTTP-request-URI-invalid", message: error.message }
    case "HPE_INVALID_CONSTANT":
    case "HPE_INVALID_HEADER_TOKEN":
    case "HPE_HEADER_OVERFLOW":
      return { code: "HTTP-protocol-error", message: error.message }
    default:
      return error.code !== undefined && /CERT|SSL|TLS/.test(error.code)
        ? { code: "TLS-certificate-error", message: error.message }
        : { code: "internal-error", message: error.message }
  }
}

const isFailure = (value: unknown): value is WireFailure =>
  typeof value === "object" && value !== null && !(value instanceof Uint8Array) && "code" in value

/** A one-shot signal: `wait` completes once `fire` was called (now or later). */
const signal = () => {
  let listeners: Array<() => void> = []
  return {
    fire: () => {
      const fired = listeners
      listeners = []
      for (const listener of fired) listener()
    },
    wait: (ready: () => boolean): Effect.Effect<void> =>
      Effect.callback<void>((resume) => {
        if (ready()) return resume(Effect.void)
        const listener = () => resume(Effect.void)
        listeners.push(listener)
        return Effect.sync(() => void (listeners = listeners.filter((l) => l !== listener)))
      })
  }
}

/**
 * Starts one exchange to the pinned address. Fails (without sending anything) when Node refuses
 * the request as written (a bad header name or value, a bad path).
 */
export const start = (hop: Hop): Effect.Effect<Wire, WireFailure> =>
  Effect.try({
    try: () => open(hop),
    catch: (error) => failureOf(error as NodeJS.ErrnoException)
  })

const open = (hop: Hop): Wire => {
  const secure = hop.url.protocol === "https:"
  const name = bareHost(hop.url.hostname)
  const headers: Array<string> = ["host", hop.url.host]
  for (const [key, value] of hop.headers) headers.push(key, value)
  if (hop.body instanceof Uint8Array) headers.push("content-length", String(hop.body.byteLength))
  let head: WireHead | WireFailure | undefined
  let ended = false
  let failure: WireFailure | undefined
  let received = 0
  let buffered = 0
  const chunks: Array<Uint8Array> = []
  let response: http.IncomingMessage | undefined
  const headSignal = signal()
  const bodySignal = signal()
  let over = false
  const finish = (f: WireFailure | undefined) => {
    if (over) return
    over = true
    hop.onEnd?.(f)
  }
  const fail = (f: WireFailure) => {
    if (failure !== undefined || ended) return
    failure = f
    finish(f)
    if (head === undefined) head = f
    chunks.length = 0
    buffered = 0
    request.destroy()
    response?.destroy()
    headSignal.fire()
    bodySignal.fire()
  }
  const request = (secure ? https : http).request({
    host: hop.address.address,
    family: hop.address.family,
    port: hop.url.port === "" ? (secure ? 443 : 80) : Number(hop.url.port),
    method: hop.method,
    path: `${hop.url.pathname}${hop.url.search}`,
    headers,
    setHost: false,
    agent: secure ? httpsAgent : httpAgent,
    ...(secure && Ip.parse(name) === undefined ? { servername: name } : {})
  })
  request.on("error", (error: NodeJS.ErrnoException) => fail(failureOf(error)))
  request.on("response", (res) => {
    response = res
    const pairs: Array<readonly [string, string]> = []
    for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!])
    head = { status: res.statusCode ?? 0, headers: pairs }
    headSignal.fire()
    res.on("data", (chunk: Buffer) => {
      received += chunk.byteLength
      if (received > hop.maxBodyBytes) {
        return fail({ code: "HTTP-response-body-size", message: `response body over ${hop.maxBodyBytes} bytes from ${hop.url.origin}` })
      }
      chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
      buffered += chunk.byteLength
      if (buffered > highWaterMark) res.pause()
      bodySignal.fire()
    })
    res.on("end", () => {
      ended = true
      finish(undefined)
      bodySignal.fire()
    })
    res.on("error", (error: NodeJS.ErrnoException) => fail(failureOf(error)))
    res.on("aborted", () => fail({ code: "HTTP-response-incomplete", message: `response from ${hop.url.origin} cut short` }))
  })
  if (hop.body instanceof Uint8Array) request.end(hop.body)
  else if (hop.body === undefined) request.end()
  const readable = () => failure !== undefined || chunks.length > 0 || (ended && buffered === 0)
  return {
    write: (chunk) => {
      if (failure === undefined && !request.writableEnded) request.write(chunk)
    },
    end: () => {
      if (failure === undefined && !request.writableEnded) request.end()
    },
    head: () => head,
    waitHead: headSignal.wait(() => head !== undefined),
    read: (max) => {
      if (failure !== undefined) return failure
      if (chunks.length === 0) return ended ? undefined : new Uint8Array(0)
      const first = chunks[0]!
      let out: Uint8Array
      if (first.byteLength <= max) {
        chunks.shift()
        out = first
      } else {
        out = first.subarray(0, max)
        chunks[0] = first.subarray(max)
      }
      buffered -= out.byteLength
      if (buffered <= highWaterMark / 2 && response?.isPaused() === true) response.resume()
      return out.slice()
    },
    readable,
    waitBody: bodySignal.wait(readable),
    abort: (f) => {
      if (f !== undefined) fail(f)
      else if (!(ended && chunks.length === 0)) fail({ code: "connection-terminated", message: "exchange dropped" })
    },
    done: () => failure !== undefined || (ended && chunks.length === 0)
  }
}

export { isFailure }
