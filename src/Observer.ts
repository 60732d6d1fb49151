/**
 * A live observer, served by the host itself: the supervision tree, every actor's mailbox, throughput,
 * latency, memory and fuel, dead letters as they arrive, the audit stream with its chain's verification,
 * and hot deployments — one page in a browser (Erlang's observer is the model), a JSON API for other
 * tools, and a Prometheus `/metrics` endpoint.
 *
 * ```ts
 * const HostLive = Observer.layer({ port: 4000 }).pipe(Layer.provideMerge(Deployment.Deployment.layer), ...)
 * // open http://127.0.0.1:4000/
 * ```
 *
 * **What it shows.** Whatever the services in its environment know: actors in the `Registry`, versions
 * and their supervisors in `Deployment`, supervisors and actors added with `watch` / `watchActor` (and trees
 * read elsewhere, such as a cluster's runners', with `watchTrees`), dead
 * letters from `DeadLetters`, audit events from an `Audit` with a memory sink (`Audit.layerMemory`, or one
 * combined with a file) and its chain's verification (the events in memory, or the JSONL file named by
 * `auditFile`). A service that is not there is simply not shown.
 *
 * **Safe by default.** It binds to `127.0.0.1`; binding elsewhere needs a `token`. With a `token`, every
 * request must carry `Authorization: Bearer <token>` (or `?token=` — the browser's `EventSource` cannot
 * set headers); a request without it gets 401 and is audited as a denied `ObserverAccess`. Requests whose
 * `Host` header is not one of the observer's own names get 403 (a page elsewhere cannot reach it through
 * DNS rebinding). It is read-only unless `actions: true`: then an operator can restart or stop an actor
 * and drain a deployed version, and every attempt is audited as an `ObserverAction` (denied when actions
 * are off).
 *
 * **Costs.** Nothing runs on a guest call, and nothing at all while no browser is connected: then the
 * sampler, which reads the host once per `interval` (default 1 s), only wakes up to find nobody there
 * (the JSON API reads on demand), and a chart's history starts when the first browser connects. Each
 * connected client has a bounded buffer (`clientBuffer` frames); a client that falls behind — a slow or
 * vanished browser — is dropped (its connection closed) instead of slowing the host or growing memory.
 * bench/observer.ts measures a request with the observer present and no client against none.
 *
 * **Metrics.** `/metrics` serves every Effect metric in the Prometheus text format (`metricNames` lists
 * ours); `layerOtlp` exports metrics and traces over OTLP/HTTP with Effect's own exporters.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Metric, Option, Schedule, Schema } from "effect"
import type { Scope } from "effect"
import { FetchHttpClient } from "effect/http"
import { type OtlpExporter, OtlpMetrics, OtlpSerialization, OtlpTracer, PrometheusMetrics } from "effect/observability"
import * as Actor from "./Actor.ts"
import * as Audit from "./Audit.ts"
import * as DeadLetters from "./DeadLetters.ts"
import * as Deployment from "./Deployment.ts"
import * as Engine from "./internal/observer/engine.ts"
import { page } from "./internal/observer/page.ts"
import * as Server from "./internal/observer/server.ts"
import * as Registry from "./Registry.ts"
import type * as Supervisor from "./Supervisor.ts"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Default `127.0.0.1`. Any other than a loopback address needs a `token`. */
  readonly host?: string | undefined
  /** Default 0: a free port, read back from `Observer.url`. */
  readonly port?: number | undefined
  /** Required on every request when set (bearer token, or `?token=`). */
  readonly token?: string | undefined
  /** Allow restart / stop of actors and draining of deployed versions. Default `false` (read-only). */
  readonly actions?: boolean | undefined
  /** How often the sampler reads the host. Default 1 second. */
  readonly interval?: Duration.Input | undefined
  /** Samples kept per actor for its chart. Default 120. */
  readonly history?: number | undefined
  /** Frames buffered per connected client before it counts as fallen behind and is dropped. Default 256. */
  readonly clientBuffer?: number | undefined
  /** Dead letters and audit events shown (and sent to a new client). Default 200. */
  readonly recent?: number | undefined
  /** A JSONL audit log to verify (`Audit.verifyFile`) instead of the events kept in memory. */
  readonly auditFile?: string | undefined
}

