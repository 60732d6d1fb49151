/**
 * `wasi:http/types` 0.2 on the host: the resources an outgoing request is made of, and the exchange
 * behind `wasi:http/outgoing-handler.handle`.
 *
 * A request is built in guest-owned resources (`fields`, `outgoing-request`, `outgoing-body`), sent
 * by `handle`, which checks the name at once (a denial is `handle`'s own `err`) and then, in a fiber
 * of its own, resolves, checks the addresses and connects (`Outbound`); the guest waits on the
 * `future-incoming-response`'s pollable (JSPI through `wasi:io/poll`) and reads the body from an
 * `input-stream` whose pollable is ready when bytes have arrived.
 *
 * Dropping: every resource holds plain state; a handle dropped in any order only ends what it owns
 * (the future or the body aborts the exchange unless it is finished, a request body dropped before
 * `finish` fails the request). Each exchange ends at the latest at its timeout, whatever the guest
 * keeps or drops, so nothing lives past it.
 *
 * What is not supported answers the spec's error, never a trap: request options (their setters
 * answer `err`, as WASI allows), trailers (`internal-error`), the incoming side (`incoming-request`,
 * `response-outparam`: never handed out).
 *
 * @internal
 */
import { Context, Duration, Effect, type Fiber, Scheduler } from "effect"
import { HostRefusal } from "../componentError.ts"
import type * as Egress from "./httpEgress.ts"
import { type HostResource, resource } from "./hostBridge.ts"
import * as WasiIo from "./wasiIo.ts"

// -----------------------------------------------------------------------------
// values
// -----------------------------------------------------------------------------

/** `wasi:http/types.error-code`, as jco lifts and lowers it: `{ tag }` or `{ tag, val }`. */
export interface ErrorCode {
  readonly tag: string
  readonly val?: unknown
}

/** The error-code for a failure on the wire. */
export const errorCodeOf = (failure: Egress.WireFailure): ErrorCode => {
  switch (failure.code) {
    case "internal-error":
      return { tag: "internal-error", val: failure.message.slice(0, 1024) }
    case "HTTP-request-header-size":
    case "HTTP-response-body-size":
    case "HTTP-request-body-size":
    case "HTTP-response-transfer-coding":
    case "HTTP-response-content-coding":
      return { tag: failure.code, val: undefined }
    default:
      return { tag: failure.code }
  }
}

type Variant = { readonly tag: string; readonly val?: unknown }

const methodOf = (method: Variant): string | undefined => {
  if (method.tag === "other") {
    return typeof method.val === "string" && /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/.test(method.val) ? method.val : undefined
  }
  return /^[a-z]+$/.test(method.tag) ? method.tag.toUpperCase() : undefined
}

const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/
// Set by the host from the request itself, or hop-by-hop: a guest cannot set them.
const forbidden = new Set(["host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te"])

const validValue = (value: unknown): value is Uint8Array => {
  if (!(value instanceof Uint8Array) || value.byteLength > 8192) return false
  for (const byte of value) if (byte === 0 || byte === 10 || byte === 13) return false
  return true
}

const headerError = (tag: "invalid-syntax" | "forbidden" | "immutable") =>
  Effect.fail(new HostRefusal({ payload: { tag } }))

// -----------------------------------------------------------------------------
// fields
// -----------------------------------------------------------------------------

export interface FieldsState {
  entries: Array<[string, Uint8Array]>
  immutable: boolean
}

const checkEntry = (name: unknown, value?: unknown): "invalid-syntax" | "forbidden" | undefined => {
  if (typeof name !== "string" || !headerName.test(name)) return "invalid-syntax"
  if (value !== undefined && !validValue(value)) return "invalid-syntax"
  return forbidden.has(name.toLowerCase()) ? "forbidden" : undefined
}

const mutate = (state: FieldsState, name: unknown, f: (lower: string) => void): Effect.Effect<void, HostRefusal> => {
  if (state.immutable) return headerError("immutable")
  const invalid = checkEntry(name)
  if (invalid !== undefined) return headerError(invalid)
  f((name as string).toLowerCase())
  return Effect.void
}

const copyEntries = (state: FieldsState): Array<[string, Uint8Array]> => state.entries.map(([n, v]) => [n, v.slice()])

