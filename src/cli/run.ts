/**
 * `airssys-wasm run <component.wasm> [-- ARGS...]`: load, link with the granted capabilities only, call
 * one export, print its result. The guest's `ok` bytes go to stdout, unchanged; everything else (guest
 * log lines, messages it sent, denied capabilities, errors) goes to stderr.
 *
 * A WASI command (a component exporting `wasi:cli/run`, as `jco new --wasi-command` makes) runs the
 * way `wasmtime run` runs it: `run` is called without `--call`, the guest's arguments are the
 * component's path and what follows it (after `--`), its environment is what `--env` passes (never the
 * host's whole environment), its stdout and stderr are the process's, byte for byte (`--stdio log` makes
 * them tagged log lines on stderr instead, as they are by default for `process` and `handle-message`,
 * whose stdout is the result), its stdin is the process's, and the process exits with its exit code.
 *
 * @since 0.1.0
 */
import { Console, Duration, Effect, FileSystem, Option, Stdio, Stream } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as path from "node:path"
import * as Audit from "../Audit.ts"
import * as Capability from "../Capability.ts"
import * as Logging from "../capability/Logging.ts"
import * as Component from "../Component.ts"
import { LimitExceeded } from "../ComponentError.ts"
import type { Instance } from "../Instance.ts"
import * as Linker from "../Linker.ts"
import type * as Observer from "../Observer.ts"
import type * as ResourceLimits from "../ResourceLimits.ts"
import { unversioned } from "../internal/witName.ts"
import { UsageError } from "./errors.ts"
import * as Flags from "./flags.ts"
import * as Host from "./host.ts"
import { defaultCacheDirectory, load } from "./load.ts"
import { installCommand, missingPackage } from "./peer.ts"

const handlerInterface = "airssys:component/handler"
const runInterface = "wasi:cli/run"
const runFunction = "wasi:cli/run#run"
const lifecycleInterface = "airssys:component/lifecycle"

const repeated = (name: string, metavar: string, description: string) =>
  Flag.String(name).pipe(Flag.withMetavar(metavar), Flag.atLeast(0), Flag.withDescription(description))

const optional = (name: string, metavar: string, description: string) =>
  Flag.String(name).pipe(Flag.withMetavar(metavar), Flag.withDescription(description), Flag.optional)

/**
 * The flags and argument of `run`.
 *
 * @since 0.1.0
 * @category models
 */
