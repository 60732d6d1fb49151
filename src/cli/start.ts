/**
 * Runs the CLI on the process's arguments, with Node's services; exits with the command's exit code.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Cause, Effect, Exit, Runtime } from "effect"
import { run } from "./command.ts"

// runMain interrupts the command on SIGINT and SIGTERM; the exit code says which (128 + the signal).
let signal: "SIGINT" | "SIGTERM" | undefined
process.once("SIGINT", () => signal ??= "SIGINT")
process.once("SIGTERM", () => signal ??= "SIGTERM")

run(process.argv.slice(2)).pipe(
  Effect.provide(NodeServices.layer),
  (program) =>
    NodeRuntime.runMain(program, {
      teardown: (exit, onExit) =>
        signal !== undefined && Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
          ? onExit(signal === "SIGTERM" ? 143 : 130)
          : Runtime.defaultTeardown(exit, onExit)
    })
)