/** `wasi:http/types.fields` (also `headers` and `trailers`). */
export const fields: HostResource<FieldsState> = resource<FieldsState>("fields", {
  get: (state: FieldsState, name: string) =>
    Effect.succeed(state.entries.filter(([n]) => n === String(name).toLowerCase()).map(([, v]) => v.slice())),
  has: (state: FieldsState, name: string) => Effect.succeed(state.entries.some(([n]) => n === String(name).toLowerCase())),
  set: (state: FieldsState, name: string, values: ReadonlyArray<Uint8Array>) => {
    if (!Array.isArray(values) || !values.every(validValue)) return state.immutable ? headerError("immutable") : headerError("invalid-syntax")
    return mutate(state, name, (lower) => {
      state.entries = state.entries.filter(([n]) => n !== lower)
      for (const value of values) state.entries.push([lower, value.slice()])
    })
  },
  delete: (state: FieldsState, name: string) =>
    mutate(state, name, (lower) => void (state.entries = state.entries.filter(([n]) => n !== lower))),
  append: (state: FieldsState, name: string, value: Uint8Array) =>
    validValue(value) || state.immutable
      ? mutate(state, name, (lower) => void state.entries.push([lower, value.slice()]))
      : headerError("invalid-syntax"),
  entries: (state: FieldsState) => Effect.succeed(copyEntries(state)),
  // A clone is mutable, whatever the original was.
  clone: (state: FieldsState) => fields.make({ entries: copyEntries(state), immutable: false })
}, undefined, [], {
  construct: () => Effect.succeed({ entries: [], immutable: false }),
  statics: {
    fromList: (list: ReadonlyArray<readonly [string, Uint8Array]>) => {
      const entries: Array<[string, Uint8Array]> = []
      for (const entry of Array.isArray(list) ? list : []) {
        const invalid = checkEntry(entry?.[0], entry?.[1])
        if (invalid !== undefined) return headerError(invalid)
        entries.push([entry[0].toLowerCase(), entry[1].slice()])
      }
      return fields.make({ entries, immutable: false })
    }
  }
})

const immutableView = (state: FieldsState): Effect.Effect<object> => fields.make({ entries: state.entries, immutable: true })

// -----------------------------------------------------------------------------
// outgoing requests
// -----------------------------------------------------------------------------

/** Bytes a request body may buffer before it is sent (writes after `handle` stream out). */
export const maxPendingBody = 1024 * 1024

export interface OutgoingBodyState {
  readonly chunks: Array<Uint8Array>
  size: number
  /** Bytes allowed in total: `maxPendingBody` until sent, the service's `maxBodyBytes` after. */
  cap: number
  wire: Egress.Wire | undefined
  streamTaken: boolean
  finished: boolean
  /** Set once the body broke a rule; the exchange fails with it. */
  failed: ErrorCode | undefined
  /** Called when the body breaks a rule after the request was sent. */
  onFail: ((code: ErrorCode) => void) | undefined
}

export interface OutgoingRequestState {
  readonly headers: FieldsState
  method: Variant
  pathWithQuery: string | undefined
  scheme: Variant | undefined
  authority: string | undefined
  readonly body: OutgoingBodyState
  bodyTaken: boolean
  sent: boolean
}

const failBody = (body: OutgoingBodyState, code: ErrorCode): void => {
  if (body.failed !== undefined) return
  body.failed = code
  body.chunks.length = 0
  body.onFail?.(code)
}

const bodySink = (body: OutgoingBodyState): WasiIo.OutputSink => ({
  capacity: 64 * 1024,
  // A body past its cap fails the request (its future answers `HTTP-request-body-size`), not the
  // write: guests treat a failed body write as fatal (StarlingMonkey traps), and the bytes go nowhere
  // either way.
  write: (bytes) => {
    if (body.finished) return Effect.fail({ message: "the request body is finished" })
    if (body.failed !== undefined) return Effect.void
    body.size += bytes.byteLength
    if (body.size > body.cap) {
      failBody(body, { tag: "HTTP-request-body-size", val: BigInt(body.size) })
      return Effect.void
    }
    if (body.wire !== undefined) body.wire.write(bytes.slice())
    else body.chunks.push(bytes.slice())
    return Effect.void
  },
  flush: Effect.void
})

