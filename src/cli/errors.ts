/**
 * The CLI's own errors, and how every failure of a command becomes one line on stderr and an exit
 * code: 2 for a usage error (a bad flag, a missing or unloadable file), 1 when the guest failed (trap,
 * `err`, limit) or an audit log does not verify, and the guest's own code when it called
 * `wasi:cli/exit` (`proc_exit(33)` exits 33; exit 0 from a command's `run` is success).
 *
 * @since 0.1.0
 */
import { Runtime, Schema } from "effect"
import { CliError } from "effect/cli"

/**
 * Why an invocation was refused before any guest ran.
 *
 * - `InvalidFlag`: a flag's value does not parse (`--memory 64XB`, `--fuel -1`, a bad glob).
 * - `MissingFile`: a file named on the command line does not exist or cannot be read.
 * - `InvalidInput`: `--input` names a file that cannot be read, or stdin failed.
 * - `UnknownExport`: `--call` names a function the component does not export.
 * - `MissingPackage`: a flag needs an optional peer dependency that is not installed (`--observe`:
 *   `@effect/platform-node`).
 *
 * @since 0.1.0
 * @category models
 */
export const UsageFailure = Schema.Literals(["InvalidFlag", "MissingFile", "InvalidInput", "UnknownExport", "MissingPackage"])

/**
 * @since 0.1.0
 * @category errors
 */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  reason: UsageFailure,
  /** The flag or argument at fault, without dashes. */
  flag: Schema.optionalKey(Schema.String),
  message: Schema.String
}) {}

/**
 * Exit codes.
 *
 * @since 0.1.0
 * @category models
 */
export const ExitCode = { ok: 0, failure: 1, usage: 2 } as const

/**
 * A failure that was already written to stderr: the process exits with `code`, and the runtime does
 * not log it again.
 *
 * @since 0.1.0
 * @category errors
 */
export class Reported extends Schema.TaggedError<Reported>()("Reported", { code: Schema.Int }) {
  override get [Runtime.errorExitCode](): number {
    return this.code
  }
  override get [Runtime.errorReported](): boolean {
    return false
  }
}

const usageTags = new Set(["UsageError", "ComponentLoadError", "AuditError", "StorageError", "CapabilityConfigError"])

const tagOf = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string" ? error._tag : undefined

/**
 * The exit code for a failure of a command.
 *
 * @since 0.1.0
 * @category constructors
 */
export const exitCodeOf = (error: unknown): number => {
  if (CliError.isCliError(error)) return ExitCode.usage
  const tag = tagOf(error)
  if (tag === "GuestExit") return (error as { readonly code: number }).code
  return tag !== undefined && usageTags.has(tag) ? ExitCode.usage : ExitCode.failure
}

const messageOf = (error: unknown): string => {
  if (typeof error === "object" && error !== null && "message" in error && typeof error.message === "string" && error.message !== "") {
    return error.message
  }
  return String(error)
}

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, "; ").trim()

/**
 * A failure as the one line the CLI prints for it (without the `airssys-wasm:` prefix).
 *
 * @since 0.1.0
 * @category constructors
 */
export const render = (error: unknown): string => {
  switch (tagOf(error)) {
    case "Trap": {
      const trap = error as { readonly function: string; readonly message: string }
      return `guest trapped in ${trap.function}: ${oneLine(trap.message)}`
    }
    case "GuestError": {
      const guest = error as { readonly function: string; readonly payload: unknown }
      const payload = typeof guest.payload === "string" ? guest.payload : JSON.stringify(guest.payload)
      return `guest returned an error from ${guest.function}: ${oneLine(String(payload))}`
    }
    case "LimitExceeded":
      return `limit exceeded: ${oneLine(messageOf(error))}`
    case "InstancePoisoned":
    case "LinkError":
      return oneLine(messageOf(error))
    case "ComponentLoadError": {
      const load = error as { readonly reason: string; readonly message: string }
      return `cannot load component (${load.reason}): ${oneLine(load.message)}`
    }
    case "VerifyError": {
      const broken = error as { readonly reason: string; readonly line: number; readonly message: string }
      return `audit log does not verify: line ${broken.line}: ${broken.reason}: ${oneLine(broken.message)}`
    }
    default:
      return oneLine(messageOf(error))
  }
}
