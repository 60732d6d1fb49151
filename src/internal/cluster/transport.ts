/**
 * effect/cluster's Node socket transport over SQL storage, put together here rather than through
 * `NodeClusterSocket.layer`, which also reads the runner's configuration from the environment (`HOST`,
 * `PORT`, ...): a library's runner is configured by its caller only.
 *
 * @internal
 */
import { NodeClusterSocket } from "@effect/platform-node"
import * as NodeCrypto from "@effect/platform-node/NodeCrypto"
import { Layer } from "effect"
import { RunnerHealth, Runners, ShardingConfig, SocketRunner, SqlMessageStorage, SqlRunnerStorage } from "effect/cluster"
import { RpcSerialization } from "effect/rpc"

type Config = ShardingConfig.ShardingConfig["Service"]

const storage = (config: Config) =>
  Layer.mergeAll(
    SqlMessageStorage.layer.pipe(Layer.provide(NodeCrypto.layerDigest)),
    Layer.orDie(SqlRunnerStorage.layer)
  ).pipe(Layer.provideMerge(ShardingConfig.layer(config)))

const serialization = RpcSerialization.layerSchemaBinary()

/** A runner: serves its shards' entities on a socket, pings the others, stores messages in SQL. */
export const runner = (config: Config) =>
  SocketRunner.layer.pipe(
    Layer.provide(RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(NodeClusterSocket.layerClientProtocol))),
    Layer.provide([NodeClusterSocket.layerSocketServer, NodeClusterSocket.layerClientProtocol]),
    Layer.provide(storage(config)),
    Layer.provide(serialization)
  )

/** A member that only calls: finds each entity's runner through the database. */
export const client = (config: Config) =>
  SocketRunner.layerClientOnly.pipe(
    Layer.provide(NodeClusterSocket.layerClientProtocol),
    Layer.provide(storage(config)),
    Layer.provide(serialization)
  )