/** `wasi:http/types.outgoing-body`. Dropped without `finish`: the request fails. */
export const outgoingBody: HostResource<OutgoingBodyState> = resource<OutgoingBodyState>("outgoing-body", {
  write: (body: OutgoingBodyState) => {
    if (body.streamTaken || body.finished) return Effect.fail(new HostRefusal({ payload: undefined }))
    body.streamTaken = true
    return WasiIo.makeOutput(bodySink(body))
  }
}, (body) => {
  if (!body.finished) failBody(body, { tag: "internal-error", val: "the request body was dropped before finish" })
}, [], {
  statics: {
    finish: (handle: unknown, trailers: unknown) => {
      const body = outgoingBody.state(handle)
      if (body === undefined) return Effect.fail(new HostRefusal({ payload: { tag: "internal-error", val: "not an outgoing-body" } }))
      // Before the request was sent, `handle` answers the failure; after, its future does.
      if (body.failed !== undefined) {
        body.finished = true
        return Effect.void
      }
      if (trailers !== undefined && trailers !== null) {
        const code: ErrorCode = { tag: "internal-error", val: "request trailers are not supported" }
        failBody(body, code)
        return Effect.fail(new HostRefusal({ payload: code }))
      }
      body.finished = true
      body.wire?.end()
      return Effect.void
    }
  }
})

const setter = <K extends "pathWithQuery" | "authority">(key: K) => (state: OutgoingRequestState, value: unknown) => {
  if (value !== undefined && value !== null && typeof value !== "string") return Effect.fail(new HostRefusal({ payload: undefined }))
  state[key] = (value ?? undefined) as OutgoingRequestState[K]
  return Effect.void
}

/** `wasi:http/types.outgoing-request`. */
export const outgoingRequest: HostResource<OutgoingRequestState> = resource<OutgoingRequestState>("outgoing-request", {
  body: (state: OutgoingRequestState) => {
    if (state.bodyTaken || state.sent) return Effect.fail(new HostRefusal({ payload: undefined }))
    state.bodyTaken = true
    return outgoingBody.make(state.body)
  },
  method: (state: OutgoingRequestState) => Effect.succeed(state.method),
  setMethod: (state: OutgoingRequestState, method: Variant) => {
    if (methodOf(method) === undefined) return Effect.fail(new HostRefusal({ payload: undefined }))
    state.method = method
    return Effect.void
  },
  pathWithQuery: (state: OutgoingRequestState) => Effect.succeed(state.pathWithQuery),
  setPathWithQuery: setter("pathWithQuery"),
  scheme: (state: OutgoingRequestState) => Effect.succeed(state.scheme),
  setScheme: (state: OutgoingRequestState, scheme: Variant | undefined) => {
    state.scheme = scheme ?? undefined
    return Effect.void
  },
  authority: (state: OutgoingRequestState) => Effect.succeed(state.authority),
  setAuthority: setter("authority"),
  headers: (state: OutgoingRequestState) => immutableView(state.headers)
}, undefined, [], {
  construct: (headers: unknown) => {
    const given = fields.state(headers)
    if (given === undefined) return Effect.fail(new HostRefusal({ payload: undefined }))
    // The request owns the headers from now on: immutable, as WASI says.
    const owned: FieldsState = { entries: given.entries, immutable: true }
    return Effect.succeed<OutgoingRequestState>({
      headers: owned,
      method: { tag: "get" },
      pathWithQuery: undefined,
      scheme: undefined,
      authority: undefined,
      body: {
        chunks: [],
        size: 0,
        cap: maxPendingBody,
        wire: undefined,
        streamTaken: false,
        finished: false,
        failed: undefined,
        onFail: undefined
      },
      bodyTaken: false,
      sent: false
    })
  }
})

const unsupported = () => Effect.fail(new HostRefusal({ payload: undefined }))

/** `wasi:http/types.request-options`: no timeout is settable (WASI's `err`); the service's timeout holds. */
export const requestOptions: HostResource<undefined> = resource<undefined>("request-options", {
  connectTimeout: () => Effect.succeed(undefined),
  setConnectTimeout: unsupported,
  firstByteTimeout: () => Effect.succeed(undefined),
  setFirstByteTimeout: unsupported,
  betweenBytesTimeout: () => Effect.succeed(undefined),
  setBetweenBytesTimeout: unsupported
}, undefined, [], { construct: () => Effect.succeed(undefined) })

