/**
 * Messages that could not be delivered or handled, kept for inspection instead of silently dropped.
 *
 * @since 0.1.0
 */
import { Context, Effect } from "effect"
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
}

/**
 * A bounded in-memory store.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeStore = (capacity = 10_000): Store => {
  // A ring: offering past the capacity overwrites the oldest letter in O(1).
  const ring: Array<DeadLetter> = []
  let next = 0
  let dropped = 0
  return {
    offer: (letter) => {
      if (ring.length < capacity) ring.push(letter)
      else {
        ring[next] = letter
        next = (next + 1) % capacity
        dropped++
      }
    },
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
