/**
 * Worker isolation: a 16 B `process` call and an instantiation with the guest in its own worker thread,
 * beside the same in process, measured in the same run.
 */
import { Duration, Effect } from "effect"
import { Component } from "../src/index.ts"
import { guestBytes } from "../test/fixtures.ts"
import { measureBatch, type Options, type Row } from "./harness.ts"

export const isolation = async (options: Options): Promise<ReadonlyArray<Row>> => {
  const bytes = guestBytes("echo")
  const inProcess = await Effect.runPromise(Component.fromBytes(bytes))
  const inWorker = await Effect.runPromise(
    Component.fromBytes(bytes, { limits: { isolation: "worker", timeout: Duration.seconds(5) } })
  )
  const input = new Uint8Array(16).fill(3)
  const suite = "isolation"

  const callsIn = (component: Component.Component, calls: number) =>
    measureBatch(options, calls, (n) =>
      Effect.runPromise(Effect.scoped(Effect.gen(function*() {
        const instance = yield* Component.instantiate(component)
        for (let i = 0; i < n; i++) yield* instance.process(input)
      }))))
  const instantiations = (component: Component.Component, count: number) =>
    measureBatch(options, count, (n) =>
      Effect.runPromise(Effect.gen(function*() {
        for (let i = 0; i < n; i++) yield* Effect.scoped(Component.instantiate(component))
      })), 3)

  const callNs = await callsIn(inProcess, 100_000)
  const workerCallNs = await callsIn(inWorker, 5_000)
  const instantiateNs = await instantiations(inProcess, 1_000)
  const workerInstantiateNs = await instantiations(inWorker, 20)
  return [
    { suite, name: "process (16 B), in process", nsPerOp: callNs },
    { suite, name: "process (16 B), worker", nsPerOp: workerCallNs, baseline: "process (16 B), in process" },
    { suite, name: "instantiate, in process", nsPerOp: instantiateNs },
    { suite, name: "instantiate, worker (spawn)", nsPerOp: workerInstantiateNs, baseline: "instantiate, in process" }
  ]
}
