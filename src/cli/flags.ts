/**
 * Flag values as the user types them → the library's types, each bad value a `UsageError` that names
 * the flag and says what was expected.
 *
 * @since 0.1.0
 */
import { Duration, Effect, FileSystem, Option, Result, Schema, Stdio, Stream } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Capability from "../Capability.ts"
import * as Filesystem from "../capability/Filesystem.ts"
import * as ResourceLimits from "../ResourceLimits.ts"
import { UsageError } from "./errors.ts"

const invalid = (flag: string, value: string, expected: string): UsageError =>
  new UsageError({ reason: "InvalidFlag", flag, message: `invalid --${flag} ${JSON.stringify(value)}: expected ${expected}` })

const decodeBytes = Schema.decodeUnknownOption(ResourceLimits.Bytes)

/**
 * A size: `64MiB`, `64 MiB`, `512KiB`, `1GB`, a plain number of bytes, or `unlimited`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const size = (flag: string, text: string): Effect.Effect<number, UsageError> => {
  const trimmed = text.trim()
  const value = /^\d+$/.test(trimmed) ? Option.some(Number(trimmed)) : decodeBytes(trimmed)
  return Option.match(value, {
    onNone: () =>
      Effect.fail(invalid(flag, text, "a size such as 64MiB, 512KiB, 1GB (units B, KiB, MiB, GiB, kB, MB, GB) or \"unlimited\"")),
    onSome: (bytes) =>
      bytes < 65536
        ? Effect.fail(invalid(flag, text, "at least 64KiB (one WebAssembly page)"))
        : Effect.succeed(bytes)
  })
}

/**
 * Fuel units per call: a whole number ≥ 0, `1e9`, `1_000_000`, or `unlimited`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fuel = (flag: string, text: string): Effect.Effect<number, UsageError> => {
  const trimmed = text.trim().replaceAll("_", "")
  if (trimmed === "unlimited") return Effect.succeed(Number.POSITIVE_INFINITY)
  const units = /^\d+(?:\.\d+)?(?:e\d+)?$/i.test(trimmed) ? Number(trimmed) : Number.NaN
  return Number.isSafeInteger(units)
    ? Effect.succeed(units)
    : Effect.fail(invalid(flag, text, "a whole number of fuel units ≥ 0 (e.g. 1000000 or 1e6) or \"unlimited\""))
}

/**
 * A TCP port: 0 (any free port) to 65535.
 *
 * @since 0.1.0
 * @category constructors
 */
export const port = (flag: string, text: string): Effect.Effect<number, UsageError> => {
  const trimmed = text.trim()
  const value = /^\d{1,5}$/.test(trimmed) ? Number(trimmed) : Number.NaN
  return value >= 0 && value <= 65535
    ? Effect.succeed(value)
    : Effect.fail(invalid(flag, text, "a port number from 0 (any free port) to 65535"))
}

const durationUnits: Record<string, number> = {
  ms: 1,
  millis: 1,
  s: 1000,
  sec: 1000,
  seconds: 1000,
  second: 1000,
  m: 60_000,
  min: 60_000,
  minutes: 60_000,
  minute: 60_000
}

/**
 * A duration: `5s`, `500ms`, `2m`, `1.5 seconds`, or `unlimited`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const duration = (flag: string, text: string): Effect.Effect<Duration.Duration, UsageError> => {
  const trimmed = text.trim()
  if (trimmed === "unlimited") return Effect.succeed(Duration.infinity)
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/i.exec(trimmed)
  const unit = match === null ? undefined : durationUnits[match[2]!.toLowerCase()]
  const millis = match === null || unit === undefined ? Number.NaN : Number(match[1]) * unit
  return Number.isFinite(millis) && millis > 0
    ? Effect.succeed(Duration.millis(millis))
    : Effect.fail(invalid(flag, text, "a positive duration such as 5s, 500ms or 2m, or \"unlimited\""))
}

/**
 * The grants the `--allow-*` flags spell out. Everything else is denied.
 *
 * @since 0.1.0
 * @category models
 */
export interface AllowFlags {
  readonly read: ReadonlyArray<string>
  readonly write: ReadonlyArray<string>
  readonly net: ReadonlyArray<string>
  readonly messaging: ReadonlyArray<string>
  readonly storage: ReadonlyArray<string>
}

// A relative glob is taken relative to the working directory (as deno does); an absolute one is kept
// as typed, so `/data/../etc` is refused rather than silently normalized.
const absoluteGlob = (glob: string, cwd: string): string =>
  glob === "" || glob.startsWith("/") ? glob : path.resolve(cwd, glob)

// `HOST:PORT`, `[IPv6]:PORT`; a bare IPv6 address (`::1`, `fc00::/7`) has no port.
const netEntry = (value: string): Readonly<Record<string, unknown>> => {
  const bracketed = /^(\[[^\]]+\])(?::(\d+))?$/.exec(value)
  if (bracketed !== null) {
    return bracketed[2] === undefined
      ? { type: "NetworkOutbound", host: bracketed[1] }
      : { type: "NetworkOutbound", host: bracketed[1], port: Number(bracketed[2]) }
  }
  const colon = value.lastIndexOf(":")
  if (colon <= 0 || value.indexOf(":") !== colon || !/^\d+$/.test(value.slice(colon + 1))) return { type: "NetworkOutbound", host: value }
  return { type: "NetworkOutbound", host: value.slice(0, colon), port: Number(value.slice(colon + 1)) }
}

const decodeOne = (flag: string, value: string, entry: Readonly<Record<string, unknown>>) =>
  Capability.decode([entry]).pipe(
    Effect.mapError((error) =>
      new UsageError({ reason: "InvalidFlag", flag, message: `invalid --${flag} ${JSON.stringify(value)}: ${error.message.replace(/^capabilities\[\d+\]\.\w+: /, "")}` })
    ),
    Effect.map((capabilities) => capabilities[0]!)
  )