/**
 * One actor as the API shows it: its `Actor.Stats`, where it was found (`name`, `version`), and what the
 * sampler derived (`restarts`, `handledPerSecond`, `latencyMicros`, `calls`).
 *
 * @since 0.1.0
 * @category models
 */
export type ActorView = Engine.ActorView

/**
 * One point of an actor's time series (`GET /api/actors/:id` → `history`).
 *
 * @since 0.1.0
 * @category models
 */
export type Point = Engine.Point

/**
 * What `GET /api/overview` (and each `snapshot` event) carries.
 *
 * @since 0.1.0
 * @category models
 */
export type Overview = Engine.Overview

/**
 * Where the audit chain's verification stands.
 *
 * @since 0.1.0
 * @category models
 */
export type Verification = Engine.Verification

/**
 * A dead letter as the API shows it (the payload as a short text preview).
 *
 * @since 0.1.0
 * @category models
 */
export type DeadLetterView = Engine.DeadLetterView

/**
 * Why the observer could not start.
 *
 * - `Bind`: the address could not be bound (in use, not available).
 * - `Unprotected`: a non-loopback `host` without a `token`.
 *
 * @since 0.1.0
 * @category errors
 */
export class ObserverError extends Schema.TaggedError<ObserverError>()("ObserverError", {
  reason: Schema.Literals(["Bind", "Unprotected"]),
  message: Schema.String
}) {}

/**
 * The metrics this library records, as `/metrics` names them (Prometheus text format; counters get
 * `_total` as named, histograms `_bucket` / `_sum` / `_count`).
 *
 * @since 0.1.0
 * @category models
 */
export const metricNames: ReadonlyArray<{ readonly name: string; readonly type: string; readonly attributes: string; readonly description: string }> = [
  { name: Actor.metrics.handled.id, type: "counter", attributes: "actor", description: "Messages handled by guests" },
  { name: Actor.metrics.traps.id, type: "counter", attributes: "actor", description: "Guest traps while handling messages" },
  { name: Actor.metrics.incarnations.id, type: "counter", attributes: "actor", description: "Incarnations started (first start and restarts)" },
  { name: Actor.metrics.mailboxDepth.id, type: "gauge", attributes: "actor", description: "Messages waiting in the mailbox" },
  { name: Actor.metrics.callDuration.id, type: "histogram", attributes: "actor", description: "Duration of guest handle-message calls, seconds" },
  { name: "airssys_supervisor_restarts_total", type: "counter", attributes: "supervisor, child", description: "Starts of a child after its first" },
  { name: "airssys_component_transpiles_total", type: "counter", attributes: "", description: "Components transpiled (cache misses)" }
]

/**
 * A running observer.
 *
 * @since 0.1.0
 * @category services
 */
export class Observer extends Context.Service<Observer, {
  /** Where the page is, e.g. `http://127.0.0.1:4000/`. */
  readonly url: string
  readonly host: string
  readonly port: number
  /** Shows a supervisor (and the tree below it) while the scope is open. */
  readonly watch: (supervisor: Supervisor.SupervisorRef) => Effect.Effect<void, never, Scope.Scope>
  /** Shows an actor that is not in the `Registry` while the scope is open. */
  readonly watchActor: (actor: Actor.ActorRef) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Shows the supervision trees `trees` reads, on each sample, while the scope is open: trees of other
   * processes, such as every runner's of a cluster (`Cluster.snapshot`), each naming its `node`.
   */
  readonly watchTrees: (trees: Effect.Effect<ReadonlyArray<Supervisor.SupervisorSnapshot>>) => Effect.Effect<void, never, Scope.Scope>
  /** What `GET /api/overview` returns. */
  readonly overview: Effect.Effect<Overview>
  /** Takes a sample now and sends it to the connected clients (the sampler does this every interval while a client is connected). */
  readonly sample: Effect.Effect<void>
  /** Browsers (event streams) connected now. */
  readonly clients: Effect.Effect<number>
  /** Clients dropped so far because they fell behind. */
  readonly droppedClients: Effect.Effect<number>
}>()("airssys-wasm/Observer") {}