export const config = {
  component: Argument.String("component").pipe(Argument.withDescription("the component (.wasm) to run")),
  dir: repeated("dir", "HOST[::GUEST]", "preopen the directory HOST read-write, named GUEST in the guest (default: HOST as typed); repeatable"),
  dirRo: repeated("dir-ro", "HOST[::GUEST]", "preopen the directory HOST read-only, named GUEST in the guest; repeatable"),
  args: Argument.String("args").pipe(
    Argument.withDescription("the guest's arguments (after --): it sees the component's path, then these"),
    Argument.variadic()
  ),
  env: repeated("env", "NAME[=VALUE]", "give the guest the variable NAME with VALUE, or with the host's value of NAME (repeatable; nothing else of the host's environment is passed)"),
  stdio: optional("stdio", "inherit|log", "the guest's stdout and stderr: the process's, byte for byte (inherit: the default for a wasi:cli/run command), or tagged lines on stderr (log: the default otherwise)"),
  allowRead: repeated("allow-read", "GLOB", "grant FileRead on paths matching GLOB (repeatable; relative to the working directory)"),
  allowWrite: repeated("allow-write", "GLOB", "grant FileWrite on paths matching GLOB (repeatable)"),
  allowNet: repeated("allow-net", "HOST[:PORT]", "grant NetworkOutbound to HOST (api.example.com, *.example.com, *), any port unless given"),
  allowMessaging: repeated("allow-messaging", "PATTERN", "grant Messaging to targets and topics matching PATTERN (orders.*, cli)"),
  allowStorage: repeated("allow-storage", "NAMESPACE", "grant Storage on the namespaces matching NAMESPACE"),
  memory: optional("memory", "SIZE", "linear memory cap, e.g. 64MiB (default), 512KiB, unlimited"),
  fuel: optional("fuel", "N", "fuel units per call (default 1e9; a tight loop burns ~1e9/s), or unlimited"),
  timeout: optional("timeout", "DURATION", "time per call, e.g. 5s (default), 500ms; in process a busy guest is stopped through its fuel slices, with --isolate by ending the worker"),
  isolate: Flag.Boolean("isolate").pipe(
    Flag.withDescription("run the guest in a worker thread, terminated when a call outlives --timeout (logging is the only import it can use)"),
    Flag.withDefault(false)
  ),
  call: optional("call", "NAME", "the export to call: process, handle-message, run, or interface#function (default: process, else handle-message, else wasi:cli/run)"),
  input: optional("input", "@FILE|-|TEXT", "the input: a file's bytes (@FILE), stdin (-), or TEXT as UTF-8 (default: empty); a command's stdin (default: the process's)"),
  id: optional("id", "ID", "the component's id in audit events and storage (default: the file name without .wasm)"),
  storage: optional("storage", "FILE", "keep storage in this SQLite file (default: in memory, gone after the run)"),
  audit: optional("audit", "FILE", "append the audit log (hash-chained JSONL) to FILE"),
  cacheDir: optional("cache-dir", "DIR", "where transpiled components are cached (default: ~/.cache/airssys-wasm)"),
  observe: Flag.String("observe").pipe(
    Flag.withMetavar("PORT"),
    Flag.withOptionalValue("0"),
    Flag.withDescription(
      "serve the live observer on 127.0.0.1:PORT (a free port when bare) and keep serving after the call until Ctrl-C"
    ),
    Flag.optional
  )
} as const

/**
 * @since 0.1.0
 * @category models
 */
export type Config = Command.Command.Config.Infer<typeof config>

const report: Host.Report = { line: (text) => Console.error(text) }

const parseLimits = (options: Config): Effect.Effect<Partial<ResourceLimits.Resolved>, UsageError> =>
  Effect.gen(function*() {
    const limits: { -readonly [K in keyof ResourceLimits.Resolved]?: ResourceLimits.Resolved[K] } = {}
    if (Option.isSome(options.memory)) limits.memoryBytes = yield* Flags.size("memory", options.memory.value)
    if (Option.isSome(options.fuel)) limits.fuel = yield* Flags.fuel("fuel", options.fuel.value)
    if (Option.isSome(options.timeout)) limits.timeout = yield* Flags.duration("timeout", options.timeout.value)
    if (options.isolate) limits.isolation = "worker"
    return limits
  })

/** What `--call` resolves to for this component. */
type Entry =
  | { readonly _tag: "Process" }
  | { readonly _tag: "HandleMessage" }
  | { readonly _tag: "Export"; readonly name: string }

const exportsInterface = (component: Component.Component, iface: string) =>
  component.world.exports.some((item) => item.kind === "interface" && unversioned(item.name) === iface)

const exportList = (component: Component.Component): string =>
  component.world.exports.map((item) => item.name).join(", ") || "nothing"

const entryOf = (component: Component.Component, call: Option.Option<string>): Effect.Effect<Entry, UsageError> => {
  const exportsProcess = component.world.exports.some((item) => item.kind === "function" && item.name === "process")
  const unknown = (name: string) =>
    Effect.fail(
      new UsageError({
        reason: "UnknownExport",
        flag: "call",
        message: `${name} is not an export of the component; it exports ${exportList(component)}`
      })
    )
  if (Option.isNone(call)) {
    if (exportsProcess) return Effect.succeed({ _tag: "Process" })
    if (exportsInterface(component, handlerInterface)) return Effect.succeed({ _tag: "HandleMessage" })
    if (exportsInterface(component, runInterface)) return Effect.succeed({ _tag: "Export", name: runFunction })
    return Effect.fail(
      new UsageError({
        reason: "UnknownExport",
        flag: "call",
        message: `the component exports neither process, handle-message nor wasi:cli/run (it exports ${exportList(component)}): name one with --call`
      })
    )
  }
  const name = call.value === "run" ? runFunction : call.value
  if (name === "process") return exportsProcess ? Effect.succeed({ _tag: "Process" }) : unknown(name)
  if (name === "handle-message" || unversioned(name.split("#")[0]!) === handlerInterface) {
    return exportsInterface(component, handlerInterface) ? Effect.succeed({ _tag: "HandleMessage" }) : unknown(name)
  }
  const hash = name.indexOf("#")
  const known = hash < 0
    ? component.world.exports.some((item) => item.kind === "function" && item.name === name)
    : exportsInterface(component, unversioned(name.slice(0, hash)))
  return known ? Effect.succeed({ _tag: "Export", name }) : unknown(name)
}

