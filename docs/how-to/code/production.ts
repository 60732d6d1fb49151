/**
 * How-to: running in production (docs/how-to/production.md): a cache directory, state in SQLite, the
 * audit log in a JSONL file (verified, anchored), metrics in Prometheus format and traces over OTLP.
 *
 * Run from the repository root, after `node scripts/build-guests.ts`:
 *   node_modules/.bin/node docs/how-to/code/production.ts
 *
 * It starts a tiny OTLP/HTTP receiver on 127.0.0.1 (a stand-in for an OpenTelemetry Collector) and
 * writes into build/production/.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import { FetchHttpClient } from "effect/http"
import { Otlp, OtlpSerialization, PrometheusMetrics } from "effect/observability"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { Actor, Audit, Capability, Component, Linker, Logging, Storage } from "airssys-wasm"

const root = path.resolve(import.meta.dirname, "..", "..", "..")
const dir = path.join(root, "build", "production")
fs.mkdirSync(dir, { recursive: true })
const text = (s: string): Uint8Array => new TextEncoder().encode(s)

// #region host
const HostLive = Linker.layer([Logging.hostInterface, Storage.hostInterface]).pipe(
  Layer.provideMerge(Layer.mergeAll(
    Logging.layer,
    Storage.layer({ filename: path.join(dir, "state.db"), quota: 16 * 1024 * 1024 }),
    // Every capability decision, hash-chained, appended to a file (and kept in memory for inspection).
    Audit.combine(Audit.layerMemory({ capacity: 1000 }), Audit.layerJsonl(path.join(dir, "audit.jsonl")))
  ))
)
// #endregion host

// #region load
const load = (file: string) =>
  // Transpiled and fuel-metered output is kept by hash: the next process (or deploy) skips that work.
  Component.fromFile(file, { cacheDirectory: path.join(dir, "cache") })
// #endregion load

// #region work
const work = Effect.gen(function*() {
  const component = yield* load(path.join(root, "build", "guests", "cap-storage.wasm"))
  const grants = yield* Capability.decodeGrants([{ type: "Storage", namespace: "plugin-a" }])
  const plugin = yield* Linker.instantiate(component, { id: "plugin-a", grants })
  // 's' plugin-a counter 1, then a read of someone else's namespace (denied, audited).
  yield* plugin.process(new Uint8Array([0x73, 8, ...text("plugin-a"), 7, ...text("counter"), 0x31]))
  yield* Effect.ignore(plugin.process(new Uint8Array([0x67, 8, ...text("plugin-b"), 1, 0x6b])))

  const actor = yield* Actor.spawn(yield* load(path.join(root, "build", "guests", "lifecycle.wasm")), { id: "counter" })
  for (let i = 0; i < 3; i++) yield* actor.request(text("tick"))
  yield* Effect.ignore(actor.request(text("trap")))

  // The chain head: store it outside the log (a database, another machine) to detect a cut tail.
  return yield* Audit.Audit.use((audit) => audit.head)
})
// #endregion work

// #region verify
const verify = (anchor: Audit.ChainHead) =>
  Effect.gen(function*() {
    const file = path.join(dir, "audit.jsonl")
    const verified = yield* Audit.verifyFile(file, { expect: anchor })
    yield* Console.log(`audit.jsonl: ${verified.events} events, chain intact up to #${verified.head.sequence}`)

    // Cut the last line off a copy: the copy is still a valid chain, but not against the anchor.
    const lines = fs.readFileSync(file, "utf8").split("\n").filter((line) => line !== "")
    const cut = path.join(dir, "audit-cut.jsonl")
    fs.writeFileSync(cut, lines.slice(0, -1).join("\n") + "\n")
    const error = yield* Effect.flip(Audit.verifyFile(cut, { expect: anchor }))
    yield* Console.log(`audit-cut.jsonl: ${error._tag} (${error._tag === "VerifyError" ? error.reason : ""}): ${error.message}`)
  })
// #endregion verify

// #region metrics
const metrics = Effect.gen(function*() {
  const exposition = yield* PrometheusMetrics.format()
  for (const line of exposition.split("\n")) {
    if (/^airssys_(actor_(messages_handled|traps|incarnations)_total|component_transpiles_total)/.test(line)) yield* Console.log(line)
  }
})
// #endregion metrics

// #region tracing
// Effect's own OTLP exporter: traces, metrics and logs to an OpenTelemetry Collector's HTTP endpoint.
// With a tracer installed, every guest call of an actor is a span (`Actor.handleMessage`).
const Telemetry = (baseUrl: string) =>
  Otlp.layer({ baseUrl, resource: { serviceName: "airssys-host" } }).pipe(
    Layer.provide([FetchHttpClient.layer, OtlpSerialization.layerJson])
  )
// #endregion tracing

// A stand-in for the collector: counts the spans it receives, by name.
const collector = () => {
  const spans = new Map<string, number>()
  const server = http.createServer((request, response) => {
    let body = ""
    request.on("data", (chunk) => (body += chunk))
    request.on("end", () => {
      if (request.url === "/v1/traces") {
        for (const match of body.matchAll(/"name":"([^"]+)","kind"/g)) spans.set(match[1]!, (spans.get(match[1]!) ?? 0) + 1)
      }
      response.end("{}")
    })
  })
  return new Promise<{ url: string; spans: Map<string, number>; close: () => void }>((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        spans,
        close: () => server.close()
      })))
}

const main = Effect.gen(function*() {
  const otlp = yield* Effect.promise(collector)
  // The telemetry layer is closed (and flushed) when this scope ends.
  const anchor = yield* work.pipe(Effect.scoped, Effect.provide(HostLive), Effect.provide(Telemetry(otlp.url)))
  yield* verify(anchor)
  yield* metrics
  yield* Console.log(`collector received spans: ${JSON.stringify(Object.fromEntries(otlp.spans))}`)
  otlp.close()
})

NodeRuntime.runMain(main)
