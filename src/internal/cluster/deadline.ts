/**
 * A call bounded by a deadline, cheaper than `Effect.timeoutOrElse`: the bound every cluster call gets on
 * the caller's side (`Cluster.request`, `send`, `where`), so that a call to an actor whose runner is gone
 * fails at its timeout instead of waiting for its shard to move.
 *
 * `timeoutOrElse` races the call against a sleep: two forked fibers that each suspend, and losers
 * awaited. Here the call runs in one forked fiber and the live clock's deadline is a plain timer,
 * cleared when the call ends first. On a loaded 2-core machine that took ~15–25 µs off each remote
 * request, about a tenth of it (bench row `cluster: cluster request, wasm entity (16 B)`, beside
 * effect/cluster's own entity). Under any other `Clock` (a `TestClock`), or past what one timer can
 * hold, it is `timeoutOrElse` itself, so the deadline always comes from the fiber's `Clock`.
 *
 * @internal
 */
import { Clock, Context, Duration, Effect } from "effect"

/** The `Clock` a fiber has when nobody provided one: its `sleep` is `setTimeout`. */
const liveClock = Context.get(Context.empty(), Clock.Clock)

/** What one `setTimeout` can wait (longer ones fire at once). */
const maxTimerMillis = 2 ** 31 - 1

/** `call`, failed with `onTimeout()` (and interrupted) once `millis` have passed without its outcome. */
export const withDeadline = <A, E, E2>(
  call: Effect.Effect<A, E>,
  millis: number,
  onTimeout: () => E2
): Effect.Effect<A, E | E2> =>
  Effect.withFiber((parent) => {
    if (Context.get(parent.context, Clock.Clock) !== liveClock || !(millis >= 0 && millis <= maxTimerMillis)) {
      return Effect.timeoutOrElse(call, { duration: Duration.millis(millis), orElse: () => Effect.fail(onTimeout()) })
    }
    return Effect.callback<A, E | E2>((resume) => {
      const fiber = Effect.runForkWith(parent.context)(call)
      const timer = setTimeout(() => {
        // Resumed first: the interrupt may end the call (and call its observer) at once.
        resume(Effect.fail(onTimeout()))
        fiber.interruptUnsafe(parent.id)
      }, millis)
      // Called at once when the call already ended; `resume` keeps the first outcome.
      fiber.addObserver((exit) => {
        clearTimeout(timer)
        resume(exit)
      })
      return Effect.sync(() => {
        clearTimeout(timer)
        fiber.interruptUnsafe(parent.id)
      })
    })
  })