const isRun = (entry: Entry): boolean =>
  entry._tag === "Export" && unversioned(entry.name.split("#")[0]!) === runInterface && entry.name.endsWith("#run")

const stdioMode = (flag: Option.Option<string>, entry: Entry): Effect.Effect<Host.StdioMode, UsageError> => {
  if (Option.isNone(flag)) return Effect.succeed(isRun(entry) ? "inherit" : "log")
  const mode = flag.value
  return mode === "inherit" || mode === "log" ? Effect.succeed(mode) : Effect.fail(
    new UsageError({ reason: "InvalidFlag", flag: "stdio", message: `invalid --stdio ${JSON.stringify(mode)}: expected inherit or log` })
  )
}

// Only logging crosses back from a worker (see isolatedInstance).
const notIsolatable = (component: Component.Component): ReadonlyArray<string> =>
  component.loaded.imports.filter((iface) => iface !== Logging.interfaceName)

// Refuse other imports up front.
const checkIsolatable = (component: Component.Component): Effect.Effect<void, UsageError> => {
  const other = notIsolatable(component)
  return other.length === 0 ? Effect.void : Effect.fail(
    new UsageError({
      reason: "InvalidFlag",
      flag: "isolate",
      message: `--isolate: the component imports ${other.join(", ")}, but a worker-isolated guest can only call logging`
    })
  )
}

const call = (instance: Instance, entry: Entry, input: Uint8Array) => {
  switch (entry._tag) {
    case "Process":
      return instance.process(input)
    case "HandleMessage":
      return instance.handleMessage({ sender: Host.cliSender, payload: input })
    case "Export":
      // A command's `run` takes nothing: its input is its stdin.
      return instance.call(entry.name, isRun(entry) ? [] : [input])
  }
}

// The guest's result as bytes for stdout: bytes as they are, text as UTF-8, anything else as JSON.
const toBytes = (result: unknown): Uint8Array | undefined => {
  if (result === undefined || result === null) return undefined
  if (result instanceof Uint8Array) return result
  if (typeof result === "string") return new TextEncoder().encode(result)
  return new TextEncoder().encode(JSON.stringify(result, (_key, value) => typeof value === "bigint" ? value.toString() : value))
}

const write = (bytes: Uint8Array): Effect.Effect<void, never, Stdio.Stdio> =>
  Effect.gen(function*() {
    const stdio = yield* Stdio.Stdio
    const terminal = yield* stdio.stdoutIsTerminal
    // On a terminal, end the output with a newline so the prompt is not glued to it; in a pipe, bytes are exact.
    const chunks = terminal && bytes.byteLength > 0 && bytes[bytes.byteLength - 1] !== 10
      ? [bytes, new Uint8Array([10])]
      : [bytes]
    yield* Stream.fromIterable(chunks).pipe(Stream.run(stdio.stdout()), Effect.orDie)
  })

