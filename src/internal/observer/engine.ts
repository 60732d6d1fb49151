/**
 * The observer's engine: samples what the host already knows (supervisor snapshots, actor stats, the
 * call-duration histograms, dead letters, the audit chain) into plain JSON views, keeps a short history
 * per actor, and fans updates out to connected clients through bounded queues.
 *
 * Nothing here runs on a guest call: the sampler reads once per interval, and the dead-letter and audit
 * readers run only while a client is connected.
 */
import { type Cause, Clock, Effect, Queue } from "effect"
import type { ActorRef, Stats } from "../../Actor.ts"
import type { AuditEvent, ChainHead, Entry } from "../../Audit.ts"
import type { DeadLetter, Store } from "../../DeadLetters.ts"
import type { Version } from "../../Deployment.ts"
import type { SupervisorRef, SupervisorSnapshot } from "../../Supervisor.ts"
import * as Chain from "../audit/auditChain.ts"

/** An actor the observer shows, and where it was found. */
export interface ActorSource {
  readonly ref: ActorRef
  readonly name?: string | undefined
  readonly version?: string | undefined
}

/** The call-duration histogram of one actor: calls and their total seconds so far. */
export interface Latency {
  readonly count: number
  readonly sum: number
}

/** An operator's action failed: 404 (unknown target) or 409 (refused), with why. */
export interface ActionFailure {
  readonly status: 404 | 409
  readonly message: string
}

/** Everything the engine reads from the host, gathered by the public module from the services present. */
export interface Sources {
  readonly supervisors: Effect.Effect<ReadonlyArray<SupervisorRef>>
  /** Trees read elsewhere (another process's, e.g. a cluster's runners'): shown after the local ones. */
  readonly trees: Effect.Effect<ReadonlyArray<SupervisorSnapshot>>
  readonly actors: Effect.Effect<ReadonlyArray<ActorSource>>
  readonly deploymentNames: Effect.Effect<ReadonlyArray<string>>
  readonly versions: (name: string) => Effect.Effect<ReadonlyArray<Version>>
  readonly drain: ((name: string, version: string) => Effect.Effect<void, ActionFailure>) | undefined
  readonly deadLetters: Store
  readonly auditEvents: Effect.Effect<ReadonlyArray<AuditEvent>> | undefined
  readonly auditHead: Effect.Effect<ChainHead> | undefined
  readonly auditFile: Effect.Effect<Verification> | undefined
  readonly record: ((entry: Entry) => Effect.Effect<void>) | undefined
  /** Each actor's call-duration histogram so far, by actor id. */
  readonly latencies: Effect.Effect<ReadonlyMap<string, Latency>>
}

export interface Settings {
  readonly actions: boolean
  readonly intervalMillis: number
  readonly history: number
  readonly clientBuffer: number
  readonly recent: number
}

/** One point of an actor's time series. */
export interface Point {
  /** Clock time, milliseconds. */
  readonly at: number
  /** Messages handled per second over the interval before `at`. */
  readonly rate: number
  /** Restarts so far (incarnations after the first). */
  readonly restarts: number
  readonly depth: number
  /** Mean guest call duration over the interval, microseconds (absent without calls). */
  readonly latencyMicros?: number
}

/** One actor as the API shows it. */
export interface ActorView extends Stats {
  readonly name?: string
  readonly version?: string
  /** Incarnations after the first. */
  readonly restarts: number
  /** Messages handled per second over the last sample interval. */
  readonly handledPerSecond: number
  /** Mean guest call duration over the last interval (or since start, before a second sample), microseconds. */
  readonly latencyMicros?: number
  /** Guest calls timed so far. */
  readonly calls: number
}

export interface DeploymentView {
  readonly name: string
  readonly versions: ReadonlyArray<Version>
}

export interface DeadLetterView {
  readonly target: string
  readonly sender: string
  readonly topic?: string
  readonly reason: DeadLetter["reason"]
  readonly error: string
  readonly at: number
  readonly bytes: number
  /** The payload's first bytes as text (invalid UTF-8 replaced). */
  readonly preview: string
}

/** Where the audit chain's verification stands. */
export interface Verification {
  /** `verified`: every event seen links to the previous and matches its hash; `broken`: one does not. */
  readonly state: "verified" | "broken" | "unavailable"
  readonly events: number
  readonly head?: ChainHead
  readonly message?: string
  /** What was verified: the events kept in memory (`memory`) or the JSONL file (`file`). */
  readonly source?: "memory" | "file"
}

