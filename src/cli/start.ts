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
import { Effect, Layer } from "effect"
import { run } from "./command.ts"

const NodeServices = Layer.provideMerge(
  NodeChildProcessSpawner.layer,
  Layer.mergeAll(NodeFileSystem.layer, NodePath.layer, NodeStdio.layer, NodeTerminal.layer)
)

run(process.argv.slice(2)).pipe(Effect.provide(NodeServices), NodeRuntime.runMain)
