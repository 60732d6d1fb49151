/**
 * The observer's HTTP face: the page, the JSON API, the Server-Sent Events stream, `/metrics`, and the
 * actions — behind a bearer token when one is set, and a `Host` check against DNS rebinding.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Queue, Scope, Stream } from "effect"
import { HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import type { ServeError } from "effect/http/HttpServerError"
import * as crypto from "node:crypto"
import * as http from "node:http"
import type { ActionFailure, Engine } from "./engine.ts"

export interface ServerOptions {
  readonly host: string
  readonly port: number
  readonly token: string | undefined
  readonly page: string
  readonly metrics: Effect.Effect<string>
}

export interface Bound {
  readonly host: string
  readonly port: number
  readonly url: string
}

const securityHeaders = {
  "x-content-type-options": "nosniff",
  "cache-control": "no-store",
  "referrer-policy": "no-referrer"
}

const json = (body: unknown, status = 200) =>
  HttpServerResponse.text(JSON.stringify(body), { status, contentType: "application/json", headers: securityHeaders })

const problem = (status: number, error: string, headers?: Record<string, string>) =>
  HttpServerResponse.text(JSON.stringify({ error }), {
    status,
    contentType: "application/json",
    headers: { ...securityHeaders, ...headers }
  })

const digest = (text: string) => crypto.createHash("sha256").update(text).digest()

/** Equal tokens, compared in constant time (over their hashes, so lengths do not leak either). */
const sameToken = (given: string, expected: Buffer) => crypto.timingSafeEqual(digest(given), expected)

const loopbackNames = new Set(["127.0.0.1", "localhost", "[::1]", "::1"])

/** Whether an address is a loopback one (what the observer binds to unless told otherwise). */
export const isLoopback = (host: string): boolean =>
  loopbackNames.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host)

const hostnameOf = (hostHeader: string): string => {
  if (hostHeader.startsWith("[")) return hostHeader.slice(0, hostHeader.indexOf("]") + 1)
  const colon = hostHeader.lastIndexOf(":")
  return colon >= 0 ? hostHeader.slice(0, colon) : hostHeader
}

const segments = (pathname: string): ReadonlyArray<string> | undefined => {
  const parts = pathname.split("/").filter((part) => part.length > 0)
  const decoded: Array<string> = []
  for (const part of parts) {
    // A malformed escape is a bad request, not a crash.
    const value = Effect.runSync(Effect.option(Effect.try(() => decodeURIComponent(part))))
    if (value._tag === "None") return undefined
    decoded.push(value.value)
  }
  return decoded
}

const encoder = new TextEncoder()

