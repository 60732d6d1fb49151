/**
 * Message throughput into wasm, and how it scales: fire-and-forget `Actor.sendNow` (16 B, handled in wasm by
 * the lifecycle guest) to 1, 10, 100, 1,000 and 10,000 live wasm actors, round robin, with the RSS each
 * population costs — beside `Instance.handleMessage` called directly, measured in the same run.
 *
 * Each round sends 200,000 messages (100,000 from 1,000 actors up) round robin over the actors, and ends
 * when every actor has handled its share in wasm: the harness reads each actor's `stats.handled` (the host's
 * count of the guest's returns), yielding to the scheduler while one is behind. Only the sends are counted.
 * Between rounds, untimed, one request per actor checks the guest's own counter against every message sent
 * to it (requests included), so a lost message still fails the run.
 *
 * Before, each round ended with one `request` per actor issued in sequence, timed and counted as messages.
 * That was a harness artefact (each request a message of another kind, with its own timeout timer, and at
 * 10,000 actors 10,000 of them per 100,000 sends); in practice the first request waited for every actor to
 * drain and the rest took the idle fast path, so removing it changed the figures little (10,000 actors:
 * 4.54 → 4.6 µs): the per-message cost there is the actors' own wake-ups (~10 messages each per round) and
 * cache misses, not the harness.
 *
 * Each population row also gets a floor: the same calls into as many bare instances (`Instance.handleMessage`,
 * each instance taking its share of a round in one go, as an actor drains its mailbox), no actor. Its growth
 * from 10 to 10,000 is what the memory hierarchy charges for touching that many instances (each has its own
 * linear memory, reserved apart from the others, so a cold instance costs TLB and cache misses).
 *
 * One row more: 10,000 live actors of which only 10 get messages, which separates what the population
 * costs (heap, GC, instances) from what touching every actor in turn costs.
 *
 * Populations are measured one after another, each closed (and garbage collected)
 * before the next: 10,000 live instances is near V8's limit on wasm memories per process (~16-20k, NOTES).
 */
import { Effect, Exit, Scope } from "effect"
import type { Instance } from "../src/Instance.ts"
import { Actor, Component } from "../src/index.ts"
import { guestBytes } from "../test/fixtures.ts"
import { collectGarbage, measureBatch, type Options, rssMiB, type Row } from "./harness.ts"

const suite = "scaling"

const counterOf = (reply: Uint8Array | undefined): number =>
  reply === undefined ? -1 : new DataView(reply.buffer, reply.byteOffset, reply.byteLength).getUint32(0, true)

