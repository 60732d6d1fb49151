/**
 * A progress line for slow steps: nothing for a step that ends quickly, one line once it has taken
 * longer than `after`, and a closing line with the time it took. Time comes from `Clock`, so
 * `TestClock` drives it.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Fiber } from "effect"

/**
 * @since 0.1.0
 * @category models
 */
export interface ProgressOptions {
  /** How long the step may take silently. Default 1 second. */
  readonly after?: Duration.Input | undefined
  /** The line printed once the step is slow: `loading plugin.wasm (12.1 MB): transpiling…`. */
  readonly message: string
  /** The closing line, given the elapsed milliseconds and whether the step succeeded; printed only if the first line was. */
  readonly done: (millis: number, succeeded: boolean) => string
  readonly report: (line: string) => Effect.Effect<void>
}

/**
 * Runs `step`, reporting progress if it is slow. The reporter is a fiber that sleeps, then prints; it
 * is interrupted when the step ends, whatever the outcome.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withProgress = <A, E, R>(step: Effect.Effect<A, E, R>, options: ProgressOptions): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const started = yield* Clock.currentTimeMillis
    let shown = false
    const reporter = yield* Effect.forkChild(
      Effect.sleep(options.after ?? Duration.seconds(1)).pipe(
        Effect.andThen(options.report(options.message)),
        Effect.andThen(Effect.sync(() => void (shown = true)))
      ),
      { startImmediately: true }
    )
    return yield* step.pipe(
      Effect.onExit((exit) =>
        Effect.gen(function*() {
          yield* Fiber.interrupt(reporter)
          if (!shown) return
          const now = yield* Clock.currentTimeMillis
          yield* options.report(options.done(now - started, exit._tag === "Success"))
        })
      )
    )
  })