export const serve = (engine: Engine, options: ServerOptions): Effect.Effect<Bound, ServeError, Scope.Scope> =>
  Effect.gen(function*() {
    const nodeServer = http.createServer()
    const server = yield* NodeHttpServer.make(() => nodeServer, { host: options.host, port: options.port })
    const address = nodeServer.address()
    const port = typeof address === "object" && address !== null ? address.port : options.port
    const expected = options.token === undefined ? undefined : digest(options.token)
    const allowedHosts = new Set([...loopbackNames, options.host, options.host.includes(":") ? `[${options.host}]` : options.host])

    const unauthorized = (method: string, path: string, detail: string) =>
      Effect.as(
        engine.record({
          kind: "capability",
          component: "observer",
          capability: "ObserverAccess",
          resource: `${method} ${path}`,
          decision: "denied",
          detail
        }),
        problem(401, detail, { "www-authenticate": "Bearer realm=\"airssys-wasm observer\"" })
      )

    const action = (
      method: string,
      path: string,
      resource: string,
      run: Effect.Effect<void, ActionFailure>
    ): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
      if (method !== "POST") return Effect.succeed(problem(405, "actions are POST requests", { allow: "POST" }))
      const audit = (decision: "granted" | "denied", detail: string) =>
        engine.record({ kind: "capability", component: "observer", capability: "ObserverAction", resource, decision, detail })
      if (!engine.settings.actions) {
        return Effect.as(audit("denied", "actions are disabled"), problem(403, "actions are disabled on this observer"))
      }
      return Effect.matchEffect(run, {
        onFailure: (failure) => Effect.as(audit("denied", failure.message), problem(failure.status, failure.message)),
        onSuccess: () => Effect.as(audit("granted", `${path} done`), json({ ok: true, action: resource }))
      })
    }

    const events = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.gen(function*() {
        const source = request.source
        const socket = "socket" in source ? (source.socket as { destroy?: () => void } | undefined) : undefined
        // Dropped for falling behind: the socket goes too, so a write blocked on it does not linger.
        const queue = yield* engine.connect(() => socket?.destroy?.())
        const stream = Stream.concat(Stream.succeed("retry: 2000\n\n"), Stream.fromQueue(queue)).pipe(
          Stream.map((text) => encoder.encode(text)),
          Stream.ensuring(Effect.andThen(engine.disconnect(queue), Queue.shutdown(queue)))
        )
        return HttpServerResponse.stream(stream, {
          contentType: "text/event-stream",
          headers: { ...securityHeaders, "x-accel-buffering": "no" }
        })
      })

    const route = (
      request: HttpServerRequest.HttpServerRequest,
      method: string,
      path: ReadonlyArray<string>,
      pathname: string
    ): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
      const [first, second, third, fourth] = path
      const get = (response: Effect.Effect<HttpServerResponse.HttpServerResponse>) =>
        method === "GET" || method === "HEAD" ? response : Effect.succeed(problem(405, "read-only endpoint", { allow: "GET" }))
      if (path.length === 0) {
        return get(Effect.succeed(HttpServerResponse.html(options.page).pipe(HttpServerResponse.setHeaders({
          ...securityHeaders,
          "content-security-policy":
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:"
        }))))
      }
      if (first === "metrics" && path.length === 1) {
        return get(Effect.map(options.metrics, (text) =>
          HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4; charset=utf-8", headers: securityHeaders })))
      }
      if (first !== "api") return Effect.succeed(problem(404, `no such page: ${pathname}`))
      switch (second) {
        case "overview":
          if (path.length === 2) return get(Effect.map(engine.overview, (body) => json(body)))
          break
        case "tree":
          if (path.length === 2) return get(Effect.map(engine.supervisors, (supervisors) => json({ supervisors })))
          break
        case "actors":
          if (path.length === 2) return get(Effect.map(engine.actors, (actors) => json({ actors })))
          if (path.length === 3) {
            return get(Effect.map(engine.actor(third!), (found) =>
              found === undefined ? problem(404, `no actor ${JSON.stringify(third)}`) : json(found)))
          }
          if (path.length === 4 && (fourth === "stop" || fourth === "restart")) {
            return action(method, pathname, `${fourth} ${third}`, fourth === "stop" ? engine.stop(third!) : engine.restart(third!))
          }
          break
        case "deployments":
          if (path.length === 2) return get(Effect.map(engine.deployments, (deployments) => json({ deployments })))
          if (path.length === 5 && path[4] === "drain") {
            return action(method, pathname, `drain ${third}@${fourth}`, engine.drain(third!, fourth!))
          }
          break
        case "dead-letters":
          if (path.length === 2) return get(Effect.map(engine.deadLetters, (body) => json(body)))
          break
        case "audit":
          if (path.length === 2) return get(Effect.map(engine.audit, (body) => json(body)))
          break
        case "events":
          if (path.length === 2) return get(events(request))
          break
      }
      return Effect.succeed(problem(404, `no such endpoint: ${pathname}`))
    }

    const app = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const method = request.method
      const url = new URL(request.url, "http://observer")
      const host = request.headers["host"]
      // A page on another site may resolve its own name to 127.0.0.1 (DNS rebinding): only our own names.
      if (host === undefined || !allowedHosts.has(hostnameOf(host))) {
        return problem(403, "unexpected Host header")
      }
      if (expected !== undefined) {
        const header = request.headers["authorization"]
        // EventSource cannot set headers: the page passes the token as `?token=` instead.
        const given = header !== undefined && header.startsWith("Bearer ")
          ? header.slice(7)
          : url.searchParams.get("token") ?? undefined
        if (given === undefined) return yield* unauthorized(method, url.pathname, "missing bearer token")
        if (!sameToken(given, expected)) return yield* unauthorized(method, url.pathname, "wrong bearer token")
      }
      const path = segments(url.pathname)
      if (path === undefined) return problem(400, "malformed path")
      return yield* route(request, method, path, url.pathname)
    })

    yield* HttpServer.serveEffect()(app).pipe(Effect.provideService(HttpServer.HttpServer, server))
    // Runs before the server's own close (finalizers run in reverse): event streams never end by
    // themselves, and Node's close waits for every open connection.
    yield* Effect.addFinalizer(() => Effect.sync(() => nodeServer.closeAllConnections()))
    const shownHost = options.host.includes(":") ? `[${options.host}]` : options.host
    return { host: options.host, port, url: `http://${shownHost}:${port}/` }
  })
