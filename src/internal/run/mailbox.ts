/**
 * An actor's mailbox: a FIFO on effect's `Queue` that outlives the incarnations serving it, with room for
 * `capacity` items, the senders waiting for room, and the consumer's wait for work.
 *
 * Why `Queue` and not a hand-made FIFO: issue 16 keeps a hand-made mailbox only where it beats `Queue` by
 * 2x on the busy path *and* the idle path. bench/mailbox.ts measures both beside their `Queue` baselines
 * ("mailbox, busy: …" and "mailbox, idle: …"): over four runs the hand-made one was 0.3–0.7x its
 * baseline on the busy row but 0.6–1.0x on the idle row, never 2x, so the mailbox is a `Queue`.
 *
 * The consumer takes items one by one (`take`, synchronous), so that whatever it has not taken when its
 * incarnation ends stays queued, in order, for the next one. With nothing queued it parks (`awaitWork`);
 * an `offer` wakes it on its scheduler, as `Queue` does, so everything offered meanwhile is taken in one
 * batch. `wake` wakes it with nothing queued (a crash or a stop to act on), through a marker it skips.
 *
 * @internal
 */
import { Effect, Exit, Queue } from "effect"

/** What `wake` queues: taken and skipped by the consumer, never counted. */
const WakeUp: unique symbol = Symbol("airssys-wasm/Mailbox/WakeUp")

export interface Mailbox<A> {
  readonly capacity: number
  /** Items queued (offered and not yet taken). */
  readonly size: () => number
  readonly hasRoom: () => boolean
  /** Queues `item` (the caller checked `hasRoom`) and wakes a parked consumer on its scheduler. */
  readonly offer: (item: A) => void
  /** The oldest item, now; `undefined` when none is queued. */
  readonly take: () => A | undefined
  /** Parks the consumer until an item is offered or `wake` is called; it then looks again. */
  readonly awaitWork: Effect.Effect<void>
  /** Wakes a parked consumer now, with nothing new queued. */
  readonly wake: () => void
  /** Takes every queued item. */
  readonly drain: () => Array<A>
  /** Waits until `releaseSenders` or `releaseAllSenders` lets this sender go: it then checks again. */
  readonly awaitRoom: Effect.Effect<void>
  /** Lets as many waiting senders go as there is room for, oldest first. */
  readonly releaseSenders: () => void
  /** Lets every waiting sender go (the actor stops: they learn it when they check again). */
  readonly releaseAllSenders: () => void
}

export const make = <A>(capacity: number): Effect.Effect<Mailbox<A>> =>
  Effect.map(Queue.unbounded<A | typeof WakeUp>(), (queue) => {
    // Taken while parked, before the consumer looks again: the next `take` returns it.
    let held: A | undefined
    let parked = false
    let wakeQueued = false
    // Senders waiting for room, oldest first.
    const waiting: Array<() => void> = []

    const size = () => Queue.sizeUnsafe(queue) - (wakeQueued ? 1 : 0) + (held === undefined ? 0 : 1)

    const take = (): A | undefined => {
      if (held !== undefined) {
        const item = held
        held = undefined
        return item
      }
      while (true) {
        const taken = Queue.takeUnsafe(queue)
        if (taken === undefined || Exit.isFailure(taken)) return undefined
        if (taken.value !== WakeUp) return taken.value
        wakeQueued = false
      }
    }

    const awaitWork = Effect.suspend(() => {
      parked = true
      return Effect.map(Queue.take(queue), (item) => {
        parked = false
        if (item === WakeUp) wakeQueued = false
        else held = item
      })
    })

    const wake = () => {
      if (!parked || wakeQueued) return
      wakeQueued = true
      Queue.offerUnsafe(queue, WakeUp)
      // Now, not on the next scheduler tick: a crash or a stop is acted on at once.
      Queue.flushUnsafe(queue)
    }

    const awaitRoom = Effect.callback<void>((resume) => {
      const release = () => resume(Effect.void)
      waiting.push(release)
      return Effect.sync(() => {
        const index = waiting.indexOf(release)
        if (index >= 0) waiting.splice(index, 1)
      })
    })

    const mailbox: Mailbox<A> = {
      capacity,
      size,
      hasRoom: () => size() < capacity,
      offer: (item) => {
        Queue.offerUnsafe(queue, item)
      },
      take,
      awaitWork,
      wake,
      drain: () => {
        const items: Array<A> = []
        for (let item = take(); item !== undefined; item = take()) items.push(item)
        return items
      },
      awaitRoom,
      // Each released sender checks again when it runs; one that runs at once may fill the mailbox
      // itself, so stop when it is full.
      releaseSenders: () => {
        let room = capacity - size()
        while (room-- > 0 && waiting.length > 0 && size() < capacity) waiting.shift()!()
      },
      releaseAllSenders: () => {
        for (const release of waiting.splice(0)) release()
      }
    }
    return mailbox
  })
