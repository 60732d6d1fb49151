// A user's cluster program against the installed package (test/Package.test.ts runs it on Node 24 and
// type-checks it with TypeScript 7, module nodenext, strict, no DOM lib): one runner in this process over
// a SQLite file, a component deployed, an actor asked. `node cluster.ts GUEST.wasm DATABASE`.
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Duration, Effect, Layer, Schedule } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import { Cluster } from "airssys-wasm/cluster"

const [guest = "guests/greeter-v1.wasm", database = "cluster.db"] = process.argv.slice(2)

const freePort = Effect.callback<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

const transient = (error: Cluster.CallFailure): boolean =>
  error._tag === "RequestTimeout" || (error._tag === "ClusterError" && error.reason === "Unavailable")

export const program = Effect.gen(function*() {
  const cluster = yield* Cluster.Cluster
  const spec: Cluster.Spec = yield* cluster.deploy({
    name: "greeter",
    version: "1",
    bytes: new Uint8Array(fs.readFileSync(guest)),
    limits: { fuel: 100_000_000, timeout: Duration.seconds(1), memoryBytes: 16 * 1024 * 1024 }
  })
  // The runner takes its shards just after it starts: retry what cannot be delivered yet.
  const reply = yield* Effect.retry(cluster.request("greeter/1", new TextEncoder().encode("cluster")), {
    while: transient,
    schedule: Schedule.spaced("200 millis"),
    times: 100
  })
  const placement: Cluster.Placement = yield* cluster.where("greeter/1")
  const unknown = yield* Effect.flip(cluster.request("nobody/1", new Uint8Array()))
  return {
    reply: new TextDecoder().decode(reply),
    component: placement.component,
    runner: placement.runner,
    hash: spec.hash.length,
    unknown: unknown._tag === "ClusterError" ? unknown.reason : unknown._tag
  }
})

const runner = (port: number) =>
  Cluster.layerRunner({ host: "127.0.0.1", port }).pipe(Layer.provide(SqliteClient.layer({ filename: database })))

const main = Effect.flatMap(freePort, (port) =>
  program.pipe(
    Effect.provide(runner(port)),
    // The one runner there is hosts the actor.
    Effect.map(({ runner, ...seen }) => ({ ...seen, here: runner === `127.0.0.1:${port}` }))
  ))

console.log(JSON.stringify(await Effect.runPromise(main)))