/**
 * The capabilities the `--allow-*` flags grant, validated: a bad glob, host or pattern is a
 * `UsageError` naming its flag.
 *
 * @since 0.1.0
 * @category constructors
 */
export const grants = (allow: AllowFlags, cwd: string): Effect.Effect<ReadonlyArray<Capability.Capability>, UsageError> =>
  Effect.all([
    ...allow.read.map((glob) => decodeOne("allow-read", glob, { type: "FileRead", glob: absoluteGlob(glob, cwd) })),
    ...allow.write.map((glob) => decodeOne("allow-write", glob, { type: "FileWrite", glob: absoluteGlob(glob, cwd) })),
    ...allow.net.map((host) => decodeOne("allow-net", host, netEntry(host))),
    ...allow.messaging.map((pattern) => decodeOne("allow-messaging", pattern, { type: "Messaging", pattern })),
    ...allow.storage.map((namespace) => decodeOne("allow-storage", namespace, { type: "Storage", namespace }))
  ])

/**
 * Named preopens from `--dir HOST[::GUEST]` (read-write) and `--dir-ro HOST[::GUEST]` (read-only):
 * HOST relative to the working directory, shown to the guest as GUEST (default: HOST as typed, as
 * wasmtime does), each with the grants that go with it (`Filesystem.preopenGrants`). A HOST that is
 * not an existing directory is a `UsageError` naming its flag.
 *
 * @since 0.1.0
 * @category constructors
 */
export const dirs = (
  specs: { readonly readWrite: ReadonlyArray<string>; readonly readOnly: ReadonlyArray<string> },
  cwd: string
): Effect.Effect<{ readonly preopens: ReadonlyArray<Filesystem.Preopen>; readonly grants: ReadonlyArray<Capability.Capability> }, UsageError> =>
  Effect.gen(function*() {
    const preopens: Array<Filesystem.Preopen> = []
    const all = [
      ...specs.readWrite.map((spec) => ["dir", spec, "read-write"] as const),
      ...specs.readOnly.map((spec) => ["dir-ro", spec, "read"] as const)
    ]
    for (const [flag, spec, access] of all) {
      const split = spec.indexOf("::")
      const host = split < 0 ? spec : spec.slice(0, split)
      const guest = split < 0 ? spec : spec.slice(split + 2)
      if (host === "" || guest === "" || guest.includes("\0")) {
        return yield* Effect.fail(invalid(flag, spec, "HOST[::GUEST], a host directory and the name the guest sees it by"))
      }
      // Grants match real paths: the directory's, symlinks resolved.
      const real = Result.try(() => fs.realpathSync.native(path.resolve(cwd, host)))
      const directory = Result.isSuccess(real) && Result.isSuccess(Result.try(() => fs.readdirSync(real.success)))
      if (Result.isFailure(real) || !directory) {
        return yield* Effect.fail(
          new UsageError({ reason: "MissingFile", flag, message: `--${flag} ${JSON.stringify(spec)}: ${JSON.stringify(host)} is not a directory` })
        )
      }
      preopens.push({ path: real.success, as: guest, access })
    }
    const grants = yield* Filesystem.preopenGrants(preopens).pipe(
      Effect.mapError((error) => new UsageError({ reason: "InvalidFlag", flag: "dir", message: `--dir: ${error.message}` }))
    )
    return { preopens, grants }
  })

/**
 * The variables `--env` gives the guest: `NAME=VALUE` as written, `NAME` with the host's value of
 * NAME (left out when the host has none). Nothing else of the host's environment.
 *
 * @since 0.1.0
 * @category constructors
 */
export const environment = (
  flags: ReadonlyArray<string>,
  host: Readonly<Record<string, string | undefined>>
): Effect.Effect<Record<string, string>, UsageError> =>
  Effect.gen(function*() {
    const variables: Record<string, string> = {}
    for (const flag of flags) {
      const equals = flag.indexOf("=")
      const name = equals < 0 ? flag : flag.slice(0, equals)
      if (name === "" || name.includes("\0")) yield* Effect.fail(invalid("env", flag, "NAME=VALUE or NAME, NAME not empty"))
      const value = equals < 0 ? host[name] : flag.slice(equals + 1)
      if (value !== undefined) variables[name] = value
    }
    return variables
  })

/**
 * The guest's input: `@FILE` (the file's bytes), `-` (all of stdin), or the text itself (UTF-8).
 * No `--input` is empty input.
 *
 * @since 0.1.0
 * @category constructors
 */
export const input = (
  spec: Option.Option<string>
): Effect.Effect<Uint8Array, UsageError, FileSystem.FileSystem | Stdio.Stdio> =>
  Effect.gen(function*() {
    if (Option.isNone(spec)) return new Uint8Array(0)
    const text = spec.value
    if (text === "-") {
      const stdio = yield* Stdio.Stdio
      const chunks = yield* Stream.runCollect(stdio.stdin).pipe(
        Effect.mapError((error) =>
          new UsageError({ reason: "InvalidInput", flag: "input", message: `cannot read stdin: ${error.message}` })
        )
      )
      return concat(chunks)
    }
    if (text.startsWith("@")) {
      const fs = yield* FileSystem.FileSystem
      const file = text.slice(1)
      return yield* fs.readFile(file).pipe(
        Effect.mapError((error) =>
          new UsageError({
            reason: "InvalidInput",
            flag: "input",
            message: `cannot read --input file ${JSON.stringify(file)}: ${error.reason._tag === "NotFound" ? "no such file" : error.message}`
          })
        )
      )
    }
    return new TextEncoder().encode(text)
  })

const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.byteLength, 0))
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}
