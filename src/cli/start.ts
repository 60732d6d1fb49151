/**
 * Runs the CLI on the process's arguments, with Node's services; exits with the command's exit code.
 *
 * The services come from `@effect/platform-node-shared`, the half of `@effect/platform-node` the CLI
 * uses (the same layers `NodeServices.layer` merges): `@effect/platform-node` itself would add undici
 * and, through its `redis` peer, ~20 MB to every install.
 *
 * @since 0.1.0
 */
import * as NodeChildProcessSpawner from "@effect/platform-node-shared/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import * as NodePath from "@effect/platform-node-shared/NodePath"
import * as NodeRuntime from "@effect/platform-node-shared/NodeRuntime"
import * as NodeStdio from "@effect/platform-node-shared/NodeStdio"
import * as NodeTerminal from "@effect/platform-node-shared/NodeTerminal"
import { Cause, Effect, Exit, Layer, Runtime } from "effect"
import { run } from "./command.ts"

const NodeServices = Layer.provideMerge(
  NodeChildProcessSpawner.layer,
  Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeStdio.layer, NodeTerminal.layer)
)

// runMain interrupts the command on SIGINT and SIGTERM; the exit code says which (128 + the signal).
let signal: "SIGINT" | "SIGTERM" | undefined
process.once("SIGINT", () => signal ??= "SIGINT")
process.once("SIGTERM", () => signal ??= "SIGTERM")

run(process.argv.slice(2)).pipe(
  Effect.provide(NodeServices),
  (program) =>
    NodeRuntime.runMain(program, {
      teardown: (exit, onExit) =>
        signal !== undefined && Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
          ? onExit(signal === "SIGTERM" ? 143 : 130)
          : Runtime.defaultTeardown(exit, onExit)
    })
)
