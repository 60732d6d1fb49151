/**
 * The actor's mailbox on its own, no wasm: a hand-made mailbox (an array FIFO whose parked consumer is
 * woken by a task on its scheduler, the machinery Actor.ts had before issue 16) beside effect's `Queue`
 * used the same way. Issue 16 keeps a hand-made mailbox only if it beats `Queue` by ≥ 2x on both paths:
 *
 * - busy: many messages queued while the consumer works (the producer queues 256, then yields);
 * - idle: one message to a parked consumer, and the producer waits until it is handled.
 *
 * The consumer is the actor's loop reduced to its shape: take a message, handle it (a counter), up to 256
 * per batch, then let others in; park when the mailbox is empty.
 */
import { Effect, Queue } from "effect"
import type { SchedulerDispatcher } from "effect/Scheduler"
import { measureBatch, type Options, type Row } from "./harness.ts"

interface Item {
  readonly n: number
  readonly done: (() => void) | undefined
}

const batchSize = 256

/** The hand-made mailbox, as it was: FIFO with a moving head, wake-up scheduled on the consumer's dispatcher. */
class HandMade {
  private items: Array<Item | undefined> = []
  private head = 0
  private wake: (() => void) | undefined = undefined
  private wakeScheduled = false
  private dispatcher: SchedulerDispatcher | undefined = undefined
  private resume: ((effect: Effect.Effect<void>) => void) | undefined = undefined
  get size(): number {
    return this.items.length - this.head
  }
  offer(item: Item): void {
    this.items.push(item)
    if (this.wake !== undefined && !this.wakeScheduled) {
      this.wakeScheduled = true
      this.dispatcher!.scheduleTask(this.wakeTask, 0)
    }
  }
  take(): Item | undefined {
    if (this.head >= this.items.length) return undefined
    const item = this.items[this.head]
    this.items[this.head++] = undefined
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }
  private readonly wakeTask = () => {
    this.wakeScheduled = false
    this.wake?.()
  }
  private readonly wakeNow = () => {
    this.wake = undefined
    const resume = this.resume
    this.resume = undefined
    resume?.(Effect.void)
  }
  readonly awaitWork: Effect.Effect<void> = Effect.withFiber((fiber) => {
    this.dispatcher = fiber.currentDispatcher
    return Effect.callback<void>((resume) => {
      this.resume = resume
      this.wake = this.wakeNow
    })
  })
}

const handleItem = (state: { handled: number }, item: Item) => {
  state.handled++
  item.done?.()
}

const handMadeConsumer = (mailbox: HandMade, state: { handled: number }) =>
  Effect.gen(function*() {
    while (true) {
      let item = mailbox.take()
      if (item === undefined) {
        yield* mailbox.awaitWork
        continue
      }
      let batch = 0
      while (item !== undefined) {
        handleItem(state, item)
        if (++batch === batchSize) break
        item = mailbox.take()
      }
      if (mailbox.size > 0) yield* Effect.yieldNow
    }
  })

const queueConsumer = (queue: Queue.Queue<Item>, state: { handled: number }) =>
  Effect.gen(function*() {
    while (true) {
      const taken = Queue.takeUnsafe(queue)
      let item: Item | undefined = taken === undefined ? yield* Queue.take(queue) : (taken as { value: Item }).value
      let batch = 0
      while (item !== undefined) {
        handleItem(state, item)
        if (++batch === batchSize) break
        const next = Queue.takeUnsafe(queue)
        item = next === undefined ? undefined : (next as { value: Item }).value
      }
      if (Queue.sizeUnsafe(queue) > 0) yield* Effect.yieldNow
    }
  })

interface Subject {
  readonly offer: (item: Item) => void
  readonly consumer: (state: { handled: number }) => Effect.Effect<never>
}

const subjects = {
  handMade: Effect.sync((): Subject => {
    const mailbox = new HandMade()
    return { offer: (item) => mailbox.offer(item), consumer: (state) => handMadeConsumer(mailbox, state) }
  }),
  queue: Effect.map(Queue.unbounded<Item>(), (queue): Subject => ({
    offer: (item) => {
      Queue.offerUnsafe(queue, item)
    },
    consumer: (state) => queueConsumer(queue, state)
  }))
}

// Busy: the producer queues a chunk, yields (the consumer drains it), until `n` are handled.
const busy = (make: Effect.Effect<Subject>) => (n: number) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const subject = yield* make
    const state = { handled: 0 }
    yield* Effect.forkScoped(subject.consumer(state), { startImmediately: true })
    for (let i = 0; i < n;) {
      for (let j = 0; j < batchSize && i < n; j++, i++) subject.offer({ n: i, done: undefined })
      yield* Effect.yieldNow
    }
    while (state.handled < n) yield* Effect.yieldNow
  })))

// Idle: one message at a time to a parked consumer; the producer waits for it to be handled.
const idle = (make: Effect.Effect<Subject>) => (n: number) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const subject = yield* make
    const state = { handled: 0 }
    yield* Effect.forkScoped(subject.consumer(state), { startImmediately: true })
    for (let i = 0; i < n; i++) {
      yield* Effect.callback<void>((resume) => subject.offer({ n: i, done: () => resume(Effect.void) }))
    }
  })))

/** Row names, for the comment in src that cites them. */
export const rowNames = {
  busyQueue: "mailbox, busy: effect Queue",
  busyHandMade: "mailbox, busy: hand-made FIFO + scheduled wake",
  idleQueue: "mailbox, idle: effect Queue",
  idleHandMade: "mailbox, idle: hand-made FIFO + scheduled wake"
} as const

export const mailbox = async (options: Options): Promise<ReadonlyArray<Row>> => {
  const suite = "mailbox"
  const busyQueueNs = await measureBatch(options, 200_000, busy(subjects.queue))
  const busyHandMadeNs = await measureBatch(options, 200_000, busy(subjects.handMade))
  const idleQueueNs = await measureBatch(options, 50_000, idle(subjects.queue))
  const idleHandMadeNs = await measureBatch(options, 50_000, idle(subjects.handMade))
  return [
    { suite, name: rowNames.busyQueue, nsPerOp: busyQueueNs, note: "per message; 256 queued per producer step" },
    { suite, name: rowNames.busyHandMade, nsPerOp: busyHandMadeNs, baseline: rowNames.busyQueue, note: "kept only if ≤ 0.5x its baseline here and below" },
    { suite, name: rowNames.idleQueue, nsPerOp: idleQueueNs, note: "per message: offer, wake the parked consumer, handle, resume the producer" },
    { suite, name: rowNames.idleHandMade, nsPerOp: idleHandMadeNs, baseline: rowNames.idleQueue }
  ]
}
