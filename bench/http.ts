/**
 * Outbound HTTP from a guest beside Node's own `fetch`, to the same local server (127.0.0.1, a
 * 16-byte answer), in the same run. Requests are sequential: the figure is the latency of one.
 *
 * Rows, per request:
 * - `node fetch`: Node's global `fetch` (undici, keep-alive), called by host code: the baseline.
 * - `node http.request`: Node's `http` client with a keep-alive agent: what our wire is built on.
 * - `Http.fetch (host code)`: the `airssys:component/http` service called from host code: name check
 *   + audit, one resolve-and-check of the address (a literal here), the pinned `http` client.
 * - `http-probe guest (airssys http)`: a WAT guest's `fetch` through `airssys:component/http`,
 *   suspended (JSPI) while the host fetches: the whole `process` call.
 * - `wasi:http guest fetch (componentize-js)`: the fetch-js guest's `fetch` over
 *   `wasi:http/outgoing-handler`: the whole `process` call (JSON in, StarlingMonkey's fetch, the
 *   resources, polls and body stream, text out).
 * - `componentize-js process, no request`: the same guest answering without a request (a URL that
 *   the name check denies at once), so the wasi:http row's cost over it is the request's own.
 *
 * Usage: node bench/http.ts [--smoke]   (or as the `http` suite of bench/run.ts)
 */
import { Effect, Layer } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Audit from "../src/Audit.ts"
import * as Clocks from "../src/capability/Clocks.ts"
import * as Http from "../src/capability/Http.ts"
import * as Stdio from "../src/capability/Stdio.ts"
import * as WasiHttp from "../src/capability/WasiHttp.ts"
import * as Capability from "../src/Capability.ts"
import * as Component from "../src/Component.ts"
import * as Linker from "../src/Linker.ts"
import { guestBytes, text } from "../test/fixtures.ts"
import { measureBatch, type Options, printTable, type Row } from "./harness.ts"

const suite = "http"

export const httpSuite = async (options: Options): Promise<ReadonlyArray<Row>> => {
  const server = http.createServer((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("0123456789abcdef"))
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  const url = `http://127.0.0.1:${port}/`
  const requests = 300
  const grants = Capability.makeGrants([new Capability.NetworkOutbound({ host: "127.0.0.1", port })])

  const nodeFetchNs = await measureBatch(options, requests, async (n) => {
    for (let i = 0; i < n; i++) await (await fetch(url)).arrayBuffer()
  })
  const agent = new http.Agent({ keepAlive: true })
  const nodeHttpNs = await measureBatch(options, requests, async (n) => {
    for (let i = 0; i < n; i++) {
      await new Promise<void>((resolve, reject) => {
        http.get(url, { agent }, (res) => {
          res.on("data", () => {})
          res.on("end", resolve)
        }).on("error", reject)
      })
    }
  })

  // A bounded in-memory audit log (the decisions are recorded, as in production).
  const audit = Audit.layerMemory({ capacity: 1024 })
  const httpLayer = Http.layer().pipe(Layer.provideMerge(audit))
  const hostNs = await Effect.runPromise(Effect.gen(function*() {
    const service = yield* Http.Http
    const request = { method: "GET", url, headers: [], body: new Uint8Array() }
    const policy = { component: "bench", grants }
    return yield* Effect.promise(() =>
      measureBatch(options, requests, (n) =>
        Effect.runPromise(Effect.gen(function*() {
          for (let i = 0; i < n; i++) yield* service.fetch(request, policy)
        }))))
  }).pipe(Effect.provide(httpLayer)))

  const probe = await Effect.runPromise(Component.fromBytes(guestBytes("http-probe")))
  const probeNs = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const instance = yield* Linker.instantiate(probe, { id: "bench-probe", grants })
    const input = text(url)
    return yield* Effect.promise(() =>
      measureBatch(options, requests, (n) =>
        Effect.runPromise(Effect.gen(function*() {
          for (let i = 0; i < n; i++) yield* instance.process(input)
        }))))
  })).pipe(Effect.provide(Linker.layer([Http.hostInterface]).pipe(Layer.provideMerge(httpLayer)))))

  const fetcher = await Effect.runPromise(Component.fromBytes(guestBytes("fetch-js")))
  const wasiLayer = Linker.layer([...WasiHttp.hostInterfaces, ...Clocks.hostInterfaces, ...Stdio.hostInterfaces]).pipe(
    Layer.provideMerge(Layer.mergeAll(WasiHttp.layer(), Clocks.layer, Stdio.layerDeny, audit))
  )
  const [wasiNs, guestOnlyNs] = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const instance = yield* Linker.instantiate(fetcher, { id: "bench-fetch", grants })
    const run = (input: Uint8Array, check: (out: string) => boolean) =>
      Effect.promise(() =>
        measureBatch(options, requests, (n) =>
          Effect.runPromise(Effect.gen(function*() {
            for (let i = 0; i < n; i++) {
              const out = new TextDecoder().decode(yield* instance.process(input))
              if (!check(out)) return yield* Effect.die(new Error(`unexpected answer: ${out.slice(0, 200)}`))
            }
          }))))
    const fetched = yield* run(text(JSON.stringify({ url })), (out) => out === "200\n\n0123456789abcdef")
    const denied = yield* run(text(JSON.stringify({ url: `http://127.0.0.1:${port === 1 ? 2 : 1}/` })), (out) => out.startsWith("error: "))
    return [fetched, denied] as const
  })).pipe(Effect.provide(wasiLayer)))

  agent.destroy()
  server.closeAllConnections()
  server.close()
  return [
    { suite, name: "node fetch", nsPerOp: nodeFetchNs, note: "Node's global fetch, keep-alive, host code" },
    { suite, name: "node http.request", nsPerOp: nodeHttpNs, baseline: "node fetch", note: "keep-alive agent" },
    { suite, name: "Http.fetch (host code)", nsPerOp: hostNs, baseline: ["node fetch", "node http.request"], note: "checks, audit, pinned address" },
    { suite, name: "http-probe guest (airssys http)", nsPerOp: probeNs, baseline: ["node fetch", "Http.fetch (host code)"], note: "WAT guest, JSPI" },
    {
      suite,
      name: "wasi:http guest fetch (componentize-js)",
      nsPerOp: wasiNs,
      baseline: ["node fetch", "componentize-js process, no request"],
      note: "StarlingMonkey fetch over wasi:http"
    },
    {
      suite,
      name: "componentize-js process, no request",
      nsPerOp: guestOnlyNs,
      baseline: "node fetch",
      note: "same guest, request denied by name at handle"
    }
  ]
}

if (import.meta.main) printTable(await httpSuite({ smoke: process.argv.includes("--smoke") }))
