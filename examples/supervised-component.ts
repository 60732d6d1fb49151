/**
 * A crashing component under a supervisor: the message that made it trap goes to dead letters, the
 * supervisor restarts it with a fresh instance after a backoff, and the messages queued behind the bad
 * one are handled by the new instance — the mailbox belongs to the host, not to the instance. A child
 * that keeps crashing makes its supervisor give up and escalate.
 *
 * guests/flaky.wat logs and echoes every message, and traps on a payload starting with "trap".
 *
 * Run: node scripts/build-guests.ts flaky && node examples/supervised-component.ts
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Console, Effect, Schedule } from "effect"
import * as path from "node:path"
import { Actor, Component, DeadLetters, Supervisor } from "../src/index.ts"

const guest = (name: string) => path.resolve(import.meta.dirname, "..", "build", "guests", `${name}.wasm`)
const text = (s: string) => new TextEncoder().encode(s)
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

// flaky's only import is logging: print its lines.
const imports = (id: string) => ({
  "airssys:component/logging": { log: (_level: string, message: string) => Console.log(`   [${id}] handled ${JSON.stringify(message)}`) }
})

const restartAndCarryOn = Effect.gen(function*() {
  yield* Console.log("1. One bad message among good ones")
  const flaky = yield* Component.fromFile(guest("flaky"))
  const actor = yield* Actor.make(flaky, { id: "flaky", imports: imports("flaky") })
  // Queue everything before the actor starts: the trap happens with messages waiting behind it.
  for (const payload of ["order 1", "trap: a poisoned order", "order 2", "order 3"]) yield* actor.send(text(payload))
  const supervisor = yield* Supervisor.start({
    id: "orders",
    strategy: "OneForOne",
    backoff: Schedule.spaced("100 millis"),
    children: [Actor.child(actor)]
  })
  // A request queues behind the three others: its reply means everything before it was handled.
  const last = yield* actor.request(text("order 4"))
  yield* Console.log(`   reply to the last request: ${JSON.stringify(decode(last!))}`)

  for (const letter of yield* DeadLetters.DeadLetters.use((store) => store.letters)) {
    yield* Console.log(`   dead letter: ${JSON.stringify(decode(letter.message.payload))} — ${letter.reason}: ${letter.error}`)
  }
  const [child] = (yield* supervisor.snapshot).children
  yield* Console.log(`   supervisor "orders": child ${child!.id} restarted ${child!.ownRestarts} time(s); the actor is ` +
    `${child!.details?.status}, handled ${child!.details?.handled} messages in ${child!.details?.incarnations} incarnations`)
})

const escalate = Effect.gen(function*() {
  yield* Console.log("\n2. A child that keeps crashing: at most 2 restarts in 5 seconds, then the supervisor gives up")
  const actor = yield* Actor.make(yield* Component.fromFile(guest("flaky")), { id: "doomed", imports: imports("doomed") })
  for (let i = 1; i <= 4; i++) yield* actor.send(text(`trap #${i}`))
  const supervisor = yield* Supervisor.start({
    id: "fragile",
    intensity: { maxRestarts: 2, period: "5 seconds" },
    backoff: Schedule.spaced("50 millis"),
    children: [Actor.child(actor)]
  })
  const escalation = yield* Effect.flip(supervisor.await)
  yield* Console.log(`   ${escalation._tag}: ${escalation.message}`)
  yield* Console.log(`   (nested under a parent supervisor, this escalation is a crash of the child "fragile", handled by the parent's strategy)`)
})

NodeRuntime.runMain(Effect.scoped(Effect.andThen(restartAndCarryOn, escalate)))
