/**
 * Reading a component file for a command: a missing file is a usage error, a slow load (a large
 * component transpiling, its core modules instrumented for fuel) shows a progress line.
 *
 * @since 0.1.0
 */
import { Console, Effect, FileSystem } from "effect"
import * as os from "node:os"
import * as path from "node:path"
import * as Component from "../Component.ts"
import type { ComponentLoadError } from "../ComponentError.ts"
import { UsageError } from "./errors.ts"
import { withProgress } from "./progress.ts"

/**
 * Where transpiled and instrumented components are cached between runs: `$AIRSSYS_WASM_CACHE_DIR`,
 * else `$XDG_CACHE_HOME/airssys-wasm`, else `~/.cache/airssys-wasm`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const defaultCacheDirectory = (): string =>
  process.env.AIRSSYS_WASM_CACHE_DIR ??
    path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "airssys-wasm")

const formatSize = (bytes: number): string =>
  bytes >= 1024 * 1024
    ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
    : bytes >= 1024
    ? `${(bytes / 1024).toFixed(1)} KiB`
    : `${bytes} B`

/**
 * The file's bytes; a missing or unreadable file is a `UsageError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const readFile = (file: string, flag: string): Effect.Effect<Uint8Array, UsageError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    return yield* fs.readFile(file).pipe(
      Effect.mapError((error) =>
        new UsageError({
          reason: "MissingFile",
          flag,
          message: error.reason._tag === "NotFound"
            ? `no such file: ${file}`
            : `cannot read ${file}: ${error.reason.message}`
        })
      )
    )
  })

/**
 * Loads a component from a file, with a progress line on stderr if it takes over a second.
 *
 * @since 0.1.0
 * @category constructors
 */
export const load = (
  file: string,
  options: Component.LoadOptions
): Effect.Effect<Component.Component, UsageError | ComponentLoadError, FileSystem.FileSystem> =>
  Effect.gen(function*() {
    const bytes = yield* readFile(file, "component")
    const name = path.basename(file)
    return yield* withProgress(Component.fromBytes(bytes, options), {
      message: `airssys-wasm: loading ${name} (${formatSize(bytes.byteLength)}): transpiling` +
        (Number.isFinite(options.limits?.fuel ?? 1) ? " and instrumenting for fuel" : "") + `, cached for the next run…`,
      done: (millis, loaded) => `airssys-wasm: ${loaded ? "loaded" : "failed to load"} ${name} in ${(millis / 1000).toFixed(1)} s`,
      report: (line) => Console.error(line)
    })
  })
