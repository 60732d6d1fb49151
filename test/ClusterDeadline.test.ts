/**
 * The bound every cluster call gets on the caller's side (`src/internal/cluster/deadline.ts`): the same
 * outcomes as `Effect.timeoutOrElse` — the call's own success or failure, or the timeout's error with the
 * call interrupted, and the call interrupted with its caller — on the live clock (one forked fiber and a
 * timer) and under a `TestClock` (where it is `timeoutOrElse`). Nothing here measures time: the live
 * clock's cases use a call that never ends or ends at once.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { withDeadline } from "../src/internal/cluster/deadline.ts"

/** A call that never ends, and a deferred completed when it is interrupted. */
const hanging = Effect.map(Deferred.make<void>(), (interrupted) => ({
  call: Effect.onInterrupt(Effect.never, () => Deferred.succeed(interrupted, undefined)),
  interrupted
}))

describe("cluster deadline", () => {
  it.live("live clock - a call's success and failure pass through; a call that does not end fails with the timeout's error and is interrupted", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* withDeadline(Effect.succeed(1), 1_000, () => "late"), 1)
      assert.deepStrictEqual(yield* Effect.exit(withDeadline(Effect.fail("no"), 1_000, () => "late")), Exit.fail("no"))
      // Ends after a suspension, well inside its bound.
      assert.strictEqual(yield* withDeadline(Effect.as(Effect.yieldNow, 2), 60_000, () => "late"), 2)

      const { call, interrupted } = yield* hanging
      assert.deepStrictEqual(yield* Effect.exit(withDeadline(call, 20, () => "late")), Exit.fail("late"))
      yield* Deferred.await(interrupted)
    }))

  it.live("live clock - interrupting the caller interrupts the call", () =>
    Effect.gen(function*() {
      const { call, interrupted } = yield* hanging
      const caller = yield* Effect.forkChild(withDeadline(call, 60_000, () => "late"))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(caller)
      yield* Deferred.await(interrupted)
    }))

  it.effect("TestClock - the deadline is the fiber's Clock's", () =>
    Effect.gen(function*() {
      const { call, interrupted } = yield* hanging
      const caller = yield* Effect.forkChild(Effect.exit(withDeadline(call, 5_000, () => "late")))
      yield* TestClock.adjust("4999 millis")
      assert.isUndefined(caller.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Fiber.join(caller), Exit.fail("late"))
      yield* Deferred.await(interrupted)
    }))
})
