/**
 * Messages that could not be delivered or handled, kept for inspection instead of silently dropped.
 *
 * Two ways to read them: `letters` polls the store's ring (the newest `capacity` letters), and `stream`
 * delivers each letter offered while it runs, once, to each of its subscribers. Offering never waits:
 * the ring overwrites its oldest letter, and a subscriber that falls more than `streamBuffer` letters
 * behind loses the oldest of those it has not read yet (a sliding buffer), without slowing the actor
 * or router that offered them, the other subscribers, or the ring.
 *
 * @since 0.1.0
 */
import { type Cause, Context, Effect, Queue, Stream } from "effect"
import type { Message } from "./Instance.ts"

/**
 * Why a message ended here.
 *
 * - `Trapped`: the guest trapped while handling it (the "poisoned" message).
 * - `Rejected`: the guest returned `err` for a message nobody waited on.
 * - `Expired`: its requester gave up (timeout) before the actor reached it.
 * - `Stopped`: the actor stopped (or was forced to) before reaching it.
 * - `UnknownTarget`: nobody is registered under the address it was sent to.
 * - `MailboxFull`: a copy published to a subscriber whose mailbox had no room (publishing never waits).
 *
 * @since 0.1.0
 * @category models
 */
export type Reason = "Trapped" | "Rejected" | "Expired" | "Stopped" | "UnknownTarget" | "MailboxFull"

/**
 * @since 0.1.0
 * @category models
 */
export interface DeadLetter {
  readonly target: string
  readonly message: Message
  readonly reason: Reason
  readonly error: string
  /** Clock time, in milliseconds. */
  readonly at: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Store {
  /** Records a letter; the oldest are dropped past the capacity (and counted in `dropped`). */
  readonly offer: (letter: DeadLetter) => void
  readonly letters: Effect.Effect<ReadonlyArray<DeadLetter>>
  readonly dropped: Effect.Effect<number>
  /**
   * Every letter offered from when the stream starts running, once per run (each run is a subscriber of
   * its own), in order. It never ends; a subscriber more than `streamBuffer` letters behind loses the
   * oldest it has not read (see the module doc).
   */
  readonly stream: Stream.Stream<DeadLetter>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface StoreOptions {
  /** Letters a slow `stream` subscriber may fall behind before it loses the oldest. Default 1000. */
  readonly streamBuffer?: number | undefined
}

/**
 * A bounded in-memory store: the newest `capacity` letters for `letters`, and `stream` for subscribers.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeStore = (capacity = 10_000, options?: StoreOptions): Store => {
  // A ring: offering past the capacity overwrites the oldest letter in O(1).
  const ring: Array<DeadLetter> = []
  let next = 0
  let dropped = 0
  // One sliding queue per running stream: offering never waits, a slow reader loses its oldest.
  const subscribers = new Set<Queue.Enqueue<DeadLetter, Cause.Done>>()
  const streamBuffer = Math.max(1, Math.floor(options?.streamBuffer ?? 1000))
  return {
    offer: (letter) => {
      if (ring.length < capacity) ring.push(letter)
      else {
        ring[next] = letter
        next = (next + 1) % capacity
        dropped++
      }
      for (const queue of subscribers) Queue.offerUnsafe(queue, letter)
    },
    stream: Stream.callback<DeadLetter>(
      (queue) =>
        Effect.acquireRelease(
          Effect.sync(() => void subscribers.add(queue)),
          () => Effect.sync(() => void subscribers.delete(queue))
        ),
      { bufferSize: streamBuffer, strategy: "sliding" }
    ),
    letters: Effect.sync(() => ring.slice(next).concat(ring.slice(0, next))),
    dropped: Effect.sync(() => dropped)
  }
}

/**
 * Where dead letters go. Defaults to one process-wide bounded store; provide your own to isolate.
 *
 * @since 0.1.0
 * @category services
 */
export const DeadLetters = Context.Reference<Store>("airssys-wasm/DeadLetters", {
  defaultValue: () => makeStore()
})
