/**
 * `bench cluster`'s baseline: an effect/cluster entity with no wasm behind it, answering each request
 * with its payload. Registered by `clusterRunner.ts` when started with `--bench-echo`.
 */
import { Effect, Schema } from "effect"
import { Entity } from "effect/cluster"
import { Rpc } from "effect/rpc"

export const Echo = Entity.make("bench/Echo", [
  Rpc.make("Echo", { payload: { payload: Schema.Uint8Array }, success: Schema.Uint8Array })
])

export const layer = Echo.toLayer(Echo.of({ Echo: ({ payload }) => Effect.succeed(payload.payload) }))
