import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Audit from "../../src/Audit.ts"
import * as Capability from "../../src/Capability.ts"
import * as Clocks from "../../src/capability/Clocks.ts"
import * as Resolver from "../../src/capability/Resolver.ts"
import * as Stdio from "../../src/capability/Stdio.ts"
import * as WasiHttp from "../../src/capability/WasiHttp.ts"
import * as Component from "../../src/Component.ts"
import * as Linker from "../../src/Linker.ts"
import { decode, guestPath, text } from "../fixtures.ts"

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

describe("WasiHttp", () => {
  it.effect("a componentize-js guest's fetch: GET with headers, audited", () =>
    Effect.gen(function*() {
      const { port, hits } = yield* server()
      yield* withGuest([local(port)], (fetch) =>
        Effect.gen(function*() {
          assert.strictEqual(yield* fetch({ url: `http://127.0.0.1:${port}/hello`, headers: { "x-echo": "hi" } }), "200\nhi\nhello")
          assert.strictEqual(hits.get("/hello"), 1)
          assert.deepStrictEqual(yield* events, [`127.0.0.1:${port} granted wasi:http/outgoing-handler#handle`])
        }))
    }).pipe(Effect.provide(host())))
})
