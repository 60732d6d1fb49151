/**
 * The `airssys:component/logging` host interface: a guest's log lines, into the Effect logger.
 *
 * `layer` writes each line with Effect's logger (the loggers and minimum level of the fiber that
 * instantiated the component), annotated with `component: <id>`. `layerMemory` keeps the lines for
 * tests (`lines`); `layerDeny` drops them. Logging is ungated: `log` has no `result` in WIT, so there
 * is nothing a refusal could answer the guest with, and the lines are harmless once bounded
 * (`maxMessageLength`). Log calls are not audited.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import * as Linker from "../Linker.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * The WIT interface this module implements.
 *
 * @since 0.1.0
 * @category models
 */
export const interfaceName = "airssys:component/logging"

/**
 * The guest's log levels (the WIT `level` enum).
 *
 * @since 0.1.0
 * @category models
 */
export const Level = Schema.Literals(["trace", "debug", "info", "warn", "error"])

/**
 * @since 0.1.0
 * @category models
 */
export type Level = typeof Level.Type

/**
 * One line a guest logged.
 *
 * @since 0.1.0
 * @category models
 */
export interface Line {
  readonly component: string
  readonly level: Level
  readonly message: string
}

/**
 * Longer messages are cut to this many characters (and marked `…`): a guest cannot flood a sink
 * with one call.
 *
 * @since 0.1.0
 * @category models
 */
export const maxMessageLength = 8192

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------

/**
 * Where guests' log lines go.
 *
 * @since 0.1.0
 * @category services
 */
export class Logging extends Context.Service<Logging, {
  readonly log: (component: string, level: Level, message: string) => Effect.Effect<void>
}>()("airssys-wasm/Logging") {}

/**
 * The lines kept by `layerMemory`.
 *
 * @since 0.1.0
 * @category services
 */
export class MemoryLines extends Context.Service<MemoryLines, {
  readonly lines: Effect.Effect<ReadonlyArray<Line>>
}>()("airssys-wasm/Logging/MemoryLines") {}

/**
 * The lines kept by the `layerMemory` in the environment, oldest first.
 *
 * @since 0.1.0
 * @category services
 */
export const lines: Effect.Effect<ReadonlyArray<Line>, never, MemoryLines> = MemoryLines.use((memory) => memory.lines)

// -----------------------------------------------------------------------------
// host interface
// -----------------------------------------------------------------------------

const severities = {
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  error: "Error"
} as const satisfies Record<Level, string>

// jco lifts the WIT enum to its case name; anything else (a future case) is logged at info.
const levelOf = (level: unknown): Level =>
  typeof level === "string" && Object.hasOwn(severities, level) ? level as Level : "info"

const bounded = (message: unknown): string => {
  const text = typeof message === "string" ? message : String(message)
  return text.length > maxMessageLength ? `${text.slice(0, maxMessageLength)}…` : text
}

/**
 * How the Linker links `airssys:component/logging` to the `Logging` service.
 *
 * @since 0.1.0
 * @category models
 */
export const hostInterface: Linker.HostInterface<Logging> = Linker.hostInterface({
  name: interfaceName,
  make: Effect.gen(function*() {
    const logging = yield* Logging
    return (target) => ({
      log: {
        run: (level: unknown, message: unknown) => logging.log(target.componentId, levelOf(level), bounded(message))
      }
    })
  })
})

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * Guests' lines into the Effect logger, annotated with `component`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Logging> = Layer.succeed(
  Logging,
  Logging.of({
    log: (component, level, message) =>
      Effect.logWithLevel(severities[level])(message).pipe(Effect.annotateLogs("component", component))
  })
)

/**
 * Keeps guests' lines in memory (readable with `lines`), for tests.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<Logging | MemoryLines> = Layer.effectContext(Effect.sync(() => {
  const kept: Array<Line> = []
  return Context.make(Logging, Logging.of({ log: (component, level, message) => Effect.sync(() => void kept.push({ component, level, message })) }))
    .pipe(Context.add(MemoryLines, MemoryLines.of({ lines: Effect.sync(() => kept.slice()) })))
}))

/**
 * Drops every line.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDeny: Layer.Layer<Logging> = Layer.succeed(Logging, Logging.of({ log: () => Effect.void }))
