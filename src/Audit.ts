/**
 * The audit trail: every capability decision and lifecycle event, as a hash chain.
 *
 * `record` stamps an entry with the next sequence number and the time from `Clock`, links it to the
 * previous event by hash, and hands the finished `AuditEvent` to the sinks in sequence order. Sinks: a
 * memory ring (`layerMemory`), a JSONL file (`layerJsonl`) and the Effect logger (`layerLogger`);
 * `combine` runs several behind one chain.
 *
 * **Batches.** `record` sits on every host call, and the sha-256 of an event costs a microsecond or
 * two. When every sink takes batches (`writeBatch`: the memory ring and the JSONL file do), `record`
 * only appends the entry and its time to a pending list, O(1); the chain (canonical JSON, hashes) is
 * computed and written in one pass when the batch is flushed: by a fiber of the audit's scope, woken
 * by the batch's first entry, once the recording fibers have yielded (the end of the current tick);
 * when `maxPending` entries wait; when `head`, `flush` or the memory sink's events are read; and when
 * the audit's scope closes. The chain is the same as if each event had been sealed
 * on its own. A JSONL file then gets one write per batch: a crash of the process loses at most the
 * current tick's events (`fsync: true` writes and syncs every event before `record` returns). With
 * any sink that only has `write` (the logger sink, a custom sink), every event is sealed and written
 * inside `record`, as before.
 *
 * **The chain.** `hash` is the sha-256 of the event's canonical JSON (its fields in a fixed order,
 * `hash` left out), which includes `prev`, the previous event's hash; the first event's `prev` is 64
 * zeros. A JSONL line is that canonical JSON with `hash` appended. `verify` re-derives every hash and
 * link, so it reports, with the line number, an edited line, a deleted, duplicated or reordered
 * line, a line that is not JSON, and a last line cut off mid-write.
 *
 * **Truncation.** A log cut at a line boundary is a valid, shorter chain: nothing inside the file can
 * tell. So the chain is anchored outside it: `Audit.head` is the latest `{ sequence, hash }`; store
 * it elsewhere (a database, another machine, a periodic log line) and pass it to `verify` as
 * `expect` to detect a cut tail, or a tail rewritten after that point. A chain that is rewritten
 * from some line on with fresh hashes verifies too unless anchored: the chain makes tampering
 * evident, the anchor makes it detectable.
 *
 * **Restarts.** `layerJsonl` continues the chain of an existing file from its last line (read from
 * the end, without reading the whole file), so one file holds one chain across process restarts.
 * A file whose last line is cut off or does not verify is refused (`AuditError`, reason `Corrupt`):
 * verify it, keep it, and start a new one. One process writes a given file.
 *
 * **Failures.** A sink that cannot write (disk full, file closed) makes `record` die: an event that
 * cannot be kept must not pass silently. A batch the flushing fiber cannot write is logged (at `Error`,
 * with its cause) and kept as an `AuditError` with reason `Unwritable`: the next `record`, `head` or
 * `flush` dies with it.
 *
 * @since 0.1.0
 */
import { Cause, Config, Context, Effect, Layer, LogLevel, References, Schema, type Scope } from "effect"
import type * as Fiber from "effect/Fiber"
import { Decision } from "./Capability.ts"
import * as Chain from "./internal/audit/auditChain.ts"
import * as AuditFile from "./internal/audit/auditFile.ts"
import * as Recorder from "./internal/audit/auditRecorder.ts"
import { CurrentNode } from "./internal/node.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * What happened to a component, as a lifecycle event records it.
 *
 * @since 0.1.0
 * @category models
 */
export const LifecycleAction = Schema.Literals([
  "loaded",
  "started",
  "stopped",
  "restarted",
  "trapped",
  "failed",
  "escalated",
  "deployed",
  "undeployed",
  "limit-exceeded"
])

/**
 * @since 0.1.0
 * @category models
 */