// -----------------------------------------------------------------------------
// responses
// -----------------------------------------------------------------------------

/** One request sent: its progress, shared by its future, response and body. */
export interface Exchange {
  outcome: { readonly head: Egress.WireHead; readonly wire: Egress.Wire } | ErrorCode | undefined
  /** The future's result was taken (`get` answers `err` after). */
  taken: boolean
  readonly ready: WasiIo.PollSource
  /** Ends the exchange now (a drop, a timeout): the connection is closed unless the body was read. */
  readonly abort: () => void
}

interface ResponseState {
  readonly exchange: Exchange
  readonly head: Egress.WireHead
  readonly wire: Egress.Wire
  consumed: boolean
}

interface IncomingBodyState {
  readonly exchange: Exchange
  readonly wire: Egress.Wire
  streamTaken: boolean
  streamOpen: boolean
  dropped: boolean
}

const streamFailure = (failure: Egress.WireFailure): WasiIo.StreamFailure => ({
  message: failure.message,
  detail: errorCodeOf(failure)
})

const bodySource = (body: IncomingBodyState): WasiIo.InputSource => ({
  read: (length) => {
    const chunk = body.wire.read(length)
    if (chunk !== undefined && !(chunk instanceof Uint8Array)) return Effect.fail(streamFailure(chunk))
    return Effect.succeed(chunk)
  },
  poll: { ready: Effect.sync(() => body.wire.readable()), wait: body.wire.waitBody },
  close: () => {
    body.streamOpen = false
    if (body.dropped) body.exchange.abort()
  }
})

/** `wasi:http/types.future-trailers`: no trailers are read, so it is ready with none at once. */
export const futureTrailers: HostResource<{ taken: boolean }> = resource<{ taken: boolean }>("future-trailers", {
  subscribe: () => WasiIo.makePollable(WasiIo.alwaysReady),
  get: (state: { taken: boolean }) => {
    if (state.taken) return Effect.succeed({ tag: "err", val: undefined })
    state.taken = true
    return Effect.succeed({ tag: "ok", val: { tag: "ok", val: undefined } })
  }
})

/** `wasi:http/types.incoming-body`. Dropped with its stream: the exchange ends. */
export const incomingBody: HostResource<IncomingBodyState> = resource<IncomingBodyState>("incoming-body", {
  stream: (body: IncomingBodyState) => {
    if (body.streamTaken) return Effect.fail(new HostRefusal({ payload: undefined }))
    body.streamTaken = true
    body.streamOpen = true
    return WasiIo.makeInput(bodySource(body))
  }
}, (body) => {
  body.dropped = true
  if (!body.streamOpen) body.exchange.abort()
}, [], {
  statics: {
    finish: (handle: unknown) => {
      const body = incomingBody.state(handle)
      if (body !== undefined) {
        body.dropped = true
        if (!body.streamOpen) body.exchange.abort()
      }
      return futureTrailers.make({ taken: false })
    }
  }
})

/** `wasi:http/types.incoming-response`. */
export const incomingResponse: HostResource<ResponseState> = resource<ResponseState>("incoming-response", {
  status: (state: ResponseState) => Effect.succeed(state.head.status),
  headers: (state: ResponseState) =>
    immutableView({
      entries: state.head.headers.map(([n, v]) => [n.toLowerCase(), new TextEncoder().encode(v)]),
      immutable: true
    }),
  consume: (state: ResponseState) => {
    if (state.consumed) return Effect.fail(new HostRefusal({ payload: undefined }))
    state.consumed = true
    return incomingBody.make({ exchange: state.exchange, wire: state.wire, streamTaken: false, streamOpen: false, dropped: false })
  }
}, (state) => {
  // A response dropped before its body was taken: nobody will read it.
  if (!state.consumed) state.exchange.abort()
})

