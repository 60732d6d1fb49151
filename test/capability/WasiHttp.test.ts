import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Audit from "../../src/Audit.ts"
import * as Capability from "../../src/Capability.ts"
import * as Clocks from "../../src/capability/Clocks.ts"
import * as Stdio from "../../src/capability/Stdio.ts"
import * as WasiHttp from "../../src/capability/WasiHttp.ts"
import * as Component from "../../src/Component.ts"
import * as Linker from "../../src/Linker.ts"
import { decode, guestPath, text } from "../fixtures.ts"
import { scriptedResolver } from "./scriptedResolver.ts"

/**
 * A local server that counts connections and requests. Routes: `/hello` → 200 "hello" with
 * `x-echo` = the request's `x-echo` header; `/echo` → 200 with the request body (method in
 * `x-echo`); `/chunks` → 200, three chunks written apart; `/to-hello` → 302 to `/hello`; `/big` → 64 KiB;
 * `/hang` → never answers.
 */
const server = (host = "127.0.0.1") =>
  Effect.acquireRelease(
    Effect.callback<{ port: number; hits: Map<string, number>; connections: () => number; hung: Promise<void>; srv: http.Server }>((resume) => {
      const hits = new Map<string, number>()
      let connections = 0
      let hang: () => void = () => {}
      const hung = new Promise<void>((resolve) => (hang = resolve))
      const srv = http.createServer((req, res) => {
        const path = req.url ?? ""
        hits.set(path, (hits.get(path) ?? 0) + 1)
        switch (path) {
          case "/hello":
            return res.writeHead(200, { "x-echo": String(req.headers["x-echo"] ?? "") }).end("hello")
          case "/echo": {
            const parts: Array<Buffer> = []
            req.on("data", (c: Buffer) => parts.push(c))
            req.on("end", () => res.writeHead(200, { "x-echo": `${req.method} ${req.headers["transfer-encoding"] ?? "length"}` }).end(Buffer.concat(parts)))
            return
          }
          case "/chunks":
            res.writeHead(200)
            res.write("one,")
            setTimeout(() => res.write("two,"), 20)
            setTimeout(() => res.end("three"), 40)
            return
          case "/to-hello":
            return res.writeHead(302, { location: "/hello" }).end()
          case "/big":
            return res.writeHead(200).end(Buffer.alloc(64 * 1024, 0x61))
          case "/hang":
            return hang()
          default:
            return res.writeHead(404).end("not found")
        }
      })
      srv.on("connection", () => void connections++)
      srv.listen(0, host, () => resume(Effect.succeed({ port: (srv.address() as AddressInfo).port, hits, connections: () => connections, hung, srv })))
    }),
    (s) => Effect.sync(() => {
      s.srv.closeAllConnections()
      s.srv.close()
    })
  )

const guest = Component.fromFile(guestPath("fetch-js"))

const host = (options?: WasiHttp.Options, resolver: Layer.Layer<never> = Layer.empty) =>
  Linker.layer([...WasiHttp.hostInterfaces, ...Clocks.hostInterfaces, ...Stdio.hostInterfaces]).pipe(
    Layer.provideMerge(Layer.mergeAll(WasiHttp.layer(options), Clocks.layer, Stdio.layerMemory, Audit.layerMemory({ capacity: 200 }))),
    Layer.provide(resolver)
  )

const withGuest = <A, E, R>(grants: ReadonlyArray<Capability.Capability>, body: (fetch: (request: object) => Effect.Effect<string, unknown>) => Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const instance = yield* Linker.instantiate(yield* guest, { id: "fetcher", grants: Capability.makeGrants(grants) })
    return yield* body((request) => Effect.map(instance.process(text(JSON.stringify(request))), decode))
  })

const events = Effect.map(Audit.events, (all) =>
  all.filter((e) => e.kind === "capability" && e.detail !== "link").map((e) => `${e.resource} ${e.decision} ${e.detail ?? ""}`.trim()))

const local = (port: number) => new Capability.NetworkOutbound({ host: "127.0.0.1", port })


const isError = (answer: string) => assert.match(answer, /^error: /)

