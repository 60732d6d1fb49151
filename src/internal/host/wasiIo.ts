/**
 * `wasi:io` 0.2 on the host: the `input-stream` and `output-stream` resources over pluggable sources
 * and sinks (stdout lines, file descriptors), the `error` resource they fail with, and `pollable`
 * over a `PollSource`: always ready for streams (every host stream here is synchronous), ready at a
 * deadline for `wasi:clocks/monotonic-clock`'s subscriptions. `pollable.block` and `poll` suspend
 * the guest (JSPI) until a source is ready; when one already is, they answer at once.
 *
 * The resource types are shared: `wasi:cli/stdout` and `wasi:filesystem/types` both hand out
 * `output-stream` handles, and the guest's glue checks them against the one `OutputStream` class it
 * imported from `wasi:io/streams`; streams and clocks both hand out `pollable` handles, checked
 * against the `Pollable` class of `wasi:io/poll` (so a component that subscribes to a clock needs
 * `wasi:io/poll` linked too).
 *
 * @internal
 */
import { Effect } from "effect"
import { HostRefusal } from "../componentError.ts"
import { HostFailure, type HostResource, resource } from "./hostBridge.ts"
import { type HostInterface, hostInterface } from "./hostInterface.ts"

/** Why a stream operation failed: a message for `to-debug-string`, and a filesystem error-code if any. */
export interface StreamFailure {
  readonly message: string
  readonly code?: string | undefined
  /** What another interface reads off the `error` (`wasi:http`'s `http-error-code`). */
  readonly detail?: unknown
}

/** Where an `output-stream` writes. */
export interface OutputSink {
  /** Bytes the sink takes in one `write` (what `check-write` reports). */
  readonly capacity: number
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, StreamFailure>
  readonly flush: Effect.Effect<void, StreamFailure>
  /** When the guest drops the stream. */
  readonly close?: (() => void) | undefined
}

/** What an `input-stream` reads: `undefined` at the end. */
export interface InputSource {
  readonly read: (length: number) => Effect.Effect<Uint8Array | undefined, StreamFailure>
  readonly close?: (() => void) | undefined
  /** When the source's bytes arrive over time (a response body): `subscribe`'s readiness. Default: always ready. */
  readonly poll?: PollSource | undefined
}

/** The state of an `error` handle. */
export interface ErrorState {
  readonly message: string
  readonly code: string | undefined
  readonly detail?: unknown
}

/** `wasi:io/error.error`. */
export const ioError: HostResource<ErrorState> = resource<ErrorState>("error", {
  toDebugString: (state: ErrorState) => Effect.succeed(state.message)
})

/** What a `pollable` waits for. */
export interface PollSource {
  /** Whether it is ready now. */
  readonly ready: Effect.Effect<boolean>
  /** Completes once it is ready. */
  readonly wait: Effect.Effect<void>
}

/** A stream's pollable: host streams never block. */
export const alwaysReady: PollSource = { ready: Effect.succeed(true), wait: Effect.void }

/** `wasi:io/poll.pollable`. `block` suspends the guest until the source is ready. */
export const pollable: HostResource<PollSource> = resource<PollSource>("pollable", {
  ready: (source: PollSource) => source.ready,
  block: (source: PollSource) => source.wait
}, undefined, ["block"])

/** A new `pollable` handle over `source`. */
export const makePollable = (source: PollSource): Effect.Effect<object> => pollable.make(source)

/** `wasi:cli/terminal-input.terminal-input` and `terminal-output`: never handed out. */
export const terminalInput: HostResource<undefined> = resource<undefined>("terminal-input", {})
export const terminalOutput: HostResource<undefined> = resource<undefined>("terminal-output", {})

const closed = Effect.fail(new HostRefusal({ payload: { tag: "closed" } }))

/** A `stream-error` for the guest: `last-operation-failed(error)`. */
const streamError = (failure: StreamFailure): Effect.Effect<never, HostRefusal> =>
  Effect.flatMap(
    ioError.make({ message: failure.message, code: failure.code, detail: failure.detail }),
    (handle) => Effect.fail(new HostRefusal({ payload: { tag: "last-operation-failed", val: handle } }))
  )

// jco lifts u64 as a bigint; a length past what one call can hold is clamped.
const maxChunk = 1024 * 1024
const toLength = (value: unknown): number => {
  const n = typeof value === "bigint" ? value : BigInt(Number(value) || 0)
  return n <= 0n ? 0 : n >= BigInt(maxChunk) ? maxChunk : Number(n)
}

interface InputState {
  readonly source: InputSource
  ended: boolean
}

const read = (state: InputState, length: unknown): Effect.Effect<Uint8Array, HostRefusal> => {
  if (state.ended) return closed
  return Effect.matchEffect(state.source.read(toLength(length)), {
    onFailure: streamError,
    onSuccess: (bytes) => {
      if (bytes !== undefined) return Effect.succeed(bytes)
      state.ended = true
      return closed
    }
  })
}

/** `wasi:io/streams.input-stream`. */
export const inputStream: HostResource<InputState> = resource<InputState>("input-stream", {
  read,
  blockingRead: read,
  skip: (state: InputState, length: unknown) => Effect.map(read(state, length), (bytes) => BigInt(bytes.byteLength)),
  blockingSkip: (state: InputState, length: unknown) => Effect.map(read(state, length), (bytes) => BigInt(bytes.byteLength)),
  subscribe: (state: InputState) => pollable.make(state.source.poll ?? alwaysReady)
}, (state) => state.source.close?.())

