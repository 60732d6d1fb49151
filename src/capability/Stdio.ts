/**
 * `wasi:cli/stdout`, `wasi:cli/stderr` and `wasi:cli/stdin` for guests, two ways.
 *
 * **As log lines** (`layer`, `layerMemory`, `fromLines`): a guest's bytes are split into lines (on
 * `\n`, UTF-8 decoded), tagged with its component id. A line waits for its newline however many
 * writes and flushes it comes in (toolchains flush after every `printf`); what is left at the end of
 * the guest's call (or when its instance is closed) is emitted then, so `print("hi")` without a
 * newline still shows (and a newline that opens the next call does not add an empty line). A line
 * longer than `maxLineLength` bytes is cut (and marked `…`); the rest of it, up to its newline, is
 * dropped, so a guest cannot flood a sink or hold host memory with one endless line. stdin is empty.
 * `layer` writes the lines with Effect's logger (stdout at `Info`, stderr at `Warn`), annotated with
 * `component` and `stream`; `layerMemory` keeps them for tests (`lines`); `layerDeny` drops them.
 *
 * **As bytes** (`layerProcess`, `layerStreams`): what a WASI runtime does. Every byte goes to the
 * process's (or the given) stdout and stderr unchanged, in order; stdin is the process's (or the
 * given bytes).
 *
 * Like logging, stdio is ungated and not audited: it reaches nothing but the host's own streams. A
 * stream's pollable is always ready (host streams never block), so a guest's `poll` on stdio answers
 * at once.
 *
 * The `wasi:io` interfaces the streams need (`streams`, `error`, `poll`) are linked with it: pass
 * `Stdio.hostInterfaces` to `Linker.layer`.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import { atCallEnd } from "../internal/host/hostBridge.ts"
import * as WasiIo from "../internal/host/wasiIo.ts"
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
 * Where one component's stdout or stderr goes. `end` comes at the end of each of the guest's calls
 * (and when its instance is closed): an output that cuts lines emits a partial line then, not at
 * every flush, so output written in many small pieces still arrives as whole lines.
 *
 * @since 0.1.0
 * @category models
 */
export interface Output {
  readonly write: (bytes: Uint8Array) => Effect.Effect<void>
  readonly end: Effect.Effect<void>
}

/**
 * What one component reads as stdin: `undefined` at the end. Synchronous: a guest's read cannot wait.
 *
 * @since 0.1.0
 * @category models
 */
export interface Input {
  readonly read: (length: number) => Effect.Effect<Uint8Array | undefined>
}

/**
 * Where guests' stdout and stderr go and what they read as stdin, per component.
 *
 * @since 0.1.0
 * @category services
 */
