/**
 * How an audit records: the chain's state (sequence, previous hash), the pending batch, the fiber that
 * flushes it, and the per-call fast path the Linker and the host bridge use. `Audit.make` wraps this in
 * the public service, whose contract is one `record`; the fast path stays here, found by the service
 * object (`fastPathOf`), so host code that has no fiber to spare can still record in O(1).
 *
 * Two modes. With every sink able to take batches, `record` appends the entry and its time to a
 * preallocated batch, O(1); the batch is sealed (canonical JSON, hashes) and written by a scoped fiber
 * woken at the first append of a batch, after one yield (the end of the current tick), or synchronously
 * when `maxPending` entries wait, when the chain is read (`head`, `flush`, a memory sink's events), and
 * when the scope closes. Otherwise every event is sealed and written inside `record`.
 *
 * A batch the fiber cannot write (a sink throws) is logged at `Error` with its cause and kept as the
 * error `unwritable` makes of it (`Audit`'s `AuditError`, reason `Unwritable`): the next `record`, `head`
 * or `flush` dies with it, and the fast path refuses (the caller then `record`s, and dies) — an event
 * that cannot be kept must not pass silently.
 *
 * @internal
 */
import { Cause, Clock, Effect, type Fiber, Latch, type Scope } from "effect"
import * as Chain from "./auditChain.ts"

/** Entries an audit in batch mode keeps pending before it flushes them synchronously. */
export const maxPending = 4096

/** What a sink takes (the public `Audit.Sink`, generic over the event type). */
export interface Sink<Event> {
  readonly write: (event: Event, line: string, fiber: Fiber.Fiber<unknown, unknown>) => void
  readonly writeBatch?: ((events: ReadonlyArray<Event>, lines: string) => void) | undefined
  readonly connect?: ((flush: () => void) => void) | undefined
}

/** Seals one entry into its event: the event object, its canonical line and its hash. */
export type Seal<Entry, Event> = (entry: Entry, sequence: number, time: number, prev: string) => {
  readonly event: Event
  readonly line: string
  readonly hash: string
}

/** The per-call paths that bypass `record`'s Effect. */
export interface FastPath<Entry> {
  /**
   * `record` from inside a running fiber (whose `Clock` stamps the event), without an effect: the
   * Linker's per-call path. Throws where `record` would die.
   */
  readonly recordUnsafe: (entry: Entry, fiber: Fiber.Fiber<unknown, unknown>) => void
  /**
   * Appends an event stamped `time` (read by the caller from the `Clock` it runs with) when that is an
   * O(1) append that cannot fail: a batching audit with room left in its batch. `false` when it did
   * nothing and the caller must `record` instead. The host bridge's path, which has no fiber.
   */
  readonly recordAtUnsafe: ((entry: Entry, time: number) => boolean) | undefined
}

export interface Recorder<Entry> {
  readonly record: (entry: Entry) => Effect.Effect<void>
  readonly flush: Effect.Effect<void>
  readonly head: Effect.Effect<Chain.Head>
  readonly fast: FastPath<Entry>
}

// By service object: the public service's contract has no room for them.
const fastPaths = new WeakMap<object, FastPath<never>>()

/** Makes `fast` the fast path of `service` (an `Audit` service). */
export const register = <Entry>(service: object, fast: FastPath<Entry>): void => {
  fastPaths.set(service, fast as FastPath<never>)
}

/** The fast path of an audit service, or `undefined` for one that `Audit.make` did not build. */
export const fastPathOf = <Entry>(service: { readonly record: (entry: Entry) => unknown }): FastPath<Entry> | undefined =>
  fastPaths.get(service) as FastPath<Entry> | undefined

/**
 * A recorder over `sinks`, continuing the chain at `start`. Batched when every sink takes batches;
 * `unwritable` makes the error a batch the flushing fiber could not write is kept as.
 */
export const make = <Entry extends object, Event>(
  sinks: ReadonlyArray<Sink<Event>>,
  start: Chain.Head,
  seal: Seal<Entry, Event>,
  unwritable: (cause: Cause.Cause<never>) => Error
): Effect.Effect<Recorder<Entry>, never, Scope.Scope> =>
  sinks.every((sink) => sink.writeBatch !== undefined)
    ? batched(sinks, start, seal, unwritable)
    : Effect.succeed(eager(sinks, start, seal))

