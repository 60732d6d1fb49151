/**
 * `wasi:cli/stdout`, `wasi:cli/stderr` and `wasi:cli/stdin` for guests: what a guest prints becomes
 * log lines, tagged with its component id.
 *
 * A guest's bytes are split into lines (on `\n`, UTF-8 decoded); a flush also ends the pending
 * line, so `print("hi")` without a newline still shows (and the newline that follows it does not
 * add an empty line). A line longer than `maxLineLength` bytes is
 * cut (and marked `…`); the rest of it, up to its newline, is dropped, so a guest cannot flood a sink
 * or hold host memory with one endless line. stdin is empty: reading it answers `closed`.
 *
 * `layer` writes the lines with Effect's logger (stdout at `Info`, stderr at `Warn`), annotated
 * with `component` and `stream`; `layerMemory` keeps them for tests (`lines`); `layerDeny` drops them.
 * Like logging, stdio is ungated and not audited: it reaches nothing but the host's log.
 *
 * The `wasi:io` interfaces the streams need (`streams`, `error`, `poll`) are linked with it: pass
 * `Stdio.hostInterfaces` to `Linker.layer`.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import * as WasiIo from "../internal/wasiIo.ts"
import * as Linker from "../Linker.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * The guest's output streams.
 *
 * @since 0.1.0
 * @category models
 */
export type Stream = "stdout" | "stderr"

/**
 * One line a guest printed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Line {
  readonly component: string
  readonly stream: Stream
  readonly text: string
}

/**
 * Longer lines are cut to this many bytes (and marked `…`).
 *
 * @since 0.1.0
 * @category models
 */
export const maxLineLength = 8192

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------

/**
 * Where guests' printed lines go.
 *
 * @since 0.1.0
 * @category services
 */
export class Stdio extends Context.Service<Stdio, {
  readonly line: (component: string, stream: Stream, text: string) => Effect.Effect<void>
}>()("airssys-wasm/Stdio") {}

/**
 * The lines kept by `layerMemory`.
 *
 * @since 0.1.0
 * @category services
 */
export class MemoryLines extends Context.Service<MemoryLines, {
  readonly lines: Effect.Effect<ReadonlyArray<Line>>
}>()("airssys-wasm/Stdio/MemoryLines") {}

/**
 * The lines kept by the `layerMemory` in the environment, oldest first.
 *
 * @since 0.1.0
 * @category services
 */
export const lines: Effect.Effect<ReadonlyArray<Line>, never, MemoryLines> = MemoryLines.use((memory) => memory.lines)

// -----------------------------------------------------------------------------
// host interfaces
// -----------------------------------------------------------------------------

const newline = 10
const decoder = new TextDecoder()

/**
 * One component's stream, cut into lines. Bytes wait in `pending` until a newline or a flush;
 * past `maxLineLength` the line is emitted cut and the rest of it skipped.
 */
const lineSink = (emit: (text: string) => Effect.Effect<void>): WasiIo.OutputSink => {
  const pending = new Uint8Array(maxLineLength)
  let size = 0
  let skipping = false
  // A flush emitted the pending bytes as a line: the newline that follows (toolchains often write
  // it separately) ends that line instead of adding an empty one.
  let flushed = false
  const take = (): string => {
    const text = decoder.decode(pending.subarray(0, size))
    size = 0
    return text
  }
  return {
    capacity: 65536,
    write: (bytes) =>
      Effect.suspend(() => {
        const out: Array<string> = []
        for (let i = 0; i < bytes.length; i++) {
          const byte = bytes[i]!
          if (byte === newline) {
            if (skipping) skipping = false
            else if (!(flushed && size === 0)) out.push(take())
            flushed = false
          } else if (!skipping) {
            flushed = false
            if (size === maxLineLength) {
              out.push(`${take()}…`)
              skipping = true
            } else {
              pending[size++] = byte
            }
          }
        }
        return out.length === 0 ? Effect.void : Effect.forEach(out, emit, { discard: true })
      }),
    flush: Effect.suspend(() => {
      if (size === 0) return Effect.void
      flushed = true
      return emit(take())
    })
  }
}