export interface Overview {
  readonly at: number
  readonly actionsEnabled: boolean
  readonly intervalMillis: number
  readonly clients: number
  readonly supervisors: ReadonlyArray<SupervisorSnapshot>
  readonly actors: ReadonlyArray<ActorView>
  readonly deployments: ReadonlyArray<DeploymentView>
  readonly deadLetters: { readonly total: number; readonly dropped: number }
  readonly audit: Verification
}

interface Track {
  handled: number
  calls: number
  seconds: number
  at: number
  /** What the last sample derived, shown by reads between samples. */
  rate: number
  latencyMicros: number | undefined
  readonly history: Array<Point>
}

interface Client {
  readonly queue: Queue.Queue<string, Cause.Done>
  readonly drop: () => void
}

export interface Engine {
  readonly overview: Effect.Effect<Overview>
  readonly actors: Effect.Effect<ReadonlyArray<ActorView>>
  readonly actor: (id: string) => Effect.Effect<{ readonly actor: ActorView; readonly history: ReadonlyArray<Point> } | undefined>
  readonly supervisors: Effect.Effect<ReadonlyArray<SupervisorSnapshot>>
  readonly deployments: Effect.Effect<ReadonlyArray<DeploymentView>>
  readonly deadLetters: Effect.Effect<{ readonly letters: ReadonlyArray<DeadLetterView>; readonly dropped: number }>
  readonly audit: Effect.Effect<{ readonly events: ReadonlyArray<AuditEvent>; readonly verification: Verification }>
  /** Takes one sample now and sends it to the clients (the sampler does this every interval). */
  readonly sample: Effect.Effect<void>
  /** A new client: its queue of SSE frames (bounded; a client that falls behind is dropped). */
  readonly connect: (drop: () => void) => Effect.Effect<Queue.Queue<string, Cause.Done>>
  readonly disconnect: (queue: Queue.Queue<string, Cause.Done>) => Effect.Effect<void>
  readonly clients: Effect.Effect<number>
  /** Clients dropped because they fell behind. */
  readonly dropped: Effect.Effect<number>
  readonly stop: (id: string) => Effect.Effect<void, ActionFailure>
  readonly restart: (id: string) => Effect.Effect<void, ActionFailure>
  readonly drain: (name: string, version: string) => Effect.Effect<void, ActionFailure>
  readonly record: (entry: Entry) => Effect.Effect<void>
  readonly settings: Settings
}

const decoder = new TextDecoder()

const letterView = (letter: DeadLetter): DeadLetterView => {
  const payload = letter.message.payload
  return {
    target: letter.target,
    sender: letter.message.sender,
    ...(letter.message.topic === undefined ? {} : { topic: letter.message.topic }),
    reason: letter.reason,
    error: letter.error,
    at: letter.at,
    bytes: payload.byteLength,
    preview: decoder.decode(payload.subarray(0, 120))
  }
}

/** Re-derives the hash and link of each event kept in memory (a window of the chain). */
export const verifyWindow = (events: ReadonlyArray<AuditEvent>): Verification => {
  let previous: AuditEvent | undefined
  for (const event of events) {
    if (Chain.hashBody(Chain.encodeBody(event)) !== event.hash) {
      return { state: "broken", events: events.length, source: "memory", message: `event #${event.sequence} does not match its hash` }
    }
    if (previous !== undefined && (event.sequence !== previous.sequence + 1 || event.prev !== previous.hash)) {
      return { state: "broken", events: events.length, source: "memory", message: `event #${event.sequence} does not follow #${previous.sequence}` }
    }
    previous = event
  }
  return {
    state: "verified",
    events: events.length,
    source: "memory",
    ...(previous === undefined ? {} : { head: { sequence: previous.sequence, hash: previous.hash } })
  }
}

const noCalls: Latency = { count: 0, sum: 0 }