export const scaling = async (options: Options): Promise<ReadonlyArray<Row>> => {
  const component = await Effect.runPromise(Component.fromBytes(guestBytes("lifecycle")))
  const payload = new Uint8Array(16).fill(5)
  const messages = 200_000
  const rows: Array<Row> = []

  const directNs = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const instance = yield* Component.instantiate(component, { imports: {} })
    const message = { sender: "bench", payload }
    return yield* Effect.promise(() =>
      measureBatch(options, messages, (n) =>
        Effect.runSync(Effect.gen(function*() {
          for (let i = 0; i < n; i++) yield* instance.handleMessage(message)
        }))))
  })))
  const direct = "Instance.handleMessage (16 B), direct"
  rows.push({ suite, name: direct, nsPerOp: directNs, note: "one instance, no actor" })

  // The population rows, and one more: 10,000 live actors of which only 10 get messages (the 10-actor
  // pattern among 10,000 instances): what the population alone costs, apart from touching every actor.
  const populations: ReadonlyArray<{ readonly n: number; readonly active: number }> = options.smoke
    ? [{ n: 1, active: 1 }, { n: 10, active: 10 }, { n: 100, active: 100 }, { n: 100, active: 10 }]
    : [1, 10, 100, 1_000, 10_000].map((n) => ({ n, active: n })).concat([{ n: 10_000, active: 10 }])
  const name = (n: number, active: number) =>
    n === 1
      ? "Actor.sendNow → 1 wasm actor (throughput)"
      : active === n
      ? `Actor.sendNow per message, ${n.toLocaleString("en-US")} wasm actors`
      : `Actor.sendNow per message, ${active} of ${n.toLocaleString("en-US")} wasm actors`
  const floorName = (n: number) => `floor: direct calls into ${n.toLocaleString("en-US")} instances in turn`
  for (const { active, n } of populations) {
    collectGarbage()
    const before = rssMiB()
    const scope = Effect.runSync(Scope.make())
    const refs = await Effect.runPromise(Effect.gen(function*() {
      const refs: Array<Actor.ActorRef> = []
      for (let i = 0; i < n; i++) {
        refs.push(yield* Actor.spawn(component, { id: `scale-${i}`, imports: {}, mailbox: { capacity: 4096 } }))
      }
      return refs
    }).pipe(Scope.provide(scope)))
    collectGarbage()
    const rss = rssMiB()
    // Per actor: messages it handled by the host's count (`stats.handled`), and the guest's counter as
    // it should read (the untimed requests that verify it are messages to the guest too).
    const handled = new Array<number>(active).fill(0)
    const counted = new Array<number>(active).fill(0)
    const verify = () =>
      Effect.runPromise(Effect.gen(function*() {
        for (let a = 0; a < active; a++) {
          counted[a]! += 1
          const counter = counterOf(yield* refs[a]!.request(payload))
          if (counter !== counted[a]) throw new Error(`actor ${a} of ${n}: the guest counted ${counter}, expected ${counted[a]}`)
        }
      }))
    // Fewer rounds for the big populations: at 10,000 actors a round takes a second.
    const perRound = active >= 1_000 ? messages / 2 : messages
    const perSend = await measureBatch(options, perRound, (count) =>
      Effect.runPromise(Effect.gen(function*() {
        for (let i = 0; i < count; i++) {
          yield* refs[i % active]!.sendNow(payload)
        }
        // The round ends when every actor has handled its share in wasm, as the host counts the guest's
        // returns; nothing is sent to find out. The guest's own counter is checked between rounds.
        for (let a = 0; a < active; a++) {
          const share = Math.floor(count / active) + (a < count % active ? 1 : 0)
          handled[a]! += share
          counted[a]! += share
          while ((yield* refs[a]!.stats).handled < handled[a]!) yield* Effect.yieldNow
        }
      })), active >= 1_000 ? 3 : 5, verify)
    await verify()
    await Effect.runPromise(Scope.close(scope, Exit.void))
    // The floor: the same calls into as many bare instances, each taking its share in one go (as an actor
    // drains its mailbox), no actor. What it gains from 10 to 10,000 is the memory's: each instance's
    // linear memory and objects are cold again when its turn comes.
    const floorNs = n === active && n >= 10 ? await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const instances: Array<Instance> = []
      for (let i = 0; i < n; i++) instances.push(yield* Component.instantiate(component, { imports: {} }))
      // As the actors' messages: fire and forget, so the reply is checked but not copied (see canonicalAbi).
      const message = { sender: "bench", payload, replyUnread: true }
      return yield* Effect.promise(() =>
        measureBatch(options, perRound, (count) =>
          Effect.runSync(Effect.gen(function*() {
            for (let a = 0; a < n; a++) {
              const share = Math.floor(count / n) + (a < count % n ? 1 : 0)
              const instance = instances[a]!
              for (let j = 0; j < share; j++) yield* instance.handleMessage(message)
            }
          })), n >= 1_000 ? 3 : 5))
    }))) : undefined
    rows.push({
      suite,
      name: name(n, active),
      nsPerOp: perSend,
      baseline: n === 1 ? [direct] : n === 10 ? [name(1, 1)] : [name(10, 10), name(1, 1)],
      ...(n === 1 ? { targetNs: 1_000 } : {}),
      note: `${(1e9 / perSend / 1e6).toFixed(2)} M msg/s; RSS +${Math.max(0, rss - before).toFixed(1)} MiB for ${n} actors` +
        ` (${((Math.max(0, rss - before) * 1024) / n).toFixed(0)} KiB each), process ${rss.toFixed(0)} MiB` +
        (floorNs === undefined ? "" : `; ${(perSend / floorNs).toFixed(2)}x the floor of the same size`)
    })
    if (floorNs !== undefined) {
      rows.push({
        suite,
        name: floorName(n),
        nsPerOp: floorNs,
        ...(n === 10 ? {} : { baseline: floorName(10) }),
        note: `Instance.handleMessage, each of ${n} instances in turn, ${Math.floor(perRound / n)} calls each per round; no actor`
      })
    }
  }
  return rows
}
