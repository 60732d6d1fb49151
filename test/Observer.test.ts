import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as http from "node:http"
import * as net from "node:net"
import { Audit, DeadLetters } from "../src/index.ts"
import { Observer } from "../src/observer/index.ts"
import { denyMessenger, deployDemo, withHost, trapFlaky } from "./observerHost.ts"

interface Reply {
  readonly status: number
  readonly body: string
  readonly headers: Headers
}

const request = (url: string, init?: RequestInit) =>
  Effect.promise(async (): Promise<Reply> => {
    const response = await fetch(url, init)
    return { status: response.status, body: await response.text(), headers: response.headers }
  })

const get = (path: string, init?: RequestInit) => Effect.flatMap(Observer.Observer, (o) => request(new URL(path, o.url).href, init))

const getJson = (path: string, init?: RequestInit) =>
  Effect.map(get(path, init), (reply) => ({ ...reply, json: JSON.parse(reply.body) as Record<string, any> }))

const post = (path: string, init?: RequestInit) => get(path, { method: "POST", ...init })

/** Lets a supervisor's backoff pass, so a trapped actor is restarted. */
const restartDelay = TestClock.adjust("1 second")

describe("Observer HTTP API", () => {
  it.effect("GET /api/tree and /api/actors: deployed wasm actors, their supervisors, state and counts", () =>
    withHost(Effect.gen(function*() {
      const observer = yield* Observer.Observer
      assert.match(observer.url, /^http:\/\/127\.0\.0\.1:\d+\/$/)
      yield* deployDemo
      const tree = yield* getJson("/api/tree")
      assert.strictEqual(tree.status, 200)
      assert.strictEqual(tree.headers.get("content-type"), "application/json")
      const flaky = tree.json.supervisors.find((s: any) => s.id === "flaky@1")
      assert.strictEqual(flaky.strategy, "OneForOne")
      assert.strictEqual(flaky.status, "running")
      assert.strictEqual(flaky.children[0].id, "flaky@1")
      assert.strictEqual(flaky.children[0].state, "running")
      assert.strictEqual(flaky.children[0].ownRestarts, 0)
      assert.strictEqual(flaky.children[0].details.status, "Running")

      const actors = yield* getJson("/api/actors")
      const ids = actors.json.actors.map((a: any) => a.id).sort()
      assert.deepStrictEqual(ids, ["flaky@1", "greeter@1", "messenger@1"])
      const greeter = actors.json.actors.find((a: any) => a.id === "greeter@1")
      assert.strictEqual(greeter.name, "greeter")
      assert.strictEqual(greeter.version, "1")
      assert.strictEqual(greeter.handled, 3)
      assert.strictEqual(greeter.calls, 3)
      assert.isAtLeast(greeter.latencyMicros, 0)
      // Memory in use against the cap; fuel of the last call against the allowance.
      assert.isAbove(greeter.memoryBytes, 0)
      assert.strictEqual(greeter.memoryCapBytes, 64 * 1024 * 1024)
      assert.isAbove(greeter.fuelUsed, 0)
      assert.strictEqual(greeter.fuelPerCall, 10_000_000)

      const deployments = yield* getJson("/api/deployments")
      assert.deepStrictEqual(
        deployments.json.deployments.map((d: any) => `${d.name}: ${d.versions.map((v: any) => `${v.version} ${v.status}`).join(", ")}`),
        ["flaky: 1 Serving", "messenger: 1 Serving", "greeter: 1 Serving"]
      )
    })))

  it.effect("GET /api/actors/:id: an unknown actor is 404; an unknown endpoint is 404; a write to a read-only one is 405", () =>
    withHost(Effect.gen(function*() {
      yield* deployDemo
      const unknown = yield* getJson("/api/actors/nobody")
      assert.strictEqual(unknown.status, 404)
      assert.strictEqual(unknown.json.error, "no actor \"nobody\"")
      assert.strictEqual((yield* get("/api/nothing")).status, 404)
      assert.strictEqual((yield* get("/nothing")).status, 404)
      assert.strictEqual((yield* post("/api/tree")).status, 405)
      const known = yield* getJson(`/api/actors/${encodeURIComponent("greeter@1")}`)
      assert.strictEqual(known.status, 200)
      assert.strictEqual(known.json.actor.id, "greeter@1")
    })))

  it.effect("a trap shows as a restart, a last error and a dead letter; the sampler keeps a time series", () =>
    withHost(Effect.gen(function*() {
      const observer = yield* Observer.Observer
      yield* deployDemo
      yield* observer.sample
      yield* trapFlaky
      yield* restartDelay
      yield* observer.sample
      const flaky = yield* getJson("/api/actors/flaky@1")
      assert.strictEqual(flaky.json.actor.restarts, 1)
      assert.strictEqual(flaky.json.actor.traps, 1)
      assert.match(flaky.json.actor.lastError, /unreachable/)
      assert.isAtLeast(flaky.json.history.length, 2)
      assert.strictEqual(flaky.json.history[0].restarts, 0)
      assert.strictEqual(flaky.json.history.at(-1).restarts, 1)
      const tree = yield* getJson("/api/tree")
      const child = tree.json.supervisors.find((s: any) => s.id === "flaky@1").children[0]
      assert.strictEqual(child.ownRestarts, 1)
      assert.strictEqual(child.lastExit.reason, "Failure")
      const letters = yield* getJson("/api/dead-letters")
      assert.strictEqual(letters.json.letters.length, 1)
      assert.strictEqual(letters.json.letters[0].target, "flaky@1")
      assert.strictEqual(letters.json.letters[0].reason, "Trapped")
      assert.strictEqual(letters.json.letters[0].preview, "trap: poison")
    })))

  it.effect("the audit stream: a denial, and the chain of the events in memory verifies", () =>
    withHost(Effect.gen(function*() {
      yield* deployDemo
      yield* denyMessenger
      const audit = yield* getJson("/api/audit")
      const denied = audit.json.events.filter((e: any) => e.decision === "denied")
      assert.strictEqual(denied.length, 1)
      assert.strictEqual(denied[0].component, "messenger@1")
      assert.strictEqual(denied[0].resource, "storage")
      assert.strictEqual(audit.json.verification.state, "verified")
      assert.strictEqual(audit.json.verification.events, audit.json.events.length)
    })))

  it.effect("a token: missing or wrong is 401 and audited as a denied ObserverAccess; the right one passes", () =>
    withHost(Effect.gen(function*() {
      const missing = yield* get("/api/tree")
      assert.strictEqual(missing.status, 401)
      assert.strictEqual(missing.headers.get("www-authenticate"), "Bearer realm=\"airssys-wasm observer\"")
      const wrong = yield* get("/api/tree", { headers: { authorization: "Bearer nope" } })
      assert.strictEqual(wrong.status, 401)
      assert.strictEqual((yield* get("/", { headers: { authorization: "Bearer s3cret" } })).status, 200)
      assert.strictEqual((yield* get("/api/tree?token=s3cret")).status, 200)
      const events = (yield* Audit.events).filter((e) => e.capability === "ObserverAccess")
      assert.deepStrictEqual(events.map((e) => `${e.decision} ${e.resource} ${e.detail}`), [
        "denied GET /api/tree missing bearer token",
        "denied GET /api/tree wrong bearer token"
      ])
    }), { token: "s3cret" }))

  it.effect("actions are disabled by default: 403, audited as denied, and nothing happens", () =>
    withHost(Effect.gen(function*() {
      yield* deployDemo
      const restart = yield* post("/api/actors/flaky@1/restart")
      assert.strictEqual(restart.status, 403)
      assert.strictEqual((yield* post("/api/actors/flaky@1/stop")).status, 403)
      assert.strictEqual((yield* post("/api/deployments/greeter/1/drain")).status, 403)
      const overview = yield* getJson("/api/overview")
      assert.strictEqual(overview.json.actionsEnabled, false)
      assert.deepStrictEqual(overview.json.actors.map((a: any) => `${a.id} ${a.status} ${a.incarnations}`).sort(), [
        "flaky@1 Running 1",
        "greeter@1 Running 1",
        "messenger@1 Running 1"
      ])
      const events = (yield* Audit.events).filter((e) => e.capability === "ObserverAction")
      assert.deepStrictEqual(events.map((e) => `${e.decision} ${e.resource}`), [
        "denied restart flaky@1",
        "denied stop flaky@1",
        "denied drain greeter@1"
      ])
    })))

  it.effect("with actions enabled: restart an actor, drain a deployed version, stop an actor — each audited", () =>
    withHost(Effect.gen(function*() {
      yield* deployDemo
      assert.strictEqual((yield* post("/api/actors/flaky@1/restart")).status, 200)
      yield* restartDelay
      const flaky = yield* getJson("/api/actors/flaky@1")
      assert.strictEqual(flaky.json.actor.incarnations, 2)
      assert.strictEqual(flaky.json.actor.status, "Running")

      assert.strictEqual((yield* post("/api/deployments/greeter/1/drain")).status, 200)
      const deployments = yield* getJson("/api/deployments")
      assert.deepStrictEqual(deployments.json.deployments.map((d: any) => d.name), ["flaky", "messenger"])
      assert.strictEqual((yield* post("/api/deployments/greeter/1/drain")).status, 404)

      assert.strictEqual((yield* post("/api/actors/messenger@1/stop")).status, 200)
      assert.strictEqual((yield* post("/api/actors/nobody/stop")).status, 404)
      const events = (yield* Audit.events).filter((e) => e.capability === "ObserverAction")
      assert.deepStrictEqual(events.map((e) => `${e.decision} ${e.resource}`), [
        "granted restart flaky@1",
        "granted drain greeter@1",
        "denied drain greeter@1",
        "granted stop messenger@1",
        "denied stop nobody"
      ])
    }), { actions: true }))

  it.effect("binds to 127.0.0.1 by default; nothing listens on the other addresses; a non-loopback host needs a token", () =>
    Effect.gen(function*() {
      const observer = yield* Observer.Observer
      assert.strictEqual(observer.host, "127.0.0.1")
      // The same port on a non-loopback address of this machine refuses connections.
      const others = Object.values((yield* Effect.promise(() => import("node:os"))).networkInterfaces())
        .flat()
        .filter((a) => a !== undefined && a.family === "IPv4" && !a.internal)
        .map((a) => a!.address)
      for (const address of others) {
        const refused = yield* Effect.promise(() =>
          new Promise<boolean>((resolve) => {
            const socket = net.connect({ host: address, port: observer.port })
            socket.once("connect", () => (socket.destroy(), resolve(false)))
            socket.once("error", () => resolve(true))
          })
        )
        assert.isTrue(refused, `reachable on ${address}`)
      }
      const unprotected = yield* Effect.flip(Observer.make({ host: "0.0.0.0" }))
      assert.strictEqual(unprotected.reason, "Unprotected")
      // A page elsewhere resolving its own name to 127.0.0.1 is refused by the Host check.
      const rebound = yield* Effect.promise(() =>
        new Promise<number>((resolve) => {
          http.get({ host: "127.0.0.1", port: observer.port, path: "/api/tree", headers: { host: "evil.example:80" } }, (res) => {
            res.resume()
            resolve(res.statusCode ?? 0)
          })
        })
      )
      assert.strictEqual(rebound, 403)
    }).pipe(Effect.scoped, Effect.provide(Observer.layer()))
  )

  it.effect("GET /metrics: the Prometheus text format, with the actors' series", () =>
    withHost(Effect.gen(function*() {
      yield* deployDemo
      const metrics = yield* get("/metrics")
      assert.strictEqual(metrics.status, 200)
      assert.match(metrics.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/)
      assert.match(metrics.body, /# TYPE airssys_actor_messages_handled_total counter/)
      assert.match(metrics.body, /airssys_actor_messages_handled_total\{actor="greeter@1"\} \d+/)
      assert.match(metrics.body, /airssys_actor_call_duration_seconds_count\{actor="greeter@1"\} \d+/)
    })))

  it.effect("Server-Sent Events: a client gets the state, then dead letters and samples as they happen", () =>
    withHost(Effect.gen(function*() {
      const observer = yield* Observer.Observer
      yield* deployDemo
      const events = yield* Effect.promise(() => fetch(new URL("/api/events", observer.url)))
      assert.strictEqual(events.headers.get("content-type"), "text/event-stream")
      const reader = events.body!.getReader()
      const decoder = new TextDecoder()
      let received = ""
      const readUntil = (pattern: RegExp) =>
        Effect.promise(async () => {
          while (!pattern.test(received)) {
            const { value, done } = await reader.read()
            if (done) break
            received += decoder.decode(value)
          }
          return received
        })
      yield* readUntil(/event: audit-events\n/)
      assert.match(received, /event: snapshot\ndata: \{/)
      assert.strictEqual(yield* observer.clients, 1)
      yield* trapFlaky
      yield* restartDelay
      yield* observer.sample
      const text = yield* readUntil(/event: dead-letter\ndata: .*\n\n[\s\S]*event: snapshot/)
      const letter = JSON.parse(/event: dead-letter\ndata: (.*)\n/.exec(text)![1]!)
      assert.strictEqual(letter.reason, "Trapped")
      assert.strictEqual(letter.target, "flaky@1")
      yield* Effect.promise(() => reader.cancel())
    })))

  it.effect("a client that stops reading is dropped once its buffer is full; sampling never waits for it", () =>
    withHost(Effect.gen(function*() {
      const observer = yield* Observer.Observer
      yield* deployDemo
      // A raw connection that sends the request and then never reads.
      const socket = net.connect({ host: "127.0.0.1", port: observer.port })
      yield* Effect.promise(() => new Promise((resolve) => socket.once("connect", resolve)))
      socket.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${observer.port}\r\n\r\n`)
      socket.pause()
      while ((yield* observer.clients) === 0) yield* Effect.promise(() => new Promise((r) => setTimeout(r, 5)))
      // Many samples, far more bytes than the socket buffers hold: each returns without waiting.
      let samples = 0
      while ((yield* observer.clients) > 0 && samples < 20_000) {
        yield* observer.sample
        samples++
        if (samples % 50 === 0) yield* Effect.promise(() => new Promise((r) => setImmediate(r)))
      }
      assert.strictEqual(yield* observer.clients, 0)
      assert.strictEqual(yield* observer.droppedClients, 1)
      socket.destroy()
    }), { clientBuffer: 8 }))
})

describe("Observer.layerOtlp", () => {
  it.live("exports metrics and traces over OTLP/HTTP to a collector", () =>
    Effect.gen(function*() {
      const received: Record<string, string> = {}
      const collector = http.createServer((req, res) => {
        let body = ""
        req.on("data", (chunk) => (body += chunk))
        req.on("end", () => {
          received[req.url!] = (received[req.url!] ?? "") + body
          res.writeHead(200, { "content-type": "application/json" }).end("{}")
        })
      })
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve))),
        () => Effect.promise(() => new Promise<void>((resolve) => collector.close(() => resolve())))
      )
      const port = (collector.address() as net.AddressInfo).port
      yield* Effect.scoped(
        Effect.gen(function*() {
          yield* deployDemo
        }).pipe(
          withHost,
          Effect.provide(Observer.layerOtlp({ baseUrl: `http://127.0.0.1:${port}`, serviceName: "observer-test" }))
        )
      )
      assert.match(received["/v1/metrics"]!, /airssys_actor_messages_handled_total/)
      assert.match(received["/v1/metrics"]!, /observer-test/)
      assert.match(received["/v1/traces"]!, /Actor\.handleMessage/)
    }).pipe(Effect.scoped))
})

// Keep the layer types used (the test host is built in observerHost.ts).
void Layer.empty
void DeadLetters.makeStore
