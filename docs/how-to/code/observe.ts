/**
 * How-to: observe a running host (docs/how-to/observe.md).
 *
 * Run from the repository root, after `node scripts/build-guests.ts`:
 *   node_modules/.bin/node docs/how-to/code/observe.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import * as path from "node:path"
import { Audit, Capability, Component, Deployment, Linker, Logging, Messaging, Registry, Router } from "airssys-wasm"
import { Observer } from "airssys-wasm/observer"

const guest = (name: string) => path.resolve(import.meta.dirname, "..", "..", "..", "build", "guests", `${name}.wasm`)
const text = (s: string): Uint8Array => new TextEncoder().encode(s)

// #region layers
// The observer reads what the services below it know: the registry's actors, the deployments and their
// supervisors, dead letters, and the audit events kept in memory (with their chain's verification).
const Host = Observer.layer({ port: 0, token: "let-me-in" }).pipe(
  Layer.provideMerge(Deployment.Deployment.layer),
  Layer.provideMerge(Linker.layer([Messaging.hostInterface, Logging.hostInterface])),
  Layer.provideMerge(Layer.mergeAll(Messaging.layer, Logging.layer)),
  Layer.provideMerge(Router.Router.layer),
  Layer.provideMerge(Layer.mergeAll(Registry.Registry.layer, Audit.layerMemory({ capacity: 1000 })))
)
// #endregion layers

// #region api
// The JSON API, as any tool would read it: the bearer token on every request.
const api = (observer: Observer.Observer["Service"], route: string) =>
  Effect.promise(() =>
    fetch(new URL(route, observer.url), { headers: { authorization: "Bearer let-me-in" } }).then((response) => response.json())
  )
// #endregion api

const program = Effect.gen(function*() {
  const observer = yield* Observer.Observer
  const deployment = yield* Deployment.Deployment
  const router = yield* Router.Router
  yield* Console.log(`observer on ${observer.host} (open ${observer.url.replace(/\d+\/$/, "PORT/")}?token=let-me-in)`)

  // #region traffic
  // flaky traps on a payload starting with "trap"; messenger may message flaky only.
  const logging = new Capability.Custom({ interface: Logging.interfaceName, scope: "*" })
  yield* deployment.deploy("flaky", "1", yield* Component.fromFile(guest("flaky")), { grants: Capability.makeGrants([logging]) })
  yield* deployment.deploy("messenger", "1", yield* Component.fromFile(guest("messenger")), {
    grants: Capability.makeGrants([new Capability.Messaging({ pattern: "flaky" })])
  })
  yield* router.request("host", "flaky", text("hello"))
  yield* router.send("host", "flaky", text("trap: poison")) // a trap: dead letter, then a restart
  yield* Effect.sleep("300 millis") // the supervisor's first backoff (100 ms)
  // messenger asks to send to "storage", which it was not granted: denied, and audited.
  yield* Effect.ignore(router.request("host", "messenger", text("s\u0007storage\u00049:EV")))
  yield* observer.sample
  // #endregion traffic

  // #region read
  const tree = yield* api(observer, "/api/tree")
  for (const supervisor of tree.supervisors) {
    for (const child of supervisor.children) {
      yield* Console.log(`tree: ${supervisor.id} (${supervisor.strategy}) → ${child.id} ${child.state}, restarts ${child.ownRestarts}`)
    }
  }
  const flaky = yield* api(observer, "/api/actors/flaky@1")
  yield* Console.log(`flaky@1: ${flaky.actor.status}, incarnation ${flaky.actor.incarnations}, last error: ${flaky.actor.lastError}`)
  const letters = yield* api(observer, "/api/dead-letters")
  for (const letter of letters.letters) yield* Console.log(`dead letter: ${letter.target} ${letter.reason} ${JSON.stringify(letter.preview)}`)
  const audit = yield* api(observer, "/api/audit")
  for (const event of audit.events.filter((e: Audit.AuditEvent) => e.decision === "denied")) {
    yield* Console.log(`denied: ${event.component} ${event.capability} ${event.resource}`)
  }
  yield* Console.log(`audit chain: ${audit.verification.state}`)
  // #endregion read

  // #region token
  const anonymous = yield* Effect.promise(() => fetch(new URL("/api/tree", observer.url)))
  yield* Console.log(`without the token: ${anonymous.status}`)
  // #endregion token

  // #region metrics
  const metrics = yield* Effect.promise(() =>
    fetch(new URL("/metrics", observer.url), { headers: { authorization: "Bearer let-me-in" } }).then((response) => response.text())
  )
  for (const line of metrics.split("\n").filter((line) => line.startsWith("airssys_actor_traps_total{actor=\"flaky@1\"}"))) {
    yield* Console.log(`metrics: ${line}`)
  }
  // #endregion metrics
})

NodeRuntime.runMain(program.pipe(Effect.scoped, Effect.provide(Host)))