const versionOf = (entry: Registry.Entry) => ({ name: entry.name, version: entry.version })

/**
 * Starts an observer over the services in the environment, serving until the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options?: Options): Effect.Effect<Observer["Service"], ObserverError, Scope.Scope> =>
  Effect.gen(function*() {
    const host = options?.host ?? "127.0.0.1"
    if (!Server.isLoopback(host) && options?.token === undefined) {
      return yield* new ObserverError({
        reason: "Unprotected",
        message: `the observer binds to ${host}, which is not a loopback address: set a token`
      })
    }
    const registry = Option.getOrUndefined(yield* Effect.serviceOption(Registry.Registry))
    const deployment = Option.getOrUndefined(yield* Effect.serviceOption(Deployment.Deployment))
    const audit = Option.getOrUndefined(yield* Effect.serviceOption(Audit.Audit))
    const memoryLog = Option.getOrUndefined(yield* Effect.serviceOption(Audit.MemoryLog))
    const deadLetters = yield* DeadLetters.DeadLetters
    const context = yield* Effect.context<never>()
    const watched = new Set<Supervisor.SupervisorRef>()
    const watchedActors = new Set<Actor.ActorRef>()
    const watchedTrees = new Set<Effect.Effect<ReadonlyArray<Supervisor.SupervisorSnapshot>>>()
    const memorySink = audit?.sinks.find((sink): sink is Audit.MemorySink => "events" in sink)
    const auditEvents = memoryLog?.events ?? memorySink?.events
    const auditFile = options?.auditFile
    const registry_ = Context.get(context, Metric.MetricRegistry)
    const callDurationId = Actor.metrics.callDuration.id

    const sources: Engine.Sources = {
      supervisors: Effect.map(
        deployment === undefined ? Effect.succeed([]) : deployment.supervisors,
        (deployed) => [...watched, ...deployed]
      ),
      trees: Effect.suspend(() => Effect.map(Effect.forEach(Array.from(watchedTrees), (trees) => trees), (all) => all.flat())),
      actors: Effect.map(registry === undefined ? Effect.succeed([]) : registry.list, (entries) => [
        ...entries.map((entry) => ({ ref: entry.ref, ...versionOf(entry) })),
        ...Array.from(watchedActors, (ref) => ({ ref }))
      ]),
      deploymentNames: deployment === undefined ? Effect.succeed([]) : deployment.names,
      versions: (name) => deployment === undefined ? Effect.succeed([]) : deployment.versions(name),
      drain: deployment === undefined ? undefined : (name, version) =>
        Effect.mapError(deployment.unload(name, version), (error) => ({
          status: error.reason === "UnknownName" || error.reason === "UnknownVersion" ? 404 as const : 409 as const,
          message: error.message
        })),
      deadLetters,
      auditEvents,
      auditHead: audit?.head,
      auditFile: auditFile === undefined ? undefined : Audit.verifyFile(auditFile).pipe(
        Effect.map((verified): Engine.Verification => ({ state: "verified", events: verified.events, head: verified.head, source: "file" })),
        Effect.catch((error) =>
          Effect.succeed<Engine.Verification>({
            state: error._tag === "AuditError" ? "unavailable" : "broken",
            events: 0,
            message: error.message,
            source: "file"
          })
        )
      ),
      record: audit === undefined ? undefined : audit.record,
      // Every actor's call-duration series in one pass over the registry (its `actor` attribute names it),
      // instead of a key to compute and look up per actor.
      latencies: Effect.sync(() => {
        const out = new Map<string, Engine.Latency>()
        for (const metadata of registry_.values()) {
          const actor = metadata.attributes?.["actor"]
          if (metadata.id !== callDurationId || typeof actor !== "string") continue
          const state = metadata.hooks.get(context) as Metric.HistogramState
          out.set(actor, { count: state.count, sum: state.sum })
        }
        return out
      })
    }
    const engine = yield* Engine.make(sources, {
      actions: options?.actions === true,
      intervalMillis: Duration.toMillis(Duration.fromInputUnsafe(options?.interval ?? "1 second")),
      history: Math.max(2, options?.history ?? 120),
      clientBuffer: Math.max(4, options?.clientBuffer ?? 256),
      recent: Math.max(1, options?.recent ?? 200)
    })
    const bound = yield* Server.serve(engine, {
      host,
      port: options?.port ?? 0,
      token: options?.token,
      page,
      metrics: PrometheusMetrics.format()
    }).pipe(Effect.mapError((error) => new ObserverError({ reason: "Bind", message: `cannot serve on ${host}:${options?.port ?? 0}: ${String(error.cause)}` })))
    // Samples only while someone watches: without a client the host pays nothing but this wake-up.
    const sampleWhenWatched = Effect.flatMap(engine.clients, (clients) => clients > 0 ? engine.sample : Effect.void)
    yield* Effect.forkScoped(Effect.repeat(sampleWhenWatched, Schedule.spaced(options?.interval ?? "1 second")))

    const track = <A>(set: Set<A>, item: A) =>
      Effect.acquireRelease(Effect.sync(() => void set.add(item)), () => Effect.sync(() => void set.delete(item)))

    return Observer.of({
      url: bound.url,
      host: bound.host,
      port: bound.port,
      watch: (supervisor) => track(watched, supervisor),
      watchActor: (actor) => track(watchedActors, actor),
      watchTrees: (trees) => track(watchedTrees, trees),
      overview: engine.overview,
      sample: engine.sample,
      clients: engine.clients,
      droppedClients: engine.dropped
    })
  })

/**
 * An observer over the services the layer is provided with (`Registry`, `Deployment`, `Audit`, ...),
 * serving until the layer's scope closes.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<Observer, ObserverError> => Layer.effect(Observer, make(options))

/**
 * Exports metrics and traces over OTLP/HTTP (JSON) with Effect's own exporters: metrics to
 * `<baseUrl>/v1/metrics` every `metricsInterval` (default 10 s), spans (`Actor.handleMessage`,
 * `Actor.incarnation`, `Supervisor.start`, ...) to `<baseUrl>/v1/traces`. Installing it installs a tracer,
 * and actors time each guest call with a span of its own (about 6 µs a call). `OtlpExporter.Flusher`
 * exports what is buffered now (before a short-lived process ends).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerOtlp = (options: {
  readonly baseUrl: string
  readonly serviceName?: string | undefined
  readonly headers?: Record<string, string> | undefined
  readonly metricsInterval?: Duration.Input | undefined
  readonly tracesInterval?: Duration.Input | undefined
}): Layer.Layer<OtlpExporter.Flusher> => {
  const base = options.baseUrl.replace(/\/+$/, "")
  const resource = { serviceName: options.serviceName ?? "airssys-wasm" }
  return Layer.mergeAll(
    OtlpMetrics.layer({
      url: `${base}/v1/metrics`,
      resource,
      headers: options.headers,
      exportInterval: options.metricsInterval
    }),
    OtlpTracer.layer({
      url: `${base}/v1/traces`,
      resource,
      headers: options.headers,
      exportInterval: options.tracesInterval
    })
  ).pipe(Layer.provide(Layer.merge(OtlpSerialization.layerJson, FetchHttpClient.layer)))
}