// A call that waits on the host can be cut by the timeout here; a busy guest only by fuel or --isolate.
const withTimeout = <A, E, R>(effect: Effect.Effect<A, E, R>, component: Component.Component, fn: string) =>
  Duration.isFinite(component.limits.timeout) && component.limits.isolation === "in-process"
    ? Effect.timeoutOrElse(effect, {
      duration: component.limits.timeout,
      orElse: () =>
        Effect.fail(
          new LimitExceeded({
            limit: "timeout",
            componentHash: component.hash,
            function: fn,
            allowed: Duration.toMillis(component.limits.timeout)
          })
        )
    })
    : effect

const grantHint = (event: Audit.AuditEvent): string => {
  const kind = event.capability as Capability.Kind | undefined
  return kind !== undefined && Object.hasOwn(Host.flagOf, kind)
    ? `grant it with ${Host.flagOf[kind]}`
    : "no host implementation"
}

// Loaded only for --observe: the observer serves HTTP with @effect/platform-node, an optional peer that
// the rest of the CLI does without.
const loadObserver = Effect.tryPromise({
  try: () => import("../observer/index.ts"),
  catch: (cause) => {
    const missing = missingPackage(cause)
    return new UsageError({
      reason: missing === undefined ? "InvalidFlag" : "MissingPackage",
      flag: "observe",
      message: missing === undefined
        ? `--observe: cannot load the observer: ${String(cause)}`
        : `--observe needs the package ${missing}, which is not installed: ${installCommand(missing)}`
    })
  }
})