const outputInterface = (name: string, stream: Stream, fn: string): Linker.HostInterface<Stdio> =>
  Linker.hostInterface({
    name,
    make: Effect.gen(function*() {
      const stdio = yield* Stdio
      return (target) => {
        // One line buffer per linked component and stream, shared by every handle the guest asks for.
        const sink = lineSink((text) => stdio.line(target.componentId, stream, text))
        return { [fn]: { run: () => WasiIo.makeOutput(sink) } }
      }
    })
  })

/**
 * `wasi:cli/stdout`.
 *
 * @since 0.1.0
 * @category models
 */
export const stdoutInterface: Linker.HostInterface<Stdio> = outputInterface("wasi:cli/stdout", "stdout", "getStdout")

/**
 * `wasi:cli/stderr`.
 *
 * @since 0.1.0
 * @category models
 */
export const stderrInterface: Linker.HostInterface<Stdio> = outputInterface("wasi:cli/stderr", "stderr", "getStderr")

const emptyInput: WasiIo.InputSource = { read: () => Effect.succeed(undefined) }

/**
 * `wasi:cli/stdin`: always at its end.
 *
 * @since 0.1.0
 * @category models
 */
export const stdinInterface: Linker.HostInterface = Linker.hostInterface({
  name: "wasi:cli/stdin",
  make: Effect.succeed(() => ({ getStdin: { run: () => WasiIo.makeInput(emptyInput) } }))
})

const noTerminal = (name: string, fn: string): Linker.HostInterface =>
  Linker.hostInterface({ name, make: Effect.succeed(() => ({ [fn]: { run: () => Effect.succeed(undefined) } })) })

/**
 * `wasi:cli/terminal-*`: a guest's stdio is never a terminal (every `get-terminal-*` is `none`).
 *
 * @since 0.1.0
 * @category models
 */
export const terminalInterfaces: ReadonlyArray<Linker.HostInterface> = [
  Linker.hostInterface({
    name: "wasi:cli/terminal-input",
    resources: { TerminalInput: WasiIo.terminalInput },
    make: Effect.succeed(() => ({}))
  }),
  Linker.hostInterface({
    name: "wasi:cli/terminal-output",
    resources: { TerminalOutput: WasiIo.terminalOutput },
    make: Effect.succeed(() => ({}))
  }),
  noTerminal("wasi:cli/terminal-stdin", "getTerminalStdin"),
  noTerminal("wasi:cli/terminal-stdout", "getTerminalStdout"),
  noTerminal("wasi:cli/terminal-stderr", "getTerminalStderr")
]

/**
 * `wasi:io/streams`, `wasi:io/error` and `wasi:io/poll`: the stream resources every WASI stream
 * (stdio, files) is made of. Included in `hostInterfaces`; link them once per `Linker`.
 *
 * @since 0.1.0
 * @category models
 */
export const ioInterfaces: ReadonlyArray<Linker.HostInterface> = [
  WasiIo.streamsInterface,
  WasiIo.errorInterface,
  WasiIo.pollInterface
]

/**
 * Everything a guest's stdio needs: stdout, stderr, stdin, the terminal interfaces and `wasi:io`.
 *
 * @since 0.1.0
 * @category models
 */
export const hostInterfaces: ReadonlyArray<Linker.HostInterface<Stdio>> = [
  stdoutInterface,
  stderrInterface,
  stdinInterface,
  ...terminalInterfaces,
  ...ioInterfaces
]

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

const levels = { stdout: "Info", stderr: "Warn" } as const

/**
 * Guests' lines into the Effect logger (stdout at `Info`, stderr at `Warn`), annotated with
 * `component` and `stream`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Stdio> = Layer.succeed(
  Stdio,
  Stdio.of({
    line: (component, stream, text) =>
      Effect.logWithLevel(levels[stream])(text).pipe(Effect.annotateLogs({ component, stream }))
  })
)

/**
 * Keeps guests' lines in memory (readable with `lines`), for tests.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Stdio | MemoryLines> = Layer.effectContext(Effect.sync(() => {
  const kept: Array<Line> = []
  return Context.make(Stdio, Stdio.of({ line: (component, stream, text) => Effect.sync(() => void kept.push({ component, stream, text })) }))
    .pipe(Context.add(MemoryLines, MemoryLines.of({ lines: Effect.sync(() => kept.slice()) })))
}))

/**
 * Drops every line.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDeny: Layer.Layer<Stdio> = Layer.succeed(Stdio, Stdio.of({ line: () => Effect.void }))