/** `wasi:http/types.future-incoming-response`. Dropped before its response was taken: the exchange ends. */
export const futureIncomingResponse: HostResource<Exchange> = resource<Exchange>("future-incoming-response", {
  subscribe: (exchange: Exchange) => WasiIo.makePollable(exchange.ready),
  get: (exchange: Exchange) => {
    const outcome = exchange.outcome
    if (outcome === undefined) return Effect.succeed(undefined)
    if (exchange.taken) return Effect.succeed({ tag: "err", val: undefined })
    exchange.taken = true
    if (!("head" in outcome)) return Effect.succeed({ tag: "ok", val: { tag: "err", val: outcome } })
    return Effect.map(
      incomingResponse.make({ exchange, head: outcome.head, wire: outcome.wire, consumed: false }),
      (response) => ({ tag: "ok", val: { tag: "ok", val: response } })
    )
  }
}, (exchange) => {
  if (!exchange.taken) exchange.abort()
})

/** Never handed out: this host makes no incoming requests. */
export const incomingRequest: HostResource<undefined> = resource<undefined>("incoming-request", {})
/** Never handed out. */
export const outgoingResponse: HostResource<undefined> = resource<undefined>("outgoing-response", {})
/** Never handed out. */
export const responseOutparam: HostResource<undefined> = resource<undefined>("response-outparam", {})

/** `http-error-code(err)`: the error-code a body stream's `error` carries. */
export const httpErrorCode = (handle: unknown): Effect.Effect<ErrorCode | undefined> => {
  const detail = WasiIo.errorDetail(handle)
  return Effect.succeed(typeof detail === "object" && detail !== null && "tag" in detail ? detail as ErrorCode : undefined)
}

// -----------------------------------------------------------------------------
// sending
// -----------------------------------------------------------------------------

/** What `handle` needs from the host: the checks and limits of the component it is bound for. */
export interface Outbound {
  /** The name check (audited); an `ErrorCode` refuses. */
  readonly authorize: (url: URL) => Effect.Effect<void, ErrorCode>
  /** Resolves and checks every address (audited); the address to connect to. */
  readonly resolve: (url: URL) => Effect.Effect<Egress.Address, ErrorCode>
  /** Starts the exchange on the wire. */
  readonly start: (hop: Egress.Hop) => Effect.Effect<Egress.Wire, Egress.WireFailure>
  /** Records a limit hit (body size, timeout) as a denied decision. */
  readonly refuse: (url: URL, reason: string) => Effect.Effect<void>
  readonly maxBodyBytes: number
  readonly timeout: Duration.Duration
}

const refuseWith = (code: ErrorCode) => Effect.fail(new HostRefusal({ payload: code }))