describe("WasiHttp", () => {
  it.effect("a componentize-js guest's fetch: GET with headers, POST with a body, audited", () =>
    Effect.gen(function*() {
      const { port, hits } = yield* server()
      yield* withGuest([local(port)], (fetch) =>
        Effect.gen(function*() {
          assert.strictEqual(yield* fetch({ url: `http://127.0.0.1:${port}/hello`, headers: { "x-echo": "hi" } }), "200\nhi\nhello")
          assert.strictEqual(yield* fetch({ url: `http://127.0.0.1:${port}/echo`, method: "POST", body: "posted" }), "200\nPOST length\nposted")
          assert.strictEqual(yield* fetch({ url: `http://127.0.0.1:${port}/nothing` }), "404\n\nnot found")
          assert.strictEqual(hits.get("/hello"), 1)
          assert.deepStrictEqual(yield* events, [
            `127.0.0.1:${port} granted wasi:http/outgoing-handler#handle`,
            `127.0.0.1:${port} granted wasi:http/outgoing-handler#handle`,
            `127.0.0.1:${port} granted wasi:http/outgoing-handler#handle`
          ])
        }))
    }).pipe(Effect.provide(host())))

  it.effect("streamed bodies: a ReadableStream request body goes out chunked; a response read chunk by chunk", () =>
    Effect.gen(function*() {
      const { port } = yield* server()
      yield* withGuest([local(port)], (fetch) =>
        Effect.gen(function*() {
          assert.strictEqual(
            yield* fetch({ url: `http://127.0.0.1:${port}/echo`, method: "POST", chunks: ["a", "bb", "ccc"] }),
            "200\nPOST chunked\nabbccc"
          )
          assert.strictEqual(yield* fetch({ url: `http://127.0.0.1:${port}/chunks`, read: "stream" }), "200\n\nchunked:one,two,three")
        }))
    }).pipe(Effect.provide(host())))

  it.effect("redirects: the host follows none; each hop a guest follows is a request of its own, checked and audited", () =>
    Effect.gen(function*() {
      const { port, hits } = yield* server()
      yield* withGuest([local(port)], (fetch) =>
        Effect.gen(function*() {
          // The host never follows: StarlingMonkey's fetch (componentize-js 0.23) hands the 302 back.
          assert.strictEqual(yield* fetch({ url: `http://127.0.0.1:${port}/to-hello` }), "302\n\n")
          // A guest that follows `location` itself: the second hop is checked like the first.
          assert.strictEqual(yield* fetch({ url: `http://127.0.0.1:${port}/to-hello`, redirect: "manual" }), "200\n\nhello")
          assert.strictEqual(hits.get("/to-hello"), 2)
          assert.strictEqual(hits.get("/hello"), 1)
          assert.strictEqual((yield* events).length, 3)
        }))
    }).pipe(Effect.provide(host())))

  it.effect("denied: a host outside the grants, and layerDeny; nothing reaches the server", () =>
    Effect.gen(function*() {
      const { port, connections } = yield* server()
      yield* withGuest([local(port)], (fetch) =>
        Effect.gen(function*() {
          isError(yield* fetch({ url: `http://localhost:${port}/hello` }))
          isError(yield* fetch({ url: `http://127.0.0.1:${port + 1}/hello` }))
          assert.strictEqual(connections(), 0)
          assert.deepStrictEqual(yield* events, [
            `localhost:${port} denied wasi:http/outgoing-handler#handle`,
            `127.0.0.1:${port + 1} denied wasi:http/outgoing-handler#handle`
          ])
        }))
      yield* withGuest([local(port)], (fetch) =>
        Effect.gen(function*() {
          isError(yield* fetch({ url: `http://127.0.0.1:${port}/hello` }))
          assert.strictEqual(connections(), 0)
          assert.strictEqual((yield* events).at(-1), `127.0.0.1:${port} denied wasi:http/outgoing-handler#handle: no outbound HTTP on this host`)
        })).pipe(Effect.provide(Linker.layer([...WasiHttp.hostInterfaces, ...Clocks.hostInterfaces, ...Stdio.hostInterfaces]).pipe(
          Layer.provide(Layer.mergeAll(WasiHttp.layerDeny, Clocks.layer, Stdio.layerMemory)),
          Layer.provideMerge(Audit.layerMemory({ capacity: 20 }))
        )))
    }).pipe(Effect.provide(host())))

  it.effect("limits: an oversized response body and an oversized request body fail the fetch, audited; the guest carries on", () =>
    Effect.gen(function*() {
      const { port } = yield* server()
      yield* withGuest([local(port)], (fetch) =>
        Effect.gen(function*() {
          isError(yield* fetch({ url: `http://127.0.0.1:${port}/big` }))
          isError(yield* fetch({ url: `http://127.0.0.1:${port}/echo`, method: "POST", chunks: ["x".repeat(800), "y".repeat(800)] }))
          assert.strictEqual(yield* fetch({ url: `http://127.0.0.1:${port}/hello` }), "200\n\nhello")
          const denied = (yield* events).filter((e) => e.includes("denied"))
          assert.deepStrictEqual(denied, [
            `127.0.0.1:${port} denied wasi:http/outgoing-handler#handle: BodyTooLarge`,
            `127.0.0.1:${port} denied wasi:http/outgoing-handler#handle: BodyTooLarge (request)`
          ])
        }))
    }).pipe(Effect.provide(host({ maxBodyBytes: 1024 }))))

  it.effect("timeout: a server that never answers; the suspended guest is woken by the Clock (TestClock here)", () =>
    Effect.gen(function*() {
      const { port, hung } = yield* server()
      yield* withGuest([local(port)], (fetch) =>
        Effect.gen(function*() {
          const call = yield* Effect.forkChild(fetch({ url: `http://127.0.0.1:${port}/hang` }), { startImmediately: true })
          yield* Effect.promise(() => hung)
          yield* TestClock.adjust("2 seconds")
          isError(yield* Fiber.join(call))
          assert.strictEqual((yield* events).at(-1), `127.0.0.1:${port} denied wasi:http/outgoing-handler#handle: Timeout`)
          assert.strictEqual(yield* fetch({ url: `http://127.0.0.1:${port}/hello` }), "200\n\nhello")
        }))
    }).pipe(Effect.provide(host({ timeout: "2 seconds" }))))

  it.effect("a guest blocked on a response is bound by its call's timeout; the exchange still ends at its own", () =>
    Effect.gen(function*() {
      const { port, hung, srv } = yield* server()
      let open = 0
      let allClosed: () => void = () => {}
      const closed = new Promise<void>((resolve) => (allClosed = resolve))
      srv.on("connection", (socket) => {
        open++
        socket.on("close", () => {
          if (--open === 0) allClosed()
        })
      })
      yield* withGuest([local(port)], (fetch) =>
        Effect.gen(function*() {
          const call = yield* Effect.forkChild(Effect.flip(fetch({ url: `http://127.0.0.1:${port}/hang` })), { startImmediately: true })
          yield* Effect.promise(() => hung)
          // The instance's per-call timeout (5 s by default) ends the call; the guest stays parked.
          yield* TestClock.adjust("5 seconds")
          const error = (yield* Fiber.join(call)) as { readonly _tag: string; readonly reason?: string }
          assert.strictEqual(error._tag, "LimitExceeded")
          assert.strictEqual(open, 1)
          // The exchange it left behind ends at the service's timeout: the connection is closed.
          yield* TestClock.adjust("25 seconds")
          assert.strictEqual((yield* events).at(-1), `127.0.0.1:${port} denied wasi:http/outgoing-handler#handle: Timeout`)
          yield* Effect.promise(() => closed)
          assert.strictEqual(open, 0)
        }))
    }).pipe(Effect.provide(host({ timeout: "30 seconds" }))))
})

