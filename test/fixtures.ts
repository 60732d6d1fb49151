/**
 * Paths and bytes of the guest components built from `guests/` by `scripts/build-guests.ts`.
 */
import { type Clock, ConfigProvider, Effect, Logger, References, type Scope, Tracer } from "effect"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

export const guestDirectory = path.resolve(import.meta.dirname, "..", "build", "guests")

export const guestPath = (name: string): string => path.join(guestDirectory, `${name}.wasm`)

export const guestBytes = (name: string): Uint8Array => new Uint8Array(fs.readFileSync(guestPath(name)))

export const text = (s: string): Uint8Array => new TextEncoder().encode(s)

export const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

/** Host imports for the `logging` interface that record every logged line, in order. */
export const logRecorder = () => {
  const logged: Array<string> = []
  return {
    logged,
    imports: {
      "airssys:component/logging": {
        log: (_level: string, message: string) => Effect.sync(() => void logged.push(message))
      }
    }
  }
}

/** What the Effect logger received: each line's message, level and annotations; provide `layer`. */
export const logCapture = () => {
  const logged: Array<{ message: unknown; level: string; annotations: unknown }> = []
  const capture = Logger.make((options) =>
    void logged.push({
      message: options.message,
      level: options.logLevel,
      annotations: options.fiber.getRef(References.CurrentLogAnnotations)
    })
  )
  return { logged, layer: Logger.layer([capture]) }
}

/** A program for the liar guests: op byte, u32 `a`, u32 `b`, data. */
export const program = (op: string, a = 0, b = 0, data: Uint8Array = new Uint8Array()): Uint8Array => {
  const bytes = new Uint8Array(9 + data.length)
  const view = new DataView(bytes.buffer)
  bytes[0] = op.charCodeAt(0)
  view.setUint32(1, a >>> 0, true)
  view.setUint32(5, b >>> 0, true)
  bytes.set(data, 9)
  return bytes
}

/** Not UTF-8: a lone continuation byte, an overlong encoding, a surrogate. */
export const invalidUtf8: ReadonlyArray<Uint8Array> = [
  new Uint8Array([0x61, 0x80, 0x62]),
  new Uint8Array([0xc0, 0xaf]),
  new Uint8Array([0xed, 0xa0, 0x80])
]

/**
 * A Clock whose time moves on by `stepMillis` each time it is read, whatever the machine does: a guest
 * that reads it once per slice of fuel runs out of time after a known number of slices.
 */
export const steppingClock = (stepMillis: number, sleeper?: Clock.Clock) => {
  let now = 0
  const state = { reads: 0 }
  const read = () => {
    state.reads++
    return (now += stepMillis)
  }
  const nanos = () => BigInt(read()) * 1_000_000n
  const clock: Clock.Clock = {
    currentTimeMillisUnsafe: read,
    currentTimeMillis: Effect.sync(read),
    currentTimeNanosUnsafe: nanos,
    currentTimeNanos: Effect.sync(nanos),
    monotonicTimeNanosUnsafe: nanos,
    monotonicTimeNanos: Effect.sync(nanos),
    // Sleeping is left to the test's clock (TestClock), when given.
    sleep: (duration) => sleeper === undefined ? Effect.void : sleeper.sleep(duration)
  }
  return { clock, state }
}

const root = path.resolve(import.meta.dirname, "..")
const pinned = path.join(root, "node_modules", ".bin", "node")
const pinnedNode = fs.existsSync(pinned) ? pinned : process.execPath

/**
 * Runs `test/programs/NAME.ts` in a child process on the pinned Node (with `--expose-gc`) and answers the
 * JSON report on its last line of output: for tests that must not share this process's state (such as
 * using up every WebAssembly memory V8 gives a process).
 */
export const runProgram = <A>(name: string): Effect.Effect<A, Error> =>
  Effect.callback<A, Error>((resume) => {
    execFile(
      pinnedNode,
      ["--expose-gc", path.join(root, "test", "programs", `${name}.ts`)],
      { cwd: root },
      (error, out, err) =>
        resume(error === null ? Effect.succeed(JSON.parse(out.trim().split("\n").at(-1)!) as A) : Effect.fail(new Error(`${error.message}\n${err}`)))
    )
  })

/**
 * The tags `effect` fails with when run under a `ConfigProvider.fromEnv` of each environment, in order:
 * what a `layerConfig` test compares with `"ConfigError"` for every bad value.
 */
export const failuresUnderEnv = <A, E extends { readonly _tag: string }, R>(
  envs: ReadonlyArray<Record<string, string>>,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<Array<string>, never, R> =>
  Effect.forEach(envs, (env) =>
    effect.pipe(
      Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })),
      Effect.match({ onFailure: (error) => error._tag, onSuccess: () => `succeeded under ${JSON.stringify(env)}` })
    ))

/** A long-running child program (see `startProgram`). */
export interface RunningProgram {
  readonly process: ChildProcess
  /** Everything it printed so far (stdout and stderr), for failure messages. */
  readonly output: () => string
  /** Resolves when it has exited. */
  readonly exited: Effect.Effect<void>
}

/**
 * Starts `test/programs/NAME.ts ARGS...` on the pinned Node and waits (up to `readyWithinMillis`) until
 * it prints a line for which `ready` holds; the scope's end SIGKILLs it if it still runs.
 */
export const startProgram = (
  name: string,
  args: ReadonlyArray<string>,
  ready: (line: string) => boolean,
  readyWithinMillis = 60_000
): Effect.Effect<RunningProgram, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<RunningProgram, Error>((resume) => {
      const child = spawn(pinnedNode, [path.join(root, "test", "programs", `${name}.ts`), ...args], {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      let started = false
      const exit = new Promise<void>((done) => child.once("exit", () => done()))
      const running: RunningProgram = {
        process: child,
        output: () => output,
        exited: Effect.promise(() => exit)
      }
      const fail = (why: string) => {
        if (started) return
        started = true
        clearTimeout(timer)
        child.kill("SIGKILL")
        resume(Effect.fail(new Error(`${name} ${args.join(" ")}: ${why}\n${output}`)))
      }
      const timer = setTimeout(() => fail(`not ready within ${readyWithinMillis} ms`), readyWithinMillis)
      child.stdout!.on("data", (chunk) => {
        output += String(chunk)
        if (!started && output.split("\n").some(ready)) {
          started = true
          clearTimeout(timer)
          resume(Effect.succeed(running))
        }
      })
      child.stderr!.on("data", (chunk) => void (output += String(chunk)))
      child.once("exit", (code, signal) => fail(`exited (${code ?? signal}) before it was ready`))
    }),
    (running) =>
      running.process.exitCode !== null || running.process.signalCode !== null
        ? Effect.void
        : Effect.andThen(Effect.sync(() => running.process.kill("SIGKILL")), running.exited)
  )

/** A tracer that records each span's name, attributes and whether it ended (beside the native tracer's). */
export const spanRecorder = () => {
  const spans: Array<{ name: string; attributes: Record<string, unknown>; ended: boolean }> = []
  const tracer = Tracer.make({
    span: (options) => {
      const record = { name: options.name, attributes: {} as Record<string, unknown>, ended: false }
      spans.push(record)
      const span = Tracer.nativeTracer.span(options)
      return Object.assign(Object.create(span), {
        attribute: (key: string, value: unknown) => void (record.attributes[key] = value),
        end: () => void (record.ended = true)
      })
    }
  })
  return { spans, tracer }
}