/**
 * The handler of `run`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const handler = (options: Config) =>
  Effect.gen(function*() {
    const limits = yield* parseLimits(options)
    const capabilities = yield* Flags.grants({
      read: options.allowRead,
      write: options.allowWrite,
      net: options.allowNet,
      messaging: options.allowMessaging,
      storage: options.allowStorage
    }, process.cwd())
    const dirs = yield* Flags.dirs({ readWrite: options.dir, readOnly: options.dirRo }, process.cwd())
    const variables = yield* Flags.environment(options.env, process.env)
    const input = yield* Flags.input(options.input)
    const observePort = Option.isSome(options.observe) ? yield* Flags.port("observe", options.observe.value) : undefined
    const id = Option.getOrElse(options.id, () => path.basename(options.component).replace(/\.wasm$/, ""))
    const loadWith = (limits: Partial<ResourceLimits.Resolved>) =>
      load(options.component, {
        limits,
        // With --call, any world: the named export is checked below.
        entryPoints: Option.isSome(options.call) ? [] : Component.hostedEntryPoints,
        cacheDirectory: Option.getOrElse(options.cacheDir, defaultCacheDirectory)
      })
    let component = yield* loadWith(limits)
    if (options.isolate) yield* checkIsolatable(component)
    else if (notIsolatable(component).length === 0) {
      // A busy guest holds this thread, so a signal (Ctrl-C, SIGTERM) would wait for its call to end:
      // whenever its imports allow, it runs in a worker, which a signal or its timeout ends at once.
      component = yield* loadWith({ ...limits, isolation: "worker" })
    }
    // Otherwise it runs in this thread, where a signal is answered when its call ends (its timeout is
    // checked between fuel slices and at every host call; without fuel, a loop that never calls out is
    // not): from the executable, this is a child process that its parent kills if a signal does not end it.
    const entry = yield* entryOf(component, options.call)
    const stdio = yield* stdioMode(options.stdio, entry)
    // What the guest sees of `wasi:cli/environment`: a command always gets its name as argv[0].
    const environment = isRun(entry) || options.args.length > 0 || Object.keys(variables).length > 0
      ? [new Capability.Environment({ variables, arguments: [options.component, ...options.args] })]
      : []
    const fn = entry._tag === "Export" ? entry.name : entry._tag === "Process" ? "process" : "handle-message"

    const program = Effect.gen(function*() {
      const instance = yield* Linker.instantiate(component, {
        id,
        grants: Capability.makeGrants([...capabilities, ...environment, ...dirs.grants]),
        denyUnlinked: true
      })
      // A guest with lifecycle exports is driven as an actor would be: init before, shutdown after.
      const lifecycle = entry._tag === "Export" && unversioned(entry.name.split("#")[0]!) === lifecycleInterface
        ? undefined
        : instance.lifecycle
      if (lifecycle !== undefined) yield* lifecycle.init(new Uint8Array(0))
      const result = yield* withTimeout(call(instance, entry, input), component, fn).pipe(
        Effect.ensuring(Effect.gen(function*() {
          // One line per denied capability and resource (a refused link and the refused calls after it).
          const seen = new Set<string>()
          for (const event of yield* Audit.events) {
            const key = `${event.component} ${event.capability} ${event.resource}`
            if (event.kind === "capability" && event.decision === "denied" && !seen.has(key)) {
              seen.add(key)
              yield* Console.error(
                `airssys-wasm: denied ${event.capability} ${JSON.stringify(event.resource)} to ${event.component} (${grantHint(event)})`
              )
            }
          }
        }))
      )
      if (lifecycle !== undefined && !instance.poisoned) yield* lifecycle.shutdown()
      const bytes = toBytes(result)
      if (bytes !== undefined) yield* write(bytes)
    })
    // With --observe the observer serves from before the call until Ctrl-C, whatever the call's outcome
    // (its denials and errors are on stderr already), so a person can look.
    const observed: Effect.Effect<
      void,
      Effect.Error<typeof program> | Observer.ObserverError | UsageError,
      Effect.Services<typeof program>
    > = observePort === undefined ? program : Effect.gen(function*() {
      const { Observer } = yield* loadObserver
      return yield* Effect.gen(function*() {
        const observer = yield* Observer.Observer
        yield* Console.error(`airssys-wasm: observer at ${observer.url} (Ctrl-C to stop)`)
        const exit = yield* Effect.exit(program)
        yield* observer.sample
        if (exit._tag === "Failure") yield* Console.error(`airssys-wasm: the call failed; the observer still serves`)
        return yield* Effect.never
      }).pipe(Effect.provide(Observer.layer({ port: observePort })))
    })
    return yield* observed.pipe(
      Effect.scoped,
      Effect.provide(Host.layer({
        report,
        stdio,
        // A command takes no input argument: `--input` is its stdin.
        stdin: isRun(entry) && Option.isSome(options.input) ? input : undefined,
        storage: Option.getOrUndefined(options.storage),
        audit: Option.getOrUndefined(options.audit),
        ...(dirs.preopens.length > 0 ? { preopens: dirs.preopens } : {})
      })),
      // Only building the host fails with these (a guest's storage failures reach it as `err`): a bad file.
      Effect.catchTags({
        StorageError: (error) =>
          Effect.fail(new UsageError({ reason: "MissingFile", flag: "storage", message: `--storage ${Option.getOrElse(options.storage, () => "")}: ${error.message}` })),
        AuditError: (error) => Effect.fail(new UsageError({ reason: "MissingFile", flag: "audit", message: `--audit: ${error.message}` })),
        ObserverError: (error) => Effect.fail(new UsageError({ reason: "InvalidFlag", flag: "observe", message: `--observe: ${error.message}` }))
      })
    )
  })

/**
 * `airssys-wasm run`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const command = Command.make("run", config, handler).pipe(
  Command.withDescription(
    "Run a component: call one export with the input and print its result. Deny by default: the guest gets " +
      "only the capabilities the --allow-* flags grant; every other host call it makes is refused and audited."
  ),
  Command.withExamples([
    { command: "airssys-wasm run echo.wasm --input hello", description: "process(\"hello\"), print the result" },
    { command: "airssys-wasm run plugin.wasm --allow-storage plugin --storage state.db --input @request.bin", description: "with storage in a SQLite file" },
    { command: "airssys-wasm run loop.wasm --fuel 1000000", description: "stop a runaway guest after 1e6 units of fuel" },
    { command: "airssys-wasm run tool.wasm --env LANG=C --env HOME -- --verbose input.txt", description: "a WASI command with arguments and two variables; exits with its exit code" },
    { command: "airssys-wasm run plugin.wasm --observe=4000", description: "watch it on http://127.0.0.1:4000/ (audit, dead letters, /metrics)" }
  ])
)