const frame = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`

export const make = (sources: Sources, settings: Settings): Effect.Effect<Engine> =>
  Effect.gen(function*() {
    const clock = yield* Clock.Clock
    const tracks = new Map<string, Track>()
    const views = new Map<string, ActorView>()
    const clients = new Set<Client>()
    let droppedClients = 0
    // Dead letters and audit events already sent to clients (counted, so a ring that wraps is handled).
    let lettersSeen = -1
    let auditSeen = -1
    let verification: Verification = { state: "unavailable", events: 0 }

    // Rates and latencies are derived over a sample interval by the sampler (`fresh`); a read between
    // samples shows what the last sample derived.
    const viewOf = (source: ActorSource, stats: Stats, latency: Latency, now: number, fresh: boolean): ActorView => {
      let track = tracks.get(stats.id)
      if (track === undefined) {
        track = { handled: stats.handled, calls: latency.count, seconds: latency.sum, at: now, rate: 0, latencyMicros: undefined, history: [] }
        tracks.set(stats.id, track)
      }
      let rate = track.rate
      let latencyMicros = track.latencyMicros
      if (fresh) {
        const elapsed = (now - track.at) / 1000
        rate = elapsed > 0 ? Math.max(0, stats.handled - track.handled) / elapsed : 0
        const calls = latency.count - track.calls
        latencyMicros = calls > 0 ? ((latency.sum - track.seconds) / calls) * 1e6 : track.latencyMicros
      }
      latencyMicros ??= latency.count > 0 ? (latency.sum / latency.count) * 1e6 : undefined
      const view: { -readonly [K in keyof ActorView]: ActorView[K] } = {
        ...stats,
        restarts: Math.max(0, stats.incarnations - 1),
        handledPerSecond: Math.round(rate * 10) / 10,
        calls: latency.count
      }
      if (source.name !== undefined) view.name = source.name
      if (source.version !== undefined) view.version = source.version
      if (latencyMicros !== undefined) view.latencyMicros = Math.round(latencyMicros * 10) / 10
      return view
    }

    const readActors = (fresh: boolean) => Effect.gen(function*() {
      const now = clock.currentTimeMillisUnsafe()
      const out: Array<{ view: ActorView; stats: Stats; latency: Latency }> = []
      const seen = new Set<string>()
      const latencies = yield* sources.latencies
      for (const source of yield* sources.actors) {
        if (seen.has(source.ref.id)) continue
        seen.add(source.ref.id)
        const stats = yield* source.ref.stats
        const latency = latencies.get(source.ref.id) ?? noCalls
        out.push({ view: viewOf(source, stats, latency, now, fresh), stats, latency })
      }
      return { now, out }
    })

    const currentActors = Effect.map(readActors(false), ({ out }) => {
      for (const { view } of out) views.set(view.id, view)
      return out.map(({ view }) => views.get(view.id)!)
    })

    const supervisors = Effect.zipWith(
      Effect.flatMap(sources.supervisors, (refs) => Effect.forEach(refs, (ref) => ref.snapshot)),
      sources.trees,
      (local, elsewhere) => elsewhere.length === 0 ? local : [...local, ...elsewhere]
    )

    const deployments = Effect.flatMap(sources.deploymentNames, (names) =>
      Effect.forEach(names, (name) => Effect.map(sources.versions(name), (versions): DeploymentView => ({ name, versions }))))

    const verify: Effect.Effect<Verification> = Effect.gen(function*() {
      if (sources.auditFile !== undefined) return verification = yield* sources.auditFile
      if (sources.auditEvents === undefined) return verification = { state: "unavailable", events: 0, message: "no audit events kept in memory (Audit.layerMemory) or file to verify" }
      return verification = verifyWindow(yield* sources.auditEvents)
    })

    const overview: Effect.Effect<Overview> = Effect.gen(function*() {
      const actors = yield* currentActors
      const letters = yield* sources.deadLetters.letters
      const dropped = yield* sources.deadLetters.dropped
      return {
        at: clock.currentTimeMillisUnsafe(),
        actionsEnabled: settings.actions,
        intervalMillis: settings.intervalMillis,
        clients: clients.size,
        supervisors: yield* supervisors,
        actors,
        deployments: yield* deployments,
        deadLetters: { total: letters.length + dropped, dropped },
        audit: verification
      }
    })

    const broadcast = (event: string, data: unknown) => {
      if (clients.size === 0) return
      const text = frame(event, data)
      for (const client of clients) {
        // A client whose buffer is full has fallen behind (a slow or vanished browser): drop it rather
        // than wait for it or buffer without bound.
        if (!Queue.offerUnsafe(client.queue, text)) {
          clients.delete(client)
          droppedClients++
          Queue.endUnsafe(client.queue)
          client.drop()
        }
      }
    }

    const newLetters = Effect.gen(function*() {
      const letters = yield* sources.deadLetters.letters
      const total = letters.length + (yield* sources.deadLetters.dropped)
      if (lettersSeen < 0 || total < lettersSeen) lettersSeen = total
      const fresh = Math.min(total - lettersSeen, letters.length, settings.recent)
      lettersSeen = total
      return letters.slice(letters.length - fresh).map(letterView)
    })

    const newAuditEvents = Effect.gen(function*() {
      if (sources.auditEvents === undefined) return []
      const events = yield* sources.auditEvents
      const last = events.length === 0 ? 0 : events[events.length - 1]!.sequence
      if (auditSeen < 0 || last < auditSeen) auditSeen = last
      const fresh = events.filter((event) => event.sequence > auditSeen).slice(-settings.recent)
      auditSeen = last
      return fresh
    })

    const sample: Effect.Effect<void> = Effect.gen(function*() {
      const { now, out } = yield* readActors(true)
      for (const { view, stats, latency } of out) {
        views.set(view.id, view)
        const track = tracks.get(view.id)!
        track.rate = view.handledPerSecond
        track.latencyMicros = view.latencyMicros
        track.handled = stats.handled
        track.calls = latency.count
        track.seconds = latency.sum
        track.at = now
        track.history.push({
          at: now,
          rate: view.handledPerSecond,
          restarts: view.restarts,
          depth: view.mailboxDepth,
          ...(view.latencyMicros === undefined ? {} : { latencyMicros: view.latencyMicros })
        })
        if (track.history.length > settings.history) track.history.shift()
      }
      // Actors gone from every source: forget them (their history with them).
      if (tracks.size > out.length) {
        const live = new Set(out.map(({ view }) => view.id))
        for (const id of tracks.keys()) {
          if (!live.has(id)) {
            tracks.delete(id)
            views.delete(id)
          }
        }
      }
      if (clients.size === 0) return
      for (const letter of yield* newLetters) broadcast("dead-letter", letter)
      for (const event of yield* newAuditEvents) broadcast("audit", event)
      yield* verify
      broadcast("snapshot", yield* overview)
      broadcast(
        "history",
        Object.fromEntries(out.map(({ view }) => [view.id, tracks.get(view.id)!.history.slice(-1)]))
      )
    })

    const history = () => Object.fromEntries(Array.from(tracks, ([id, track]) => [id, track.history]))

    const connect = (drop: () => void) =>
      Effect.gen(function*() {
        const queue = yield* Queue.bounded<string, Cause.Done>(settings.clientBuffer)
        yield* verify
        // Where the new client starts: the current state, the history so far, the recent letters and events.
        const letters = yield* sources.deadLetters.letters
        const events = sources.auditEvents === undefined ? [] : yield* sources.auditEvents
        if (clients.size === 0) {
          lettersSeen = letters.length + (yield* sources.deadLetters.dropped)
          auditSeen = events.length === 0 ? 0 : events[events.length - 1]!.sequence
        }
        const first = [
          frame("snapshot", yield* overview),
          frame("history", history()),
          frame("dead-letters", letters.slice(-settings.recent).map(letterView)),
          frame("audit-events", events.slice(-settings.recent))
        ]
        Queue.offerAllUnsafe(queue, first.slice(0, settings.clientBuffer))
        clients.add({ queue, drop })
        return queue
      })

    const disconnect = (queue: Queue.Queue<string, Cause.Done>) =>
      Effect.sync(() => {
        for (const client of clients) if (client.queue === queue) clients.delete(client)
      })

    const find = (id: string) =>
      Effect.flatMap(sources.actors, (actors) => {
        const found = actors.find((source) => source.ref.id === id)
        return found === undefined
          ? Effect.fail<ActionFailure>({ status: 404, message: `no actor ${JSON.stringify(id)}` })
          : Effect.succeed(found.ref)
      })

    const actor = (id: string) =>
      Effect.gen(function*() {
        const actors = yield* currentActors
        const view = actors.find((actor) => actor.id === id)
        if (view === undefined) return undefined
        return { actor: view, history: tracks.get(id)?.history ?? [] }
      })

    return {
      overview,
      actors: currentActors,
      actor,
      supervisors,
      deployments,
      deadLetters: Effect.gen(function*() {
        const letters = yield* sources.deadLetters.letters
        return { letters: letters.slice(-settings.recent).map(letterView), dropped: yield* sources.deadLetters.dropped }
      }),
      audit: Effect.gen(function*() {
        const events = sources.auditEvents === undefined ? [] : yield* sources.auditEvents
        return { events: events.slice(-settings.recent), verification: yield* verify }
      }),
      sample,
      connect,
      disconnect,
      clients: Effect.sync(() => clients.size),
      dropped: Effect.sync(() => droppedClients),
      stop: (id) => Effect.flatMap(find(id), (ref) => ref.stop()),
      restart: (id) =>
        Effect.flatMap(find(id), (ref) =>
          Effect.flatMap(ref.restart, (restarted) =>
            restarted ? Effect.void : Effect.fail<ActionFailure>({ status: 409, message: `${id} is not running (${ref.status})` }))),
      drain: (name, version) =>
        sources.drain === undefined
          ? Effect.fail({ status: 404, message: "no Deployment service in this host" })
          : sources.drain(name, version),
      record: (entry) => sources.record === undefined ? Effect.void : sources.record(entry),
      settings
    } satisfies Engine
  })