describe("WasiHttp - addresses (SSRF)", () => {
  const refusedAddress = (answer: string, event: string | undefined, address: string, range: string) => {
    isError(answer)
    assert.include(event, `denied wasi:http/outgoing-handler#handle: ${address}`)
    assert.include(event, range)
  }

  it.effect("a granted name resolving to loopback, a private range or cloud metadata is refused; no connection is made", () => {
    const dns = scriptedResolver({
      "loop.test": [["127.0.0.1"]],
      "private.test": [["10.1.2.3"]],
      "metadata.test": [["169.254.169.254"]],
      "mixed.test": [["127.0.0.1", "10.0.0.7"]],
      "mapped.test": [["::ffff:127.0.0.1"]]
    })
    return Effect.gen(function*() {
      const { port, connections } = yield* server()
      const grants = ["loop.test", "private.test", "metadata.test", "mixed.test", "mapped.test"].map((host) => new Capability.NetworkOutbound({ host, port }))
      yield* withGuest([...grants, new Capability.NetworkOutbound({ host: "127.0.0.1", port: 1 })], (fetch) =>
        Effect.gen(function*() {
          refusedAddress(yield* fetch({ url: `http://loop.test:${port}/hello` }), (yield* events).at(-1), "127.0.0.1 (resolved from loop.test)", "loopback (127.0.0.0/8)")
          refusedAddress(yield* fetch({ url: `http://private.test:${port}/hello` }), (yield* events).at(-1), "10.1.2.3", "private (10.0.0.0/8)")
          refusedAddress(yield* fetch({ url: `http://metadata.test:${port}/latest/meta-data/` }), (yield* events).at(-1), "169.254.169.254", "link-local")
          // The loopback answer is allowed by no grant on this port (127.0.0.1 is granted on port 1 only).
          refusedAddress(yield* fetch({ url: `http://mixed.test:${port}/hello` }), (yield* events).at(-1), "127.0.0.1", "loopback")
          refusedAddress(yield* fetch({ url: `http://mapped.test:${port}/hello` }), (yield* events).at(-1), "127.0.0.1", "loopback")
          assert.strictEqual(connections(), 0)
          // Each name was checked (granted) by name first, then refused by address: two events per request.
          assert.strictEqual((yield* events).length, 10)
        }))
    }).pipe(Effect.provide(host(undefined, dns.layer)))
  })

  it.effect("IPv4 in decimal, octal and hex, and IPv4-mapped IPv6, are the loopback address: refused even under the `*` grant", () =>
    Effect.gen(function*() {
      const { port, connections } = yield* server()
      yield* withGuest([new Capability.NetworkOutbound({ host: "*" })], (fetch) =>
        Effect.gen(function*() {
          for (const host of ["2130706433", "0177.0.0.1", "0x7f.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "127.1"]) {
            refusedAddress(yield* fetch({ url: `http://${host}:${port}/hello` }), (yield* events).at(-1), "127.0.0.1 is loopback", "127.0.0.0/8")
          }
          refusedAddress(yield* fetch({ url: `http://[::1]:${port}/hello` }), (yield* events).at(-1), "::1 is loopback", "::1/128")
          refusedAddress(yield* fetch({ url: `http://0.0.0.0:${port}/hello` }), (yield* events).at(-1), "0.0.0.0 is unspecified", "0.0.0.0/8")
          assert.strictEqual(connections(), 0)
        }))
    }).pipe(Effect.provide(host())))

  it.effect("an address grant lets a name reach its checked address; a second lookup never happens (rebinding)", () => {
    // First answer: the granted loopback address; any later lookup: a private address nobody granted.
    const dns = scriptedResolver({ "app.test": [["127.0.0.1"], ["10.0.0.1"]] })
    return Effect.gen(function*() {
      const { port, hits } = yield* server()
      yield* withGuest([new Capability.NetworkOutbound({ host: "app.test", port }), local(port)], (fetch) =>
        Effect.gen(function*() {
          // `app.test` is in no system resolver: reaching the server shows the connection went to the
          // address the check resolved, not to a lookup of its own.
          assert.strictEqual(yield* fetch({ url: `http://app.test:${port}/hello` }), "200\n\nhello")
          assert.deepStrictEqual(dns.lookups, ["app.test"])
          assert.strictEqual(hits.get("/hello"), 1)
          // The next request looks up again: the private answer now, refused.
          isError(yield* fetch({ url: `http://app.test:${port}/hello` }))
          assert.strictEqual(hits.get("/hello"), 1)
          assert.include((yield* events).at(-1), "10.0.0.1 (resolved from app.test) is private")
        }))
    }).pipe(Effect.provide(host(undefined, dns.layer)))
  })

  it.effect("IPv6: a server on [::1] is reached under an address grant naming ::1 (a range grant too)", () =>
    Effect.gen(function*() {
      const v6 = yield* Effect.exit(server("::1"))
      if (v6._tag === "Failure") return console.log("skipped: no IPv6 loopback (::1) on this machine")
      const { port, hits } = v6.value
      yield* withGuest([new Capability.NetworkOutbound({ host: "::1", port })], (fetch) =>
        Effect.gen(function*() {
          assert.strictEqual(yield* fetch({ url: `http://[::1]:${port}/hello` }), "200\n\nhello")
          assert.strictEqual(hits.get("/hello"), 1)
        }))
      yield* withGuest([new Capability.NetworkOutbound({ host: "::/127" })], (fetch) =>
        Effect.gen(function*() {
          assert.strictEqual(yield* fetch({ url: `http://[0:0:0:0:0:0:0:1]:${port}/hello` }), "200\n\nhello")
          assert.strictEqual(hits.get("/hello"), 2)
        }))
    }).pipe(Effect.provide(host())))
})

/**
 * The resources driven the way jco's glue drives them (methods on the handles the host made,
 * `Symbol.dispose` for a drop), so drop orders a toolchain never produces can be tried.
 */
describe("WasiHttp - resources dropped in any order", () => {
  type Handle = Record<string | symbol, (...args: ReadonlyArray<unknown>) => unknown>
  type Fn = (...args: ReadonlyArray<unknown>) => Effect.Effect<object, { readonly payload: unknown }>
  const types = WasiHttp.typesInterface.resources!
  const construct = (type: string, ...args: ReadonlyArray<unknown>) => (types[type]!.construct as unknown as Fn)(...args)
  const staticFn = (type: string, name: string, ...args: ReadonlyArray<unknown>) => (types[type]!.statics![name] as unknown as Fn)(...args)
  const call = (handle: unknown, method: string, ...args: ReadonlyArray<unknown>) => (handle as Handle)[method]!(...args)
  const drop = (handle: unknown) => (handle as Handle)[Symbol.dispose]?.()
  const refusal = (f: () => unknown) => {
    try {
      f()
    } catch (thrown) {
      return (thrown as { payload?: unknown }).payload
    }
    return assert.fail("expected an err")
  }

  /** A server that tracks its open sockets. */
  const tracked = Effect.gen(function*() {
    const s = yield* server()
    let open = 0
    const closed: Array<() => void> = []
    s.srv.on("connection", (socket) => {
      open++
      socket.on("close", () => {
        open--
        for (const f of closed.splice(0)) f()
      })
    })
    const allClosed = Effect.promise(() => new Promise<void>((resolve) => open === 0 ? resolve() : closed.push(() => open === 0 ? resolve() : closed.push(resolve as () => void))))
    return { ...s, open: () => open, allClosed }
  })

  const send = (port: number, path: string, method: { tag: string } = { tag: "get" }) =>
    Effect.gen(function*() {
      const functions = (yield* WasiHttp.outgoingHandlerInterface.make)({
        componentId: "driver",
        grants: Capability.makeGrants([local(port)]),
        interface: "wasi:http/outgoing-handler@0.2.10"
      })
      const fields = yield* construct("Fields")
      const request = yield* construct("OutgoingRequest", fields)
      call(request, "setMethod", method)
      call(request, "setScheme", { tag: "HTTP" })
      call(request, "setAuthority", `127.0.0.1:${port}`)
      call(request, "setPathWithQuery", path)
      const body = method.tag === "post" ? call(request, "body") : undefined
      const future = yield* (functions.handle!.run as (r: unknown, o: unknown) => Effect.Effect<object>)(request, undefined)
      return { request, body, future, fields }
    })

  const ready = (future: unknown) => {
    const pollable = call(future, "subscribe")
    return Effect.promise(() => Promise.resolve(call(pollable, "block")))
  }

  it.effect("future dropped before the response; response dropped unread; body dropped before its stream", () =>
    Effect.gen(function*() {
      const s = yield* tracked
      // 1. The future dropped while the server hangs: the connection is closed.
      const hang = yield* send(s.port, "/hang")
      yield* Effect.promise(() => s.hung)
      assert.strictEqual(s.open(), 1)
      drop(hang.future)
      drop(hang.future) // twice: harmless
      yield* s.allClosed
      // 2. The response taken, dropped without reading its body.
      const unread = yield* send(s.port, "/big")
      yield* ready(unread.future)
      const got = call(unread.future, "get") as { tag: string; val: { tag: string; val: unknown } }
      assert.strictEqual(got.val.tag, "ok")
      assert.deepStrictEqual(call(unread.future, "get"), { tag: "err", val: undefined }) // taken already
      drop(got.val.val)
      drop(unread.future)
      yield* s.allClosed
      // 3. Body dropped before its stream (the stream still reads to the end), then the stream.
      const partial = yield* send(s.port, "/chunks")
      yield* ready(partial.future)
      const response = (call(partial.future, "get") as { val: { val: unknown } }).val.val
      const body = call(response, "consume")
      assert.strictEqual(refusal(() => call(response, "consume")), undefined) // once only
      const stream = call(body, "stream")
      drop(response)
      drop(body)
      const chunks: Array<string> = []
      for (;;) {
        yield* Effect.promise(() => Promise.resolve(call(call(stream, "subscribe"), "block")))
        const read = (() => {
          try {
            return call(stream, "read", 1024n) as Uint8Array
          } catch (thrown) {
            return (thrown as { payload: { tag: string } }).payload
          }
        })()
        if (!(read instanceof Uint8Array)) {
          assert.deepStrictEqual(read, { tag: "closed" })
          break
        }
        chunks.push(decode(read))
      }
      assert.strictEqual(chunks.join(""), "one,two,three")
      drop(stream)
      drop(partial.future)
      // 4. A request body dropped unfinished after `handle`: the future answers an error-code.
      const posted = yield* send(s.port, "/echo", { tag: "post" })
      const out = call(posted.body, "write")
      call(out, "write", text("partial"))
      drop(posted.body)
      drop(out)
      yield* ready(posted.future)
      const failed = call(posted.future, "get") as { tag: string; val: { tag: string; val: { tag: string } } }
      assert.strictEqual(failed.val.tag, "err")
      assert.strictEqual(failed.val.val.tag, "internal-error")
      drop(posted.future)
      drop(posted.request)
      drop(posted.fields)
      // The one connection left is the keep-alive socket of the exchange read to its end (3).
      s.srv.closeIdleConnections()
      yield* s.allClosed
      // Nothing left running: the timeouts of every exchange pass without a trace.
      yield* TestClock.adjust("60 seconds")
      assert.strictEqual(s.open(), 0)
    }).pipe(Effect.provide(Layer.mergeAll(WasiHttp.layer(), Audit.layerMemory({ capacity: 50 })))))

  it.effect("unsupported parts answer WASI's errors: request options, trailers, header rules", () =>
    Effect.gen(function*() {
      const options = yield* construct("RequestOptions")
      assert.strictEqual(call(options, "connectTimeout"), undefined)
      assert.strictEqual(refusal(() => call(options, "setConnectTimeout", 1_000_000n)), undefined)
      const fields = yield* construct("Fields")
      assert.deepStrictEqual(refusal(() => call(fields, "append", "host", text("evil.test"))), { tag: "forbidden" })
      assert.deepStrictEqual(refusal(() => call(fields, "append", "bad name", text("x"))), { tag: "invalid-syntax" })
      assert.deepStrictEqual(refusal(() => call(fields, "append", "x-a", text("line\r\nbreak"))), { tag: "invalid-syntax" })
      call(fields, "append", "X-A", text("1"))
      assert.deepStrictEqual(call(fields, "get", "x-a"), [text("1")])
      assert.deepStrictEqual((yield* Effect.flip(staticFn("Fields", "fromList", [["connection", text("close")]]))).payload, { tag: "forbidden" })
      const request = yield* construct("OutgoingRequest", fields)
      // The request owns its headers now: immutable.
      assert.deepStrictEqual(refusal(() => call(call(request, "headers"), "append", "x-b", text("2"))), { tag: "immutable" })
      const body = call(request, "body")
      const trailers = yield* construct("Fields")
      assert.deepStrictEqual((yield* Effect.flip(staticFn("OutgoingBody", "finish", body, trailers))).payload, { tag: "internal-error", val: "request trailers are not supported" })
    }))
})
