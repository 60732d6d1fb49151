import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Audit from "../../src/Audit.ts"
import * as Http from "../../src/capability/Http.ts"
import * as Capability from "../../src/Capability.ts"
import * as Component from "../../src/Component.ts"
import * as Linker from "../../src/Linker.ts"
import { decode, guestPath, text } from "../fixtures.ts"
import { scriptedResolver } from "./scriptedResolver.ts"

/**
 * A local server on 127.0.0.1 that counts the requests it receives, by path. Routes:
 * `/hello` → 200 "hello from PORT"; `/to-hello` → 302 to `/hello`; `/out` → 302 to `http://localhost:PORT/secret`
 * (the same server under a name the grants do not cover); `/to-inner` → 302 to `http://inner.test:PORT/secret`;
 * `/loop` → 302 to `/loop`; `/big` → 64 KiB;
 * `/hang` → never answers.
 */
interface LocalServer {
  readonly port: number
  /** Requests received, by path. */
  readonly hits: Map<string, number>
  readonly total: () => number
  /** TCP connections accepted. */
  readonly connections: () => number
  /** Resolves when `/hang` has been requested. */
  readonly hung: Promise<void>
  readonly server: http.Server
}

const server = Effect.acquireRelease(
  Effect.callback<LocalServer>((resume) => {
    const hits = new Map<string, number>()
    let hang: () => void = () => {}
    const hung = new Promise<void>((resolve) => (hang = resolve))
    const srv = http.createServer((req, res) => {
      const path = req.url ?? ""
      hits.set(path, (hits.get(path) ?? 0) + 1)
      const port = (srv.address() as AddressInfo).port
      switch (path) {
        case "/hello":
          return res.writeHead(200, { "content-type": "text/plain", "x-probe": "yes" }).end(`hello from ${port}`)
        case "/to-hello":
          return res.writeHead(302, { location: "/hello" }).end()
        case "/out":
          return res.writeHead(302, { location: `http://localhost:${port}/secret` }).end()
        case "/to-inner":
          return res.writeHead(302, { location: `http://inner.test:${port}/secret` }).end()
        case "/loop":
          return res.writeHead(302, { location: "/loop" }).end()
        case "/big":
          return res.writeHead(200).end(Buffer.alloc(64 * 1024, 0x61))
        case "/hang":
          return hang()
        default:
          return res.writeHead(404).end("not found")
      }
    })
    let connections = 0
    srv.on("connection", () => void connections++)
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as AddressInfo).port
      resume(Effect.succeed({ port, hits, total: () => Array.from(hits.values()).reduce((a, b) => a + b, 0), connections: () => connections, hung, server: srv }))
    })
    return Effect.sync(() => srv.close())
  }),
  (started) =>
    Effect.sync(() => {
      started.server.closeAllConnections()
      started.server.close()
    })
)

const probe = Component.fromFile(guestPath("http-probe"))

const capabilityEvents = Effect.map(
  Audit.events,
  (events) => events.filter((event) => event.kind === "capability" && event.detail !== "link").map((event) => `${event.resource} ${event.decision} ${event.detail ?? ""}`.trim())
)

/** Links and instantiates the probe guest with `grants`, against `Http.layer(options)` and an in-memory audit log. */
const withProbe = <A, E, R>(
  grants: ReadonlyArray<Capability.Capability>,
  body: (process: (url: string) => Effect.Effect<string, unknown>) => Effect.Effect<A, E, R>,
  options?: Http.Options,
  http: Layer.Layer<Http.Http, never, Audit.Audit> = Http.layer(options)
) =>
  Effect.gen(function*() {
    const instance = yield* Linker.instantiate(yield* probe, { id: "probe", grants: Capability.makeGrants(grants) })
    return yield* body((url) => Effect.map(instance.process(text(url)), decode))
  }).pipe(
    Effect.provide(Linker.layer([Http.hostInterface]).pipe(
      Layer.provideMerge(http.pipe(Layer.provideMerge(Audit.layerMemory({ capacity: 100 }))))
    ))
  )