const fromFast = <Entry>(recordUnsafe: FastPath<Entry>["recordUnsafe"]) => (entry: Entry): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    recordUnsafe(entry, fiber)
    return Effect.void
  })

// Every event sealed and written inside `record`: synchronous from the clock read to the last sink,
// so no other record can interleave and sequence order is the order every sink sees.
const eager = <Entry, Event>(sinks: ReadonlyArray<Sink<Event>>, start: Chain.Head, seal: Seal<Entry, Event>): Recorder<Entry> => {
  let sequence = start.sequence
  let prev = start.hash
  const recordUnsafe = (entry: Entry, fiber: Fiber.Fiber<unknown, unknown>): void => {
    const time = fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
    const { event, hash, line } = seal(entry, sequence + 1, time, prev)
    sequence++
    prev = hash
    for (let i = 0; i < sinks.length; i++) sinks[i]!.write(event, line, fiber)
  }
  return {
    record: fromFast(recordUnsafe),
    flush: Effect.void,
    head: Effect.sync(() => ({ sequence, hash: prev })),
    fast: { recordUnsafe, recordAtUnsafe: undefined }
  }
}

// `record` appends the entry and its time; `seal` runs per batch, off the host call's path.
const batched = <Entry extends object, Event>(
  sinks: ReadonlyArray<Sink<Event>>,
  start: Chain.Head,
  seal: Seal<Entry, Event>,
  unwritable: (cause: Cause.Cause<never>) => Error
): Effect.Effect<Recorder<Entry>, never, Scope.Scope> =>
  Effect.gen(function*() {
    let sealed = start.sequence
    let prev = start.hash
    // Once the scope has closed, events are written as they come (a sink that is gone fails `record`).
    let closed = false
    // The pending batch: preallocated, filled in place, emptied by `flushNow`.
    const entries: Array<Entry | undefined> = new Array(maxPending).fill(undefined)
    const times = new Float64Array(maxPending)
    let count = 0
    // The flushing fiber has been woken for the current batch.
    let scheduled = false
    let failure: Error | undefined
    const wake = Latch.makeUnsafe(false)

    const flushNow = (): void => {
      const n = count
      if (n === 0) return
      const events: Array<Event> = new Array(n)
      let lines = ""
      for (let i = 0; i < n; i++) {
        const { event, hash, line } = seal(entries[i]!, sealed + 1, times[i]!, prev)
        entries[i] = undefined
        sealed++
        prev = hash
        events[i] = event
        lines += line + "\n"
      }
      count = 0
      for (let i = 0; i < sinks.length; i++) sinks[i]!.writeBatch!(events, lines)
    }
    const check = (): void => {
      if (failure !== undefined) throw failure
    }
    const schedule = (): void => {
      if (scheduled) return
      scheduled = true
      wake.openUnsafe()
    }
    const recordUnsafe = (entry: Entry, fiber: Fiber.Fiber<unknown, unknown>): void => {
      check()
      entries[count] = entry
      times[count++] = fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
      if (closed || count >= maxPending) flushNow()
      else schedule()
    }
    // Never the append that fills the batch (its flush may fail: `record` dies with that, in a fiber).
    const recordAtUnsafe = (entry: Entry, time: number): boolean => {
      if (closed || failure !== undefined || count >= maxPending - 1) return false
      entries[count] = entry
      times[count++] = time
      schedule()
      return true
    }

    // Woken by the first append of a batch; yields once so the batch collects the rest of the tick.
    const flushLater = Effect.gen(function*() {
      yield* wake.await
      wake.closeUnsafe()
      yield* Effect.yieldNow
      scheduled = false
      if (failure !== undefined) return
      yield* Effect.sync(flushNow).pipe(
        Effect.catchCause((cause) => {
          failure = unwritable(cause)
          return Effect.logError("airssys-wasm: audit events could not be written; the next record dies", cause)
        })
      )
    })
    yield* Effect.forkScoped(Effect.forever(flushLater), { startImmediately: true })
    // A failure already kept (and logged) was raised to the next record; close does not raise it again.
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closed = true
        if (failure === undefined) flushNow()
      })
    )

    for (const sink of sinks) sink.connect?.(flushNow)
    const flush = Effect.sync(() => {
      check()
      flushNow()
    })
    return {
      record: fromFast(recordUnsafe),
      flush,
      head: Effect.map(flush, () => ({ sequence: sealed, hash: prev })),
      fast: { recordUnsafe, recordAtUnsafe }
    }
  })
