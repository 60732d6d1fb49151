/**
 * Message throughput into wasm, and how it scales: fire-and-forget `Actor.sendNow` (16 B, handled in wasm by
 * the lifecycle guest) to 1, 10, 100, 1,000 and 10,000 live wasm actors, round robin, with the RSS each
 * population costs — beside `Instance.handleMessage` called directly, measured in the same run.
 *
 * Each round sends 200,000 messages (100,000 from 1,000 actors up), then one request per actor, so that
 * the round ends when every actor has handled its share (the requests count as messages: they are handled
 * in wasm too). Populations are measured one after another, each closed (and garbage collected)
 * before the next: 10,000 live instances is near V8's limit on wasm memories per process (~16-20k, NOTES).
 */
import { Effect, Exit, Scope } from "effect"
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

  const sizes = options.smoke ? [1, 10, 100] : [1, 10, 100, 1_000, 10_000]
  const name = (n: number) => n === 1 ? "Actor.sendNow → 1 wasm actor (throughput)" : `Actor.sendNow per message, ${n.toLocaleString("en-US")} wasm actors`
  for (const n of sizes) {
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
    const expected = new Array<number>(n).fill(0)
    // Fewer rounds for the big populations: at 10,000 actors a round takes seconds.
    const perRound = n >= 1_000 ? messages / 2 : messages
    const sends = options.smoke ? Math.min(perRound, 20) : perRound
    const perSend = await measureBatch(options, perRound, (count) =>
      Effect.runPromise(Effect.gen(function*() {
        for (let i = 0; i < count; i++) {
          yield* refs[i % n]!.sendNow(payload)
        }
        // One request per actor: its reply comes after everything sent to it before, and carries the
        // guest's counter, so a lost message would show.
        for (let a = 0; a < n; a++) {
          expected[a]! += Math.floor(count / n) + (a < count % n ? 1 : 0) + 1
          const counter = counterOf(yield* refs[a]!.request(payload))
          if (counter !== expected[a]) throw new Error(`actor ${a} of ${n}: handled ${counter}, expected ${expected[a]}`)
        }
      })), n >= 1_000 ? 3 : 5)
    // measureBatch divides by the sends; the requests are messages too.
    const perMessage = (perSend * sends) / (sends + n)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    rows.push({
      suite,
      name: name(n),
      nsPerOp: perMessage,
      baseline: n === 1 ? [direct] : n === 10 ? [name(1)] : [name(10), name(1)],
      ...(n === 1 ? { targetNs: 1_000 } : {}),
      note: `${(1e9 / perMessage / 1e6).toFixed(2)} M msg/s; RSS +${Math.max(0, rss - before).toFixed(1)} MiB for ${n} actors` +
        ` (${((Math.max(0, rss - before) * 1024) / n).toFixed(0)} KiB each), process ${rss.toFixed(0)} MiB`
    })
  }
  return rows
}