/** The URL a request names: scheme (default `https`), authority, path with query (default `/`). */
const urlOf = (request: OutgoingRequestState): URL | ErrorCode => {
  const scheme = request.scheme === undefined
    ? "https"
    : request.scheme.tag === "HTTP"
    ? "http"
    : request.scheme.tag === "HTTPS"
    ? "https"
    : undefined
  if (scheme === undefined) return { tag: "HTTP-request-URI-invalid" }
  if (request.authority === undefined || request.authority === "" || /[/?#@\\\s]/.test(request.authority)) {
    return { tag: "HTTP-request-URI-invalid" }
  }
  const path = request.pathWithQuery ?? "/"
  if (!path.startsWith("/") || path.length > 8192) return { tag: "HTTP-request-URI-invalid" }
  const text = `${scheme}://${request.authority}${path}`
  return URL.canParse(text) ? new URL(text) : { tag: "HTTP-request-URI-invalid" }
}

const toBigInt = (n: number) => BigInt(n)

const background = new Scheduler.MixedScheduler()

/**
 * `outgoing-handler.handle`: checks the request (its name, synchronously: a denial is `err`), then
 * resolves, checks addresses and connects in a fiber of its own; the future it answers is ready
 * when the response head came or the exchange failed. The whole exchange (until the response body
 * has come) is bounded by `outbound.timeout`, timed by `Clock`.
 */
export const handle = (outbound: Outbound, requestHandle: unknown, options: unknown): Effect.Effect<object, HostRefusal> =>
  Effect.suspend(() => {
    const request = outgoingRequest.state(requestHandle)
    if (request === undefined || request.sent) return refuseWith({ tag: "internal-error", val: "not an unsent outgoing-request" })
    if (options !== undefined && options !== null && requestOptions.state(options) === undefined && !requestOptions.is(options)) {
      return refuseWith({ tag: "internal-error", val: "not a request-options" })
    }
    const method = methodOf(request.method)
    if (method === undefined) return refuseWith({ tag: "HTTP-request-method-invalid" })
    const url = urlOf(request)
    if (!(url instanceof URL)) return refuseWith(url)
    const body = request.body
    if (body.failed !== undefined) return refuseWith(body.failed)
    if (body.size > outbound.maxBodyBytes) {
      return Effect.flatMap(outbound.refuse(url, "BodyTooLarge (request)"), () => refuseWith({ tag: "HTTP-request-body-size", val: toBigInt(body.size) }))
    }
    request.sent = true
    return Effect.flatMap(Effect.mapError(outbound.authorize(url), (code) => new HostRefusal({ payload: code })), () => {
      const listeners: Array<() => void> = []
      let setup: Fiber.Fiber<unknown> | undefined
      let timer: Fiber.Fiber<unknown> | undefined
      let wire: Egress.Wire | undefined
      let audited: (reason: string) => void = () => {}
      const settle = (outcome: NonNullable<Exchange["outcome"]>) => {
        if (exchange.outcome !== undefined) return
        exchange.outcome = outcome
        for (const listener of listeners.splice(0)) listener()
      }
      const stopTimer = () => {
        timer?.interruptUnsafe()
        timer = undefined
      }
      const exchange: Exchange = {
        outcome: undefined,
        taken: false,
        ready: {
          ready: Effect.sync(() => exchange.outcome !== undefined),
          wait: Effect.callback<void>((resume) => {
            if (exchange.outcome !== undefined) return resume(Effect.void)
            const listener = () => resume(Effect.void)
            listeners.push(listener)
            return Effect.sync(() => void listeners.splice(listeners.indexOf(listener) >>> 0, 1))
          })
        },
        abort: () => {
          stopTimer()
          setup?.interruptUnsafe()
          wire?.abort()
          settle({ tag: "connection-terminated" })
        }
      }
      // After the request is sent, a body over the cap or dropped unfinished fails the exchange.
      body.cap = outbound.maxBodyBytes
      body.onFail = (code) => {
        if (code.tag === "HTTP-request-body-size") audited("BodyTooLarge (request)")
        setup?.interruptUnsafe()
        wire?.abort({ code: code.tag, message: "request body failed" })
        settle(code)
      }
      const send = Effect.gen(function*() {
        const address = yield* outbound.resolve(url)
        // Settled meanwhile (the body failed, the future was dropped): connect nowhere.
        if (exchange.outcome !== undefined) return
        const started = yield* Effect.mapError(
          outbound.start({
            method,
            url,
            address,
            headers: request.headers.entries.map(([n, v]) => [n, new TextDecoder().decode(v)] as const),
            // A body never taken is no body: the request ends with its head.
            body: request.bodyTaken ? "stream" : undefined,
            maxBodyBytes: outbound.maxBodyBytes,
            onEnd: (failure) => {
              if (failure === undefined) return stopTimer()
              if (failure.code === "HTTP-response-body-size") {
                stopTimer()
                audited("BodyTooLarge")
              }
            }
          }),
          errorCodeOf
        )
        wire = started
        body.wire = started
        for (const chunk of body.chunks.splice(0)) started.write(chunk)
        if (body.finished) started.end()
        yield* started.waitHead
        const head = started.head()
        if (head === undefined || "code" in head) return yield* Effect.fail(errorCodeOf(head ?? { code: "internal-error", message: "no response" }))
        settle({ head, wire: started })
      })
      return Effect.gen(function*() {
        // Host calls run on a synchronous scheduler that is done with when the call returns: the
        // exchange's fibers get a scheduler of their own (in the instance's context: its Clock).
        const runFork = Effect.runForkWith(Context.add(yield* Effect.context<never>(), Scheduler.Scheduler, background))
        audited = (reason) => void runFork(outbound.refuse(url, reason))
        setup = runFork(Effect.catch(send, (code) => Effect.sync(() => settle(code))))
        timer = runFork(Effect.flatMap(Effect.sleep(outbound.timeout), () =>
          Effect.flatMap(outbound.refuse(url, "Timeout"), () =>
            Effect.sync(() => {
              setup?.interruptUnsafe()
              wire?.abort({ code: "HTTP-response-timeout", message: `no complete response within ${Duration.format(outbound.timeout)}` })
              settle({ tag: "HTTP-response-timeout" })
            }))))
        return yield* futureIncomingResponse.make(exchange)
      })
    })
  })