/** A new `input-stream` handle over `source`. */
export const makeInput = (source: InputSource): Effect.Effect<object> => inputStream.make({ source, ended: false })

const write = (sink: OutputSink, contents: Uint8Array): Effect.Effect<void, HostRefusal> =>
  Effect.catch(sink.write(contents), streamError)

const flush = (sink: OutputSink): Effect.Effect<void, HostRefusal> => Effect.catch(sink.flush, streamError)

/** `wasi:io/streams.output-stream`. */
export const outputStream: HostResource<OutputSink> = resource<OutputSink>("output-stream", {
  checkWrite: (sink: OutputSink) => Effect.succeed(BigInt(sink.capacity)),
  write,
  blockingWriteAndFlush: (sink: OutputSink, contents: Uint8Array) =>
    Effect.flatMap(write(sink, contents), () => flush(sink)),
  flush,
  blockingFlush: flush,
  subscribe: () => pollable.make(alwaysReady),
  writeZeroes: (sink: OutputSink, length: unknown) => write(sink, new Uint8Array(toLength(length))),
  blockingWriteZeroesAndFlush: (sink: OutputSink, length: unknown) =>
    Effect.flatMap(write(sink, new Uint8Array(toLength(length))), () => flush(sink)),
  // Splicing from another stream: read what it has, write it here.
  splice: (sink: OutputSink, source: unknown, length: unknown) => splice(sink, source, length),
  blockingSplice: (sink: OutputSink, source: unknown, length: unknown) => splice(sink, source, length)
}, (sink) => sink.close?.())

const splice = (sink: OutputSink, source: unknown, length: unknown): Effect.Effect<bigint, HostRefusal> => {
  const input = inputStream.state(source)
  if (input === undefined) return closed
  return Effect.flatMap(read(input, length), (bytes) => Effect.as(write(sink, bytes), BigInt(bytes.byteLength)))
}

/** A new `output-stream` handle over `sink`. */
export const makeOutput = (sink: OutputSink): Effect.Effect<object> => outputStream.make(sink)

/** What a stream `error` carries for another interface (`wasi:http/types.http-error-code`). */
export const errorDetail = (handle: unknown): unknown => ioError.state(handle)?.detail

/** The error-code a stream `error` carries, for `wasi:filesystem/types.filesystem-error-code`. */
export const errorCode = (handle: unknown): string | undefined => ioError.state(handle)?.code

// -----------------------------------------------------------------------------
// host interfaces
// -----------------------------------------------------------------------------

/** `wasi:io/streams`: its resources only; handles come from the interfaces that open streams. */
export const streamsInterface: HostInterface = hostInterface({
  name: "wasi:io/streams",
  resources: { InputStream: inputStream, OutputStream: outputStream },
  make: Effect.succeed(() => ({}))
})

/** `wasi:io/error`. */
export const errorInterface: HostInterface = hostInterface({
  name: "wasi:io/error",
  resources: { Error: ioError },
  make: Effect.succeed(() => ({}))
})

// The indices of the ready sources.
const readyIndices = (sources: ReadonlyArray<PollSource>): Effect.Effect<Array<number>> =>
  Effect.map(
    Effect.forEach(sources, (source) => source.ready),
    (ready) => ready.flatMap((isReady, i) => isReady ? [i] : [])
  )

/**
 * A `list<u32>` result that traps the guest when jco lowers it. jco 1.35's JSPI glue catches whatever
 * an asynchronous host import throws and then never settles the guest's call (it would hang until
 * the call's timeout); what the glue throws while lowering the result does reach the guest, as a
 * trap, in both the synchronous and the JSPI glue.
 */
const trapOnLowering = (message: string): Array<number> =>
  ({ get length(): number { throw new HostFailure(message) } }) as unknown as Array<number>

/**
 * `wasi:io/poll.poll`: the indices of the ready pollables, waiting (the guest suspended) until at
 * least one is. An empty list traps the guest, as WASI says (it could never return).
 */
export const poll = (pollables: ReadonlyArray<unknown>): Effect.Effect<Array<number>> => {
  if (pollables.length === 0) return Effect.succeed(trapOnLowering("poll: the list of pollables is empty"))
  const sources: Array<PollSource> = []
  for (const handle of pollables) {
    const source = pollable.state(handle)
    if (source === undefined) return Effect.succeed(trapOnLowering("poll: not a pollable"))
    sources.push(source)
  }
  const waitAny = Effect.raceAll(sources.map((source) => source.wait))
  const loop: Effect.Effect<Array<number>> = Effect.flatMap(
    readyIndices(sources),
    (ready) => ready.length > 0 ? Effect.succeed(ready) : Effect.flatMap(waitAny, () => loop)
  )
  return loop
}

/** `wasi:io/poll`: the `Pollable` class every interface's pollables are checked against, and `poll`. */
export const pollInterface: HostInterface = hostInterface({
  name: "wasi:io/poll",
  resources: { Pollable: pollable },
  make: Effect.succeed(() => ({ poll: { run: poll } }))
})