export type LifecycleAction = typeof LifecycleAction.Type

/**
 * @since 0.1.0
 * @category models
 */
export const Kind = Schema.Literals(["capability", "lifecycle"])

/**
 * @since 0.1.0
 * @category models
 */
export type Kind = typeof Kind.Type

const Hash = Schema.String.check(Schema.isPattern(/^[0-9a-f]{64}$/))

/**
 * One audit event. Capability events carry `capability`, `resource` and `decision`; lifecycle
 * events carry `action`. Values are plain objects (an opaque struct rather than a class: `record`
 * makes one per host call, and a class instance costs a microsecond to construct).
 *
 * @since 0.1.0
 * @category models
 */
export class AuditEvent extends Schema.Opaque<AuditEvent>()(Schema.Struct({
  /** 1 for the first event of a chain, then +1 per event. */
  sequence: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)),
  /** Milliseconds since the epoch, from `Clock`. */
  time: Schema.Finite,
  component: Schema.String,
  kind: Kind,
  /** The capability checked, e.g. `FileRead`. */
  capability: Schema.optionalKey(Schema.String),
  /** What it was checked for: a path, `host:port`, a topic, ... */
  resource: Schema.optionalKey(Schema.String),
  decision: Schema.optionalKey(Decision),
  action: Schema.optionalKey(LifecycleAction),
  /** For `limit-exceeded`: which limit stopped the guest (`fuel`, `timeout`, `memory`). */
  limit: Schema.optionalKey(Schema.String),
  /** For `limit-exceeded`: the limit's value (fuel units, milliseconds, bytes); for `restarted`: the restart count. */
  value: Schema.optionalKey(Schema.Finite),
  detail: Schema.optionalKey(Schema.String),
  /**
   * The node the event was recorded on, where nodes are named (`Node.CurrentNode` when the audit was
   * made; a cluster runner's `host:port`).
   */
  node: Schema.optionalKey(Schema.String),
  /** The previous event's hash; 64 zeros for the first event. */
  prev: Hash,
  /** sha-256 (hex) of this event's canonical JSON, `prev` included. */
  hash: Hash
})) {}

/**
 * What `record` takes: an event without the fields the chain fills in.
 *
 * @since 0.1.0
 * @category models
 */
export type Entry =
  | {
    readonly kind: "capability"
    readonly component: string
    readonly capability: string
    readonly resource: string
    readonly decision: Decision
    readonly detail?: string | undefined
  }
  | {
    readonly kind: "lifecycle"
    readonly component: string
    readonly action: LifecycleAction
    readonly limit?: string | undefined
    readonly value?: number | undefined
    readonly detail?: string | undefined
  }

/**
 * Where a chain stands: its last event's sequence number and hash (`{ sequence: 0, hash: 64 zeros }`
 * before the first event). Store it outside the log to anchor `verify`.
 *
 * @since 0.1.0
 * @category models
 */
export const ChainHead = Schema.Struct({ sequence: Schema.Int, hash: Hash })

/**
 * @since 0.1.0
 * @category models
 */
export type ChainHead = typeof ChainHead.Type

/**
 * Where every chain starts.
 *
 * @since 0.1.0
 * @category models
 */
export const genesis: ChainHead = Chain.genesisHead

/**
 * Receives every event in sequence order: one by one inside `record` through `write`, or in batches
 * through `writeBatch` when every sink of the audit has it. `line` is the event's canonical JSON line
 * (without newline); `fiber` is the recording fiber (for its loggers and annotations). A sink that
 * throws makes `record` die (for a batch flushed at the end of a tick: the next `record`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Sink {
  readonly write: (event: AuditEvent, line: string, fiber: Fiber.Fiber<unknown, unknown>) => void
  /**
   * Takes events in batches, possibly after `record` returned (see the module doc): `lines` is their
   * lines, each ending with a newline. An audit whose sinks all have it records in O(1).
   */
  readonly writeBatch?: ((events: ReadonlyArray<AuditEvent>, lines: string) => void) | undefined
  /** For a sink that reads its events back: `make` hands it the audit's flush, to run before a read. */
  readonly connect?: ((flush: () => void) => void) | undefined
  /** For a sink that keeps a chain across restarts: where the stored chain ends. */
  readonly head?: ChainHead | undefined
}

