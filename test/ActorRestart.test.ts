import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { Actor, Component, Supervisor } from "../src/index.ts"
import { guestPath, text } from "./fixtures.ts"

const counter = (reply: Uint8Array | undefined) => new DataView(reply!.buffer, reply!.byteOffset).getUint32(0, true)

describe("Actor restart", () => {
  // A reply resumes its requester at once, inside the actor's batch; a request made there finds the actor
  // idle and calls the guest directly. When that call traps, the batch must stop: the next queued message
  // belongs to the restarted instance, not to the poisoned one.
  it.effect("a message queued while an idle-path request crashes the instance mid-batch waits for the restart", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("lifecycle"))
      const actor = yield* Actor.make(component, { id: "reentrant" })
      yield* Supervisor.start({
        id: "root",
        intensity: { maxRestarts: 10, period: "1 minute" },
        backoff: Schedule.forever,
        children: [Actor.child(actor)]
      })
      // After this crash, the next request goes through the mailbox and is answered from the actor's loop.
      assert.strictEqual((yield* Effect.flip(actor.request(text("trap"))))._tag, "Trap")
      assert.strictEqual(counter(yield* actor.request(text("a"))), 1)
      // Still inside that loop's batch: trap through the idle path, then queue one more.
      assert.strictEqual((yield* Effect.flip(actor.request(text("trap"))))._tag, "Trap")
      assert.strictEqual(counter(yield* actor.request(text("b"))), 1)
      const stats = yield* actor.stats
      assert.strictEqual(stats.traps, 2)
      assert.strictEqual(stats.incarnations, 3)
    }))
})