const guestError = (effect: Effect.Effect<string, unknown>) =>
  Effect.map(Effect.flip(effect), (error) => {
    const e = error as { _tag: string; payload?: unknown }
    assert.strictEqual(e._tag, "GuestError")
    return String(e.payload)
  })

const local = (port: number) => new Capability.NetworkOutbound({ host: "127.0.0.1", port })

describe("Http", () => {
  it.effect("an allowed host: the guest's fetch reaches the server and the guest answers status and body", () =>
    Effect.gen(function*() {
      const { port, hits } = yield* server
      yield* withProbe([local(port)], (process) =>
        Effect.gen(function*() {
          assert.strictEqual(yield* process(`http://127.0.0.1:${port}/hello`), `200 hello from ${port}`)
          assert.strictEqual(yield* process(`http://127.0.0.1:${port}/nothing`), "404 not found")
          // A redirect within the grants is followed, and checked too.
          assert.strictEqual(yield* process(`http://127.0.0.1:${port}/to-hello`), `200 hello from ${port}`)
          // Another spelling of the granted address is the granted address.
          assert.strictEqual(yield* process(`http://0x7f.1:${port}/hello`), `200 hello from ${port}`)
          assert.strictEqual(hits.get("/hello"), 3)
          assert.deepStrictEqual(yield* capabilityEvents, [
            `127.0.0.1:${port} granted airssys:component/http#fetch`,
            `127.0.0.1:${port} granted airssys:component/http#fetch`,
            `127.0.0.1:${port} granted airssys:component/http#fetch`,
            `127.0.0.1:${port} granted airssys:component/http#fetch: redirect 1`,
            `127.0.0.1:${port} granted airssys:component/http#fetch`
          ])
        }))
    }))

  it.effect("a host outside the allow-list: typed error, audited as denied, no request reaches the server", () =>
    Effect.gen(function*() {
      const { port, total } = yield* server
      yield* withProbe([local(port)], (process) =>
        Effect.gen(function*() {
          // `localhost` is the same server, under a name the grants do not cover.
          const payload = yield* guestError(process(`http://localhost:${port}/hello`))
          assert.include(payload, "Denied")
          assert.include(payload, `localhost:${port}`)
          // Spelling variants are checked as the URL parser normalizes them.
          assert.include(yield* guestError(process(`http://LOCALHOST.:${port}/hello`)), "Denied")
          assert.strictEqual(total(), 0)
          assert.deepStrictEqual(yield* capabilityEvents, [
            `localhost:${port} denied airssys:component/http#fetch`,
            `localhost.:${port} denied airssys:component/http#fetch`
          ])
          // The service gives host code the typed error.
          const http = yield* Http.Http
          const error = yield* Effect.flip(http.fetch(
            { method: "GET", url: `http://localhost:${port}/hello`, headers: [], body: new Uint8Array() },
            { component: "host-code", grants: Capability.makeGrants([local(port)]) }
          ))
          assert.strictEqual(error._tag, "HttpError")
          assert.strictEqual(error.reason, "Denied")
          assert.strictEqual(total(), 0)
        }))
    }))

  it.effect("a redirect from an allowed host to a disallowed one is denied at the redirect", () =>
    Effect.gen(function*() {
      const { port, hits, total } = yield* server
      yield* withProbe([local(port)], (process) =>
        Effect.gen(function*() {
          const payload = yield* guestError(process(`http://127.0.0.1:${port}/out`))
          assert.include(payload, `Denied: capability denied: probe holds no NetworkOutbound grant for localhost:${port}`)
          // The first hop reached the server; the redirect's target never did.
          assert.strictEqual(hits.get("/out"), 1)
          assert.isUndefined(hits.get("/secret"))
          assert.strictEqual(total(), 1)
          assert.deepStrictEqual(yield* capabilityEvents, [
            `127.0.0.1:${port} granted airssys:component/http#fetch`,
            `localhost:${port} denied airssys:component/http#fetch: redirect 1`
          ])
        }))
    }))

  it.effect("the right host on the wrong port is denied; nothing reaches the server on that port", () =>
    Effect.gen(function*() {
      const granted = yield* server
      const other = yield* server
      yield* withProbe([local(granted.port)], (process) =>
        Effect.gen(function*() {
          const payload = yield* guestError(process(`http://127.0.0.1:${other.port}/hello`))
          assert.include(payload, `127.0.0.1:${other.port}`)
          assert.strictEqual(other.total(), 0)
          assert.strictEqual(granted.total(), 0)
          assert.deepStrictEqual(yield* capabilityEvents, [`127.0.0.1:${other.port} denied airssys:component/http#fetch`])
        }))
    }))

  it.effect("limits: redirect loops, oversized bodies and bad URLs are typed refusals; the instance keeps serving", () =>
    Effect.gen(function*() {
      const { port, hits } = yield* server
      yield* withProbe([local(port)], (process) =>
        Effect.gen(function*() {
          assert.include(yield* guestError(process(`http://127.0.0.1:${port}/loop`)), "TooManyRedirects")
          assert.strictEqual(hits.get("/loop"), 3) // the request and 2 redirects
          assert.include(yield* guestError(process(`http://127.0.0.1:${port}/big`)), "BodyTooLarge")
          assert.include(yield* guestError(process("file:///etc/passwd")), "InvalidRequest")
          assert.include(yield* guestError(process(`http://user:pw@127.0.0.1:${port}/hello`)), "InvalidRequest")
          assert.include(yield* guestError(process(`http://[::1]:${port}/hello`)), "Denied")
          // Granted, but nothing listens there: the network's failure, typed.
          const http = yield* Http.Http
          const closed = yield* Effect.flip(http.fetch(
            { method: "GET", url: "http://127.0.0.1:1/", headers: [], body: new Uint8Array() },
            { component: "host-code", grants: Capability.makeGrants([local(1)]) }
          ))
          assert.strictEqual(closed.reason, "Unavailable")
          const withBody = yield* Effect.flip(http.fetch(
            { method: "GET", url: `http://127.0.0.1:${port}/hello`, headers: [], body: text("x") },
            { component: "host-code", grants: Capability.makeGrants([local(port)]) }
          ))
          assert.strictEqual(withBody.reason, "InvalidRequest")
          assert.strictEqual(yield* process(`http://127.0.0.1:${port}/hello`), `200 hello from ${port}`)
          const denied = (yield* Audit.events).filter((event) => event.decision === "denied" && event.component === "probe")
            .map((event) => event.detail)
          assert.deepStrictEqual(denied, [
            "airssys:component/http#fetch: TooManyRedirects",
            "airssys:component/http#fetch: BodyTooLarge",
            "airssys:component/http#fetch"
          ])
        }), { maxRedirects: 2, maxBodyBytes: 1024 })
    }))

  it.effect("timeout: a server that never answers times out by the Clock (TestClock here), audited", () =>
    Effect.gen(function*() {
      const { port, hung } = yield* server
      yield* withProbe([local(port)], (process) =>
        Effect.gen(function*() {
          const call = yield* Effect.forkChild(guestError(process(`http://127.0.0.1:${port}/hang`)), { startImmediately: true })
          yield* Effect.promise(() => hung)
          // Shorter than the instance's own per-call timeout (5 s by default), which would win otherwise.
          yield* TestClock.adjust("2 seconds")
          const payload = yield* Fiber.join(call)
          assert.include(payload, "Timeout")
          const last = (yield* Audit.events).at(-1)!
          assert.strictEqual(last.decision, "denied")
          assert.strictEqual(last.detail, "airssys:component/http#fetch: Timeout")
        }), { timeout: "2 seconds" })
    }))

  it.effect("layerHandler and layerDeny: test doubles that run the same checks, redirects included", () => {
    const seen: Array<string> = []
    const handler: Http.Handler = (hop) =>
      Effect.sync(() => {
        seen.push(hop.url)
        return hop.url.endsWith("/away")
          ? { status: 301, headers: [["location", "https://evil.test/"]], body: new Uint8Array() }
          : { status: 200, headers: [], body: text("ok") }
      })
    const policy = { component: "c", grants: Capability.makeGrants([new Capability.NetworkOutbound({ host: "*.example.com" })]) }
    const get = (url: string) =>
      Effect.flatMap(Http.Http, (http) => http.fetch({ method: "GET", url, headers: [], body: new Uint8Array() }, policy))
    return Effect.gen(function*() {
      assert.strictEqual(decode((yield* get("https://api.example.com/ok")).body), "ok")
      assert.strictEqual((yield* Effect.flip(get("https://api.example.com/away"))).reason, "Denied")
      assert.strictEqual((yield* Effect.flip(get("https://example.org/"))).reason, "Denied")
      // The redirect to evil.test was denied before the handler saw it; example.org never got there.
      assert.deepStrictEqual(seen, ["https://api.example.com/ok", "https://api.example.com/away"])
      const denied = yield* Effect.flip(get("https://api.example.com/ok").pipe(Effect.provide(Http.layerDeny)))
      assert.strictEqual(denied.reason, "Denied")
      assert.deepStrictEqual(
        (yield* Audit.events).map((event) => `${event.resource} ${event.decision}`),
        ["api.example.com:443 granted", "api.example.com:443 granted", "evil.test:443 denied", "example.org:443 denied", "https://api.example.com/ok denied"]
      )
    }).pipe(Effect.provide(Http.layerHandler(handler).pipe(Layer.provideMerge(Audit.layerMemory({ capacity: 10 })))))
  })
})