/**
 * A sink that keeps the latest events in memory.
 *
 * @since 0.1.0
 * @category models
 */
export interface MemorySink extends Sink {
  /** The events kept, oldest first (pending batches flushed first). */
  readonly events: Effect.Effect<ReadonlyArray<AuditEvent>>
}

/**
 * Entries an audit in batch mode keeps pending before it flushes them synchronously: bounds the
 * memory a guest calling the host in a tight loop (without yielding to the event loop) can pin.
 *
 * @since 0.1.0
 * @category models
 */
export const maxPending: number = Recorder.maxPending

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * Why an audit log could not be used.
 *
 * - `Unreadable`: the file could not be opened or read.
 * - `Corrupt`: an existing log's last line is cut off or does not verify, so its chain cannot be
 *   continued.
 * - `Diverged`: sinks that continue stored chains disagree on where the chain stands.
 * - `Unwritable`: a batch of events could not be written by the sinks (what the next `record` dies with).
 *
 * @since 0.1.0
 * @category models
 */
export const AuditFailure = Schema.Literals(["Unreadable", "Corrupt", "Diverged", "Unwritable"])

/**
 * @since 0.1.0
 * @category errors
 */
export class AuditError extends Schema.TaggedError<AuditError>()("AuditError", {
  reason: AuditFailure,
  path: Schema.optionalKey(Schema.String),
  message: Schema.String
}) {}

/**
 * Why a log does not verify.
 *
 * - `Malformed`: a line that is not JSON, or not an audit event.
 * - `Truncated`: the last line is cut off, or the log ends before the expected head.
 * - `Edited`: a line whose content does not match its hash.
 * - `OutOfSequence`: a sequence number that does not follow the previous line's: lines were deleted,
 *   duplicated or reordered before it.
 * - `Unlinked`: a line whose `prev` is not the previous line's hash: that line was rewritten (with
 *   a fresh hash) or replaced.
 * - `Diverged`: the event at the expected head's sequence number has another hash.
 *
 * @since 0.1.0
 * @category models
 */
export const Violation = Schema.Literals(["Malformed", "Truncated", "Edited", "OutOfSequence", "Unlinked", "Diverged"])

/**
 * A log that does not verify. `line` is 1-based.
 *
 * @since 0.1.0
 * @category errors
 */
export class VerifyError extends Schema.TaggedError<VerifyError>()("VerifyError", {
  reason: Violation,
  line: Schema.Int,
  message: Schema.String
}) {}

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------

/**
 * Records audit events.
 *
 * @since 0.1.0
 * @category services
 */
export class Audit extends Context.Service<Audit, {
  /**
   * Records one event (in sequence order; batched, see the module doc). The Linker's per-call path
   * reaches the same chain without an Effect, through an internal fast path of audits built by `make`.
   */
  readonly record: (entry: Entry) => Effect.Effect<void>
  /** Seals and writes every pending event. */
  readonly flush: Effect.Effect<void>
  /** Where the chain stands now (pending events flushed first). */
  readonly head: Effect.Effect<ChainHead>
  readonly sinks: ReadonlyArray<Sink>
}>()("airssys-wasm/Audit") {}

/**
 * The events a memory sink keeps (provided by `layerMemory`).
 *
 * @since 0.1.0
 * @category services
 */
export class MemoryLog extends Context.Service<MemoryLog, {
  readonly events: Effect.Effect<ReadonlyArray<AuditEvent>>
}>()("airssys-wasm/Audit/MemoryLog") {}

// -----------------------------------------------------------------------------
// constructors
// -----------------------------------------------------------------------------

