/**
 * The `airssys-wasm` command tree, and how it runs: parse errors and command failures each become
 * one line on stderr and an exit code (see `errors.ts`).
 *
 * @since 0.1.0
 */
import { Console, Effect } from "effect"
import { Command, CliOutput } from "effect/cli"
import * as Audit from "./audit.ts"
import { exitCodeOf, render, Reported } from "./errors.ts"
import * as Inspect from "./inspect.ts"
import * as Run from "./run.ts"

/**
 * @since 0.1.0
 * @category models
 */
export const version = "0.1.0"

/**
 * @since 0.1.0
 * @category constructors
 */
export const root = Command.make("airssys-wasm").pipe(
  Command.withDescription("Run WebAssembly components with capabilities denied by default, inspect them, verify audit logs."),
  Command.withSubcommands([Run.command, Inspect.command, Audit.command])
)

const isGuestExit = (error: unknown): error is { readonly _tag: "GuestExit"; readonly code: number } =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "GuestExit"

// Parse errors as one line each, with where to find the usage; help as usual.
const presenter: CliOutput.Presenter = {
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Effect.forEach(
        event.errors,
        (error) =>
          Console.error(
            `airssys-wasm: ${error.message.replace(/\s*\n\s*/g, " ")} (see: ${event.commandPath.join(" ")} --help)`
          ),
        { discard: true }
      )
      : CliOutput.defaultPresenter.present(event)
}

/**
 * Runs the CLI on `args` (without the node and script paths). Fails with `Reported` (exit code in
 * it) once the failure is on stderr.
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = (args: ReadonlyArray<string>) =>
  Command.runWith(root, { version, renderErrors: true })(args).pipe(
    Effect.provide(CliOutput.layerPresenter(presenter)),
    Effect.catch((error) =>
      // The guest ended itself with an exit code: the process ends with it, and says nothing of its own.
      isGuestExit(error) ? Effect.fail(new Reported({ code: error.code })) : Effect.andThen(
        // CLI parse errors were presented already.
        typeof error === "object" && error !== null && "_tag" in error && error._tag === "ShowHelp"
          ? Effect.void
          : Console.error(`airssys-wasm: ${render(error)}`),
        Effect.fail(new Reported({ code: exitCodeOf(error) }))
      )
    )
  )