describe("Http - addresses (SSRF)", () => {

  const refused = (payload: string, event: string | undefined, address: string, range: string) => {
    assert.include(payload, "Denied: address refused")
    assert.include(payload, address)
    assert.include(event, "denied airssys:component/http#fetch")
    assert.include(event, `: ${address}`)
    assert.include(event, range)
  }

  it.effect("a granted name resolving to loopback, a private range or cloud metadata is refused and audited; no connection", () => {
    const dns = scriptedResolver({ "loop.test": [["127.0.0.1"]], "private.test": [["192.168.1.10"]], "metadata.test": [["169.254.169.254"]], "cgnat.test": [["100.64.0.1"]], "mapped.test": [["::ffff:10.0.0.1"]] })
    return Effect.gen(function*() {
      const { port, total, connections } = yield* server
      const grants = ["loop.test", "private.test", "metadata.test", "cgnat.test", "mapped.test"].map((host) => new Capability.NetworkOutbound({ host, port }))
      yield* withProbe(grants, (process) =>
        Effect.gen(function*() {
          refused(yield* guestError(process(`http://loop.test:${port}/hello`)), (yield* capabilityEvents).at(-1), "127.0.0.1 (resolved from loop.test) is loopback", "127.0.0.0/8")
          refused(yield* guestError(process(`http://private.test:${port}/hello`)), (yield* capabilityEvents).at(-1), "192.168.1.10", "private (192.168.0.0/16)")
          refused(yield* guestError(process(`http://metadata.test:${port}/latest`)), (yield* capabilityEvents).at(-1), "169.254.169.254", "link-local")
          refused(yield* guestError(process(`http://cgnat.test:${port}/hello`)), (yield* capabilityEvents).at(-1), "100.64.0.1", "carrier-grade NAT")
          refused(yield* guestError(process(`http://mapped.test:${port}/hello`)), (yield* capabilityEvents).at(-1), "10.0.0.1", "private")
          assert.strictEqual(total(), 0)
          assert.strictEqual(connections(), 0)
        }))
    }).pipe(Effect.provide(dns.layer))
  })

  it.effect("IPv4 in decimal, octal and hex, IPv4-mapped IPv6 and ::1 are loopback: refused even under `*`", () =>
    Effect.gen(function*() {
      const { port, total, connections } = yield* server
      yield* withProbe([new Capability.NetworkOutbound({ host: "*" })], (process) =>
        Effect.gen(function*() {
          for (const host of ["2130706433", "0177.0.0.1", "0x7f.1", "0x7f000001", "[::ffff:127.0.0.1]"]) {
            refused(yield* guestError(process(`http://${host}:${port}/hello`)), (yield* capabilityEvents).at(-1), "127.0.0.1 is loopback", "127.0.0.0/8")
          }
          refused(yield* guestError(process(`http://[::1]:${port}/hello`)), (yield* capabilityEvents).at(-1), "::1 is loopback", "::1/128")
          assert.strictEqual(total(), 0)
          assert.strictEqual(connections(), 0)
        }))
    }))

  it.effect("a redirect to a granted name that resolves to a private address is refused at the redirect", () => {
    const dns = scriptedResolver({ "inner.test": [["10.0.0.5"]] })
    return Effect.gen(function*() {
      const { port, hits } = yield* server
      yield* withProbe([local(port), new Capability.NetworkOutbound({ host: "inner.test" })], (process) =>
        Effect.gen(function*() {
          refused(yield* guestError(process(`http://127.0.0.1:${port}/to-inner`)), (yield* capabilityEvents).at(-1), "10.0.0.5 (resolved from inner.test) is private", "10.0.0.0/8")
          assert.strictEqual(hits.get("/to-inner"), 1)
          assert.strictEqual(hits.get("/secret"), undefined)
          assert.deepStrictEqual((yield* capabilityEvents).slice(-3), [
            `127.0.0.1:${port} granted airssys:component/http#fetch`,
            `inner.test:${port} granted airssys:component/http#fetch: redirect 1`,
            `inner.test:${port} denied airssys:component/http#fetch: redirect 1: 10.0.0.5 (resolved from inner.test) is private (10.0.0.0/8): only a NetworkOutbound grant naming the address or its range reaches it`
          ])
        }))
    }).pipe(Effect.provide(dns.layer))
  })

  it.effect("DNS rebinding: public on the check, loopback on a second lookup; the connection goes to the checked address", () => {
    // 8.8.4.4 is a public address outside every special range, which this test never connects to:
    // the transport below records where each hop was going and only ever dials loopback.
    const dns = scriptedResolver({ "rebind.test": [["8.8.4.4"], ["127.0.0.1"]] })
    const dialed: Array<string> = []
    const recording: Http.Transport = (hop) => {
      dialed.push(hop.address?.address ?? "(none)")
      return hop.address?.address === "127.0.0.1"
        ? Http.nodeTransport(hop)
        : Effect.fail(new Http.HttpError({ reason: "Unavailable", url: hop.url.href, message: "not dialed by the test" }))
    }
    return Effect.gen(function*() {
      const { port, total, connections } = yield* server
      yield* withProbe([new Capability.NetworkOutbound({ host: "rebind.test", port })], (process) =>
        Effect.gen(function*() {
          assert.include(yield* guestError(process(`http://rebind.test:${port}/hello`)), "not dialed by the test")
          // One lookup, at the check; the hop was to the address checked, not to a second answer.
          assert.deepStrictEqual(dns.lookups, ["rebind.test"])
          assert.deepStrictEqual(dialed, ["8.8.4.4"])
          assert.strictEqual(total(), 0)
          // The next call looks up again, gets loopback, and is refused before any dial.
          refused(yield* guestError(process(`http://rebind.test:${port}/hello`)), (yield* capabilityEvents).at(-1), "127.0.0.1 (resolved from rebind.test)", "loopback")
          assert.deepStrictEqual(dialed, ["8.8.4.4"])
          assert.strictEqual(total(), 0)
          assert.strictEqual(connections(), 0)
        }), undefined, Layer.effect(Http.Http, Http.make(recording)))
    }).pipe(Effect.provide(dns.layer))
  })

  it.effect("an address grant lets a name reach its checked address, connecting to it without a lookup of its own", () => {
    const dns = scriptedResolver({ "app.test": [["127.0.0.1"], ["10.0.0.1"]] })
    return Effect.gen(function*() {
      const { port, hits } = yield* server
      yield* withProbe([new Capability.NetworkOutbound({ host: "app.test", port }), new Capability.NetworkOutbound({ host: "127.0.0.0/8", port })], (process) =>
        Effect.gen(function*() {
          // app.test is in no system resolver: the server is reached through the checked address.
          assert.strictEqual(yield* process(`http://app.test:${port}/hello`), `200 hello from ${port}`)
          assert.strictEqual(hits.get("/hello"), 1)
          assert.deepStrictEqual(dns.lookups, ["app.test"])
        }))
    }).pipe(Effect.provide(dns.layer))
  })
})