// An entry's JSON between `time` and `prev`. The Linker records the same entry object, frozen, for
// every call on a resource: that is encoded once. An entry that is not frozen could change between
// two records, so it is encoded each time.
const middles = new WeakMap<Entry, string>()
const middleOf = (entry: Entry): string => {
  if (!Object.isFrozen(entry)) return Chain.encodeMiddle(entry)
  let middle = middles.get(entry)
  if (middle === undefined) middles.set(entry, middle = Chain.encodeMiddle(entry))
  return middle
}

// One pass: the event object, its canonical JSON, its hash. Field order and presence match
// `Chain.encodeBody`, so the event re-encodes to the same text when verified. On a named node every
// event carries it: `nodeJson` (its JSON, encoded once per audit) ends each event's middle.
const sealWith = (node: string | undefined, nodeJson: string) =>
(entry: Entry, sequence: number, time: number, prev: string): {
  readonly event: AuditEvent
  readonly line: string
  readonly hash: string
} => {
  const event: Mutable<AuditEvent> = entry.kind === "capability"
    ? {
      sequence,
      time,
      component: entry.component,
      kind: "capability",
      capability: entry.capability,
      resource: entry.resource,
      decision: entry.decision,
      prev,
      hash: ""
    }
    : { sequence, time, component: entry.component, kind: "lifecycle", action: entry.action, prev, hash: "" }
  if (entry.kind === "lifecycle") {
    if (entry.limit !== undefined) event.limit = entry.limit
    if (entry.value !== undefined) event.value = entry.value
  }
  if (entry.detail !== undefined) event.detail = entry.detail
  if (node !== undefined) event.node = node
  const encoded = Chain.encodeWith(sequence, time, middleOf(entry) + nodeJson, prev)
  const hash = Chain.hashBody(encoded)
  event.hash = hash
  return { event, line: Chain.encodeLine(encoded, hash), hash }
}

const sealOn = (node: string | undefined) => sealWith(node, node === undefined ? "" : Chain.encodeNode(node))

type Mutable<A> = { -readonly [K in keyof A]: A[K] }

const unwritable = (cause: Cause.Cause<never>): AuditError =>
  new AuditError({ reason: "Unwritable", message: `audit events could not be written: ${Cause.squash(cause)}` })

/**
 * An `Audit` over the given sinks. The chain continues from the sinks' stored head, if one has one;
 * sinks whose heads disagree fail with `Diverged`. Pending events are flushed when the scope closes.
 * Where `Node.CurrentNode` is set (read here, once), every event carries it as `node`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (sinks: ReadonlyArray<Sink>) => Effect.Effect<Audit["Service"], AuditError, Scope.Scope> = Effect.fn(
  "Audit.make"
)(function*(sinks: ReadonlyArray<Sink>) {
  const heads = sinks.flatMap((sink) => sink.head === undefined ? [] : [sink.head])
  const start = heads[0] ?? genesis
  if (heads.some((head) => head.sequence !== start.sequence || head.hash !== start.hash)) {
    return yield* new AuditError({
      reason: "Diverged",
      message: `sinks continue different chains: ${heads.map((head) => `#${head.sequence} ${head.hash}`).join(", ")}`
    })
  }
  const recorder = yield* Recorder.make(sinks, start, sealOn(yield* CurrentNode), unwritable)
  const audit = Audit.of({ record: recorder.record, flush: recorder.flush, head: recorder.head, sinks })
  Recorder.register(audit, recorder.fast)
  return audit
})

/**
 * A sink that keeps the last `capacity` events in a ring; older ones are dropped.
 *
 * @since 0.1.0
 * @category constructors
 */