export class Stdio extends Context.Service<Stdio, {
  /** The output of one linked component's stream: asked once per component and stream. */
  readonly output: (component: string, stream: Stream) => Output
  /** The stdin of one linked component. */
  readonly input: (component: string) => Input
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
// constructors
// -----------------------------------------------------------------------------

const newline = 10
const decoder = new TextDecoder()

/**
 * One component's stream, cut into lines. Bytes wait in `pending` until a newline or the end of the
 * call; past `maxLineLength` the line is emitted cut and the rest of it skipped.
 */
const lineOutput = (emit: (text: string) => Effect.Effect<void>): Output => {
  const pending = new Uint8Array(maxLineLength)
  let size = 0
  let skipping = false
  // The end of a call emitted the pending bytes as a line: a newline that comes first in the next
  // call ends that line instead of adding an empty one.
  let ended = false
  const take = (): string => {
    const text = decoder.decode(pending.subarray(0, size))
    size = 0
    return text
  }
  return {
    write: (bytes) =>
      Effect.suspend(() => {
        const out: Array<string> = []
        for (let i = 0; i < bytes.length; i++) {
          const byte = bytes[i]!
          if (byte === newline) {
            if (skipping) skipping = false
            else if (!(ended && size === 0)) out.push(take())
            ended = false
          } else if (!skipping) {
            ended = false
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
    end: Effect.suspend(() => {
      if (size === 0) return Effect.void
      ended = true
      return emit(take())
    })
  }
}

const emptyInput: Input = { read: () => Effect.succeed(undefined) }

/**
 * A `Stdio` that cuts each component's output into lines for `line` (UTF-8 decoded, at most
 * `maxLineLength` bytes each) and gives guests an empty stdin.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromLines = (line: (component: string, stream: Stream, text: string) => Effect.Effect<void>): Stdio["Service"] =>
  Stdio.of({
    output: (component, stream) => lineOutput((text) => line(component, stream, text)),
    input: () => emptyInput
  })

/**
 * Byte streams a `Stdio` writes guests' output to, unchanged, and reads their stdin from.
 *
 * @since 0.1.0
 * @category models
 */
export interface Streams {
  readonly stdout: { readonly write: (bytes: Uint8Array) => unknown }
  readonly stderr: { readonly write: (bytes: Uint8Array) => unknown }
  /**
   * Guests' stdin: bytes (each component reads them from the start), or an `Input` shared by every
   * component. Empty when absent.
   */
  readonly stdin?: Uint8Array | Input | undefined
}

const bytesInput = (bytes: Uint8Array): Input => {
  let offset = 0
  return {
    read: (length) =>
      Effect.sync(() => {
        if (offset >= bytes.byteLength) return undefined
        const chunk = bytes.slice(offset, offset + length)
        offset += chunk.byteLength
        return chunk
      })
  }
}

/**
 * A `Stdio` over byte streams: every byte a guest writes goes to `stdout` or `stderr` as it is, in
 * the order written (no lines, no tags, nothing held back).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromStreams = (streams: Streams): Stdio["Service"] => {
  const stdin = streams.stdin
  const shared: Input | undefined = stdin === undefined || stdin instanceof Uint8Array ? undefined : stdin
  return Stdio.of({
    output: (_component, stream) => {
      const target = streams[stream]
      return { write: (bytes) => Effect.sync(() => void target.write(bytes)), end: Effect.void }
    },
    input: () => shared ?? (stdin instanceof Uint8Array ? bytesInput(stdin) : emptyInput)
  })
}

// -----------------------------------------------------------------------------
// host interfaces
// -----------------------------------------------------------------------------

const outputInterface = (name: string, stream: Stream, fn: string): Linker.HostInterface<Stdio> =>
  Linker.hostInterface({
    name,
    make: Effect.gen(function*() {
      const stdio = yield* Stdio
      return (target) => {
        // One output per linked component and stream, shared by every handle the guest asks for.
        const output = stdio.output(target.componentId, stream)
        const end = atCallEnd(output.end)
        const sink: WasiIo.OutputSink = {
          capacity: 65536,
          write: (bytes) => Effect.andThen(output.write(bytes), end),
          // A flush does not end a line: many toolchains flush after every small write.
          flush: Effect.void
        }
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

/**
 * `wasi:cli/stdin`: what the `Stdio` service gives the component (empty unless a layer gives it bytes).
 *
 * @since 0.1.0
 * @category models
 */
export const stdinInterface: Linker.HostInterface<Stdio> = Linker.hostInterface({
  name: "wasi:cli/stdin",
  make: Effect.gen(function*() {
    const stdio = yield* Stdio
    return (target) => {
      // One reader per linked component, shared by every handle the guest asks for.
      const input = stdio.input(target.componentId)
      const source: WasiIo.InputSource = { read: input.read }
      return { getStdin: { run: () => WasiIo.makeInput(source) } }
    }
  })
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
  fromLines((component, stream, text) =>
    Effect.logWithLevel(levels[stream])(text).pipe(Effect.annotateLogs({ component, stream }))
  )
)

/**
 * Keeps guests' lines in memory (readable with `lines`), for tests.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Stdio | MemoryLines> = Layer.effectContext(Effect.sync(() => {
  const kept: Array<Line> = []
  return Context.make(Stdio, fromLines((component, stream, text) => Effect.sync(() => void kept.push({ component, stream, text }))))
    .pipe(Context.add(MemoryLines, MemoryLines.of({ lines: Effect.sync(() => kept.slice()) })))
}))

/**
 * Guests' output to byte streams, unchanged; their stdin from `streams.stdin` (see `fromStreams`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStreams = (streams: Streams): Layer.Layer<Stdio> => Layer.sync(Stdio, () => fromStreams(streams))

// The process's stdin, read as the guest asks (a blocking read, as a WASI runtime's is): the end at
// end of file or when it cannot be read (closed, not blocking and empty).
const processStdin: Input = {
  read: (length) => {
    const buffer = new Uint8Array(Math.max(1, Math.min(length, 65536)))
    return Effect.try(() => fs.readSync(0, buffer, 0, buffer.byteLength, null)).pipe(
      Effect.orElseSucceed(() => 0),
      Effect.map((read) => read === 0 ? undefined : buffer.subarray(0, read))
    )
  }
}

/**
 * The process's own streams: guests' stdout and stderr written to the process's stdout and stderr
 * byte for byte, their stdin read from the process's stdin. What a WASI runtime does (`wasmtime run`,
 * `airssys-wasm run` on a command); every guest linked shares the three streams.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerProcess: Layer.Layer<Stdio> = Layer.sync(
  Stdio,
  () => fromStreams({ stdout: process.stdout, stderr: process.stderr, stdin: processStdin })
)

/**
 * Drops every line; stdin is empty.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDeny: Layer.Layer<Stdio> = Layer.succeed(
  Stdio,
  Stdio.of({ output: () => ({ write: () => Effect.void, end: Effect.void }), input: () => emptyInput })
)