export const memorySink = (options: { readonly capacity: number }): MemorySink => {
  const capacity = Math.max(1, Math.floor(options.capacity))
  const ring: Array<AuditEvent> = []
  let next = 0
  const flushes: Array<() => void> = []
  const write = (event: AuditEvent): void => {
    if (ring.length < capacity) ring.push(event)
    else ring[next] = event
    next = (next + 1) % capacity
  }
  return {
    write,
    writeBatch: (events) => {
      for (let i = 0; i < events.length; i++) write(events[i]!)
    },
    connect: (flush) => void flushes.push(flush),
    events: Effect.sync(() => {
      for (const flush of flushes) flush()
      return ring.length < capacity ? ring.slice() : [...ring.slice(next), ...ring.slice(0, next)]
    })
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface JsonlOptions {
  /**
   * Write and `fsync` every line before `record` returns, so events survive a crash of the machine.
   * Costs milliseconds per event. Without it, lines are written in batches (see the module doc).
   */
  readonly fsync?: boolean | undefined
}

const decodeLine = Schema.decodeUnknownResult(Schema.fromJsonString(Schema.Unknown))
const decodeEvent = Schema.decodeUnknownResult(AuditEvent, { onExcessProperty: "error" })

const parseLine = (line: string): AuditEvent | "NotJson" | "NotEvent" => {
  const json = decodeLine(line)
  if (json._tag === "Failure") return "NotJson"
  const event = decodeEvent(json.success)
  return event._tag === "Failure" ? "NotEvent" : event.success
}

/**
 * A sink that appends one JSON line per event to the file at `path` (created if missing, continued
 * if not), in order, one synchronous write per batch (per event with `fsync`). Closed with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const jsonlSink: (
  path: string,
  options?: JsonlOptions
) => Effect.Effect<Sink, AuditError, Scope.Scope> = Effect.fnUntraced(function*(path: string, options?: JsonlOptions) {
  const fd = yield* Effect.acquireRelease(
    Effect.try({
      try: () => AuditFile.open(path),
      catch: (cause) => new AuditError({ reason: "Unreadable", path, message: `cannot open ${path}: ${String(cause)}` })
    }),
    (fd) => Effect.sync(() => AuditFile.close(fd))
  )
  const last = yield* Effect.try({
    try: () => AuditFile.lastLine(fd),
    catch: (cause) => new AuditError({ reason: "Unreadable", path, message: `cannot read ${path}: ${String(cause)}` })
  })
  const head = last === undefined ? undefined : yield* storedHead(path, last)
  const fsync = options?.fsync === true
  return {
    head,
    write: (_event, line) => {
      AuditFile.append(fd, line + "\n")
      if (fsync) AuditFile.sync(fd)
    },
    writeBatch: fsync ? undefined : (_events, lines) => AuditFile.append(fd, lines)
  } satisfies Sink
})

// Where an existing log's chain ends: its last line, which must be whole and match its own hash.
const storedHead = (
  path: string,
  last: AuditFile.LastLine
): Effect.Effect<ChainHead, AuditError> => {
  const corrupt = (why: string) =>
    Effect.fail(new AuditError({ reason: "Corrupt", path, message: `cannot continue ${path}: ${why}` }))
  if (!last.complete) return corrupt("its last line is cut off")
  const event = parseLine(last.line)
  if (typeof event === "string") return corrupt("its last line is not an audit event")
  if (Chain.hashBody(Chain.encodeBody(event)) !== event.hash) return corrupt("its last line does not match its hash")
  return Effect.succeed({ sequence: event.sequence, hash: event.hash })
}

const summary = (event: AuditEvent): string =>
  event.kind === "capability"
    ? `audit #${event.sequence} ${event.component} ${event.capability} ${event.resource} ${event.decision}`
    : `audit #${event.sequence} ${event.component} ${event.action}${event.limit === undefined ? "" : ` ${event.limit} ${event.value}`}`

/**
 * A sink that writes every event to the recording fiber's loggers: denials at `Warn`, everything
 * else at `Info`, honouring the minimum log level. The message is a one-line summary and the event.
 *
 * @since 0.1.0
 * @category constructors
 */
export const loggerSink: Sink = {
  write: (event, _line, fiber) => {
    const level = event.decision === "denied" ? "Warn" : "Info"
    if (LogLevel.isGreaterThan(fiber.getRef(References.MinimumLogLevel), level)) return
    const loggers = fiber.getRef(References.CurrentLoggers)
    if (loggers.size === 0) return
    const options = {
      message: [summary(event), event],
      logLevel: level,
      cause: Cause.empty,
      fiber,
      date: new Date(event.time)
    } as const
    for (const logger of loggers) logger.log(options)
  }
}

// -----------------------------------------------------------------------------
// verification
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface VerifyOptions {
  /** Where the log's chain starts; `genesis` (the default) for a log that holds a chain from its first event. */
  readonly from?: ChainHead | undefined
  /** A head recorded elsewhere that the log must reach (and agree with): detects a cut or rewritten tail. */
  readonly expect?: ChainHead | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Verified {
  /** Events in the log. */
  readonly events: number
  /** The log's last event (or `from` for an empty log). */
  readonly head: ChainHead
}

/**
 * Checks a JSONL audit log's text: every line an event, every hash right, every event following
 * the previous one. Fails with the first violation and its line number.
 *
 * @since 0.1.0
 * @category constructors
 */
export const verify = (text: string, options?: VerifyOptions): Effect.Effect<Verified, VerifyError> =>
  Effect.suspend(() => {
    const verdict = Chain.verify(text, parseLine, options)
    return verdict._tag === "Valid"
      ? Effect.succeed({ events: verdict.events, head: verdict.head })
      : Effect.fail(new VerifyError({ reason: verdict.reason, line: verdict.line, message: verdict.message }))
  })

/**
 * Reads and verifies a JSONL audit log file.
 *
 * @since 0.1.0
 * @category constructors
 */
export const verifyFile = (path: string, options?: VerifyOptions): Effect.Effect<Verified, VerifyError | AuditError> =>
  Effect.try({
    try: () => AuditFile.read(path),
    catch: (cause) => new AuditError({ reason: "Unreadable", path, message: `cannot read ${path}: ${String(cause)}` })
  }).pipe(Effect.flatMap((text) => verify(text, options)))

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * `Audit` over sinks made by effects (e.g. `jsonlSink`, whose file is closed with the layer).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSinks = <E, R>(
  sinks: ReadonlyArray<Effect.Effect<Sink, E, R>>
): Layer.Layer<Audit, AuditError | E, Exclude<R, Scope.Scope>> =>
  Layer.effect(Audit, Effect.flatMap(Effect.all(sinks), make))

/**
 * `Audit` keeping the last `capacity` events in memory, readable through `MemoryLog` (or `events`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (options: { readonly capacity: number }): Layer.Layer<Audit | MemoryLog> =>
  Layer.effectContext(Effect.gen(function*() {
    const sink = memorySink(options)
    const audit = yield* Effect.orDie(make([sink]))
    return Context.make(Audit, audit).pipe(Context.add(MemoryLog, MemoryLog.of({ events: sink.events })))
  }))

/**
 * `Audit` appending to a JSONL file (see `jsonlSink`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerJsonl = (path: string, options?: JsonlOptions): Layer.Layer<Audit, AuditError> =>
  layerSinks([jsonlSink(path, options)])

/**
 * `Audit` writing to the Effect logger (see `loggerSink`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerLogger: Layer.Layer<Audit> = Layer.effect(Audit, Effect.orDie(make([loggerSink])))

/**
 * The audit a deployer chooses, as `config` reads it.
 *
 * @since 0.1.0
 * @category models
 */
export type Settings =
  | { readonly sink: "memory"; readonly capacity: number }
  | { readonly sink: "jsonl"; readonly path: string; readonly fsync: boolean }
  | { readonly sink: "logger" }

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))

/**
 * The audit read from configuration:
 *
 * - `AUDIT_SINK`: `memory` (the default), `jsonl` or `logger`;
 * - for `memory`: `AUDIT_CAPACITY`, the events kept, a positive integer (default 10000);
 * - for `jsonl`: `AUDIT_PATH` (required), the log file; `AUDIT_FSYNC`, `true` to sync every event (default
 *   `false`).
 *
 * With `ConfigProvider.fromUnknown` the names are paths: `{ AUDIT: { SINK: "jsonl", PATH: "audit.jsonl" } }`.
 *
 * @since 0.1.0
 * @category config
 */
export const config: Config.Config<Settings> = Config.Literals(["memory", "jsonl", "logger"], "SINK").pipe(
  Config.withDefault("memory"),
  Config.flatMap((sink): Config.Config<Settings> =>
    sink === "jsonl"
      ? Config.all({
        sink: Config.succeed(sink),
        path: Config.NonEmptyString("PATH"),
        fsync: Config.Boolean("FSYNC").pipe(Config.withDefault(false))
      })
      : sink === "logger"
      ? Config.succeed({ sink })
      : Config.all({ sink: Config.succeed(sink), capacity: Config.schema(PositiveInt, "CAPACITY").pipe(Config.withDefault(10_000)) })
  ),
  Config.nested("AUDIT")
)

/**
 * `Audit` as configuration chooses it (`layerMemory`, `layerJsonl` or `layerLogger`): `config` (the
 * `AUDIT_*` names) unless another `Config` is given. An invalid value, or `jsonl` without a path, fails
 * the layer with a `ConfigError`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (options: Config.Config<Settings> = config): Layer.Layer<Audit, AuditError | Config.ConfigError> =>
  Layer.unwrap(Effect.map(options, (settings): Layer.Layer<Audit, AuditError> =>
    settings.sink === "jsonl"
      ? layerJsonl(settings.path, { fsync: settings.fsync })
      : settings.sink === "logger"
      ? layerLogger
      : layerMemory({ capacity: settings.capacity })))

/**
 * One `Audit` over the sinks of several audit layers, behind one chain; the layers' other services
 * (such as `MemoryLog`) are kept:
 *
 * ```ts
 * Audit.combine(Audit.layerMemory({ capacity: 1000 }), Audit.layerJsonl("audit.jsonl"))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const combine = <
  const Layers extends readonly [Layer.Layer<Audit, unknown, unknown>, ...Array<Layer.Layer<Audit, unknown, unknown>>]
>(
  ...layers: Layers
): Layer.Layer<
  Layer.Success<Layers[number]>,
  Layer.Error<Layers[number]> | AuditError,
  Layer.Services<Layers[number]>
> =>
  // Each layer is built for its services and its sinks; the `Audit` each built is replaced by one
  // over all the sinks. The tuple's element types are lost in the loop, hence the cast.
  Layer.effectContext(Effect.gen(function*() {
    let context: Context.Context<Audit> = Context.empty() as Context.Context<Audit>
    const sinks: Array<Sink> = []
    for (const layer of layers) {
      const built = yield* Layer.build(layer)
      sinks.push(...Context.get(built, Audit).sinks)
      context = Context.merge(context, built)
    }
    return Context.add(context, Audit, yield* make(sinks))
  })) as Layer.Layer<Layer.Success<Layers[number]>, Layer.Error<Layers[number]> | AuditError, Layer.Services<Layers[number]>>

/**
 * Records one event with the `Audit` in the environment.
 *
 * @since 0.1.0
 * @category services
 */
export const record = (entry: Entry): Effect.Effect<void, never, Audit> => Audit.use((audit) => audit.record(entry))

/**
 * The events kept by the memory sink in the environment, oldest first.
 *
 * @since 0.1.0
 * @category services
 */
export const events: Effect.Effect<ReadonlyArray<AuditEvent>, never, MemoryLog> = MemoryLog.use((log) => log.events)
