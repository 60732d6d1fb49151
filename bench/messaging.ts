/**
 * Messaging: registry lookups, routing through the router to many actors (fake refs whose `send` only
 * counts, so the router and registry are all that is measured), how that cost scales from 10 to 10,000
 * actors, and fire-and-forget into one wasm actor — each beside its baseline from the same run (a bare
 * `Map.get`; one fiber step; the same sends through a plain `Map` inside `Effect.suspend`, the floor of any
 * lazy router, and a plain `Map.get` + `ref.send`, the floor of an eager one; `Instance.handleMessage` and
 * `Actor.send` alone), and a guest's own `send` through the `messaging` host interface beside a request to
 * the same guest that sends nothing.
 *
 * The scaling rows print the router beside the eager floor of the same size (the router does all the floor
 * does, plus its guards), and add 10,000 registered actors of which 10 exchange messages: with the 10-row's
 * working set, a cost that grows there would be our code's, not the memory's.
 */
import { Context, Effect, Layer } from "effect"
import { Actor, Audit, Capability, Component, Linker, Logging, Messaging } from "../src/index.ts"
import * as Registry from "../src/Registry.ts"
import * as Router from "../src/Router.ts"
import { guestBytes } from "../test/fixtures.ts"
import { measureBatch, measureSync, type Options, type Row } from "./harness.ts"

const suite = "messaging"
const payload = new Uint8Array(16).fill(7)

/** An actor ref whose `sendNow` only counts (and `send` is it, suspended): no mailbox, no wasm. */
const fakeRef = (id: string, counter: { count: number }): Actor.ActorRef => {
  const sendNow = () => {
    counter.count++
    return Effect.void
  }
  return ({
    [Actor.TypeId]: Actor.TypeId,
    id,
    sendNow,
    send: () => Effect.suspend(sendNow)
  }) as unknown as Actor.ActorRef
}

const services = (options?: Router.Options) =>
  Layer.provideMerge(
    options === undefined ? Router.Router.layer : Router.Router.layerWith(options),
    Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 16 }))
  )

/** Registers `n` fake actors `actor-0` … with grants to message any of them. */
const registerFakes = (n: number, counter: { count: number }) =>
  Effect.gen(function*() {
    const registry = yield* Registry.Registry
    const grants = Capability.makeGrants([
      new Capability.Messaging({ pattern: "actor-*" }),
      new Capability.Messaging({ pattern: "news" })
    ])
    const ids: Array<string> = []
    for (let i = 0; i < n; i++) {
      const id = `actor-${i}`
      ids.push(id)
      yield* registry.register(id, "1", fakeRef(id, counter), { grants })
    }
    return ids
  })

/** Runs `body` with a registry and router over `n` fake actors. */
const withFakes = <A>(
  n: number,
  routerOptions: Router.Options | undefined,
  body: (env: {
    readonly ids: ReadonlyArray<string>
    readonly registry: Registry.Registry["Service"]
    readonly router: Router.Router["Service"]
    readonly counter: { count: number }
  }) => Promise<A>
): Promise<A> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const counter = { count: 0 }
    const ids = yield* registerFakes(n, counter)
    const registry = yield* Registry.Registry
    const router = yield* Router.Router
    return yield* Effect.promise(() => body({ ids, registry, router, counter }))
  }).pipe(Effect.provide(services(routerOptions)))))

/** `count` (sender, target) pairs cycling over the ids, the same length whatever the actor count. */
const pairs = (ids: ReadonlyArray<string>, count: number) => {
  const senders: Array<string> = []
  const targets: Array<string> = []
  for (let i = 0; i < count; i++) {
    senders.push(ids[i % ids.length]!)
    targets.push(ids[(i * 7 + 3) % ids.length]!)
  }
  return { senders, targets }
}

const median = (values: ReadonlyArray<number>): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const check = (counter: { count: number }, before: number, expected: number, what: string) => {
  if (counter.count - before !== expected) throw new Error(`${what}: ${counter.count - before} delivered, expected ${expected}`)
}

// The rate limit is on (every message takes a token) but never reached at benchmark speed.
const unlimited: Router.Options = { rateLimit: { perSecond: 1e15 } }

export const messaging = async (options: Options): Promise<ReadonlyArray<Row>> => {
  const rows: Array<Row> = []
  const messages = 1_000_000

  // --- registry lookup, and routing to 1000 actors --------------------------------------------------
  await withFakes(1000, unlimited, async ({ counter, ids, registry, router }) => {
    const map = new Map<string, Actor.ActorRef>(ids.map((id) => [id, registry.lookupUnsafe(id)!.ref]))
    const { senders, targets } = pairs(ids, 4096)
    let sink = 0
    const mapNs = measureSync(options, messages, (i) => {
      if (map.get(targets[i & 4095]!) !== undefined) sink++
    })
    const lookupNs = measureSync(options, messages, (i) => {
      if (registry.lookupUnsafe(targets[i & 4095]!) !== undefined) sink++
    })
    const resolveNs = measureSync(options, messages, (i) => {
      if (registry.resolveUnsafe(targets[i & 4095]!) !== undefined) sink++
    })
    const lookupEffectNs = await measureBatch(options, messages, (n) =>
      Effect.runSync(Effect.gen(function*() {
        for (let i = 0; i < n; i++) if ((yield* registry.lookup(targets[i & 4095]!))._tag === "Some") sink++
      })))
    if (sink === 0) throw new Error("lookups found nothing")

    // The floor of any lazy router: one fiber step per message (an Exit such as `Effect.void` skips the
    // fiber in a generator, so a bare `yield* Effect.void` loop is not a fair floor).
    const stepNs = await measureBatch(options, messages, (n) =>
      Effect.runSync(Effect.gen(function*() {
        for (let i = 0; i < n; i++) yield* Effect.suspend(() => Effect.void)
      })))
    const hostOptions: Actor.SendOptions = { sender: "host" }
    const bareNs = await measureBatch(options, messages, (n) =>
      Effect.runSync(Effect.gen(function*() {
        for (let i = 0; i < n; i++) {
          const target = targets[i & 4095]!
          yield* Effect.suspend(() => map.get(target)!.sendNow(payload, hostOptions))
        }
      })))
    // The floor of an eager router (Router.sendNow guards and hands over when called): no fiber step at all.
    const eagerNs = await measureBatch(options, messages, (n) =>
      Effect.runSync(Effect.gen(function*() {
        for (let i = 0; i < n; i++) yield* map.get(targets[i & 4095]!)!.sendNow(payload, hostOptions)
      })))
    let before = counter.count
    const hostNs = await measureBatch(options, messages, (n) =>
      Effect.runSync(Effect.gen(function*() {
        for (let i = 0; i < n; i++) yield* router.sendNow("host", targets[i & 4095]!, payload)
      })))
    if (counter.count === before) throw new Error("host routing delivered nothing")
    before = counter.count
    const guardedNs = await measureBatch(options, messages, (n) =>
      Effect.runSync(Effect.gen(function*() {
        for (let i = 0; i < n; i++) yield* router.sendNow(senders[i & 4095]!, targets[i & 4095]!, payload)
      })))
    check(counter, before, options.smoke ? 20 * 2 : messages * 8, "actor → actor routing")
    for (const id of ids) await Effect.runPromise(router.subscribe(id, "news"))
    before = counter.count
    const publishes = options.smoke ? 2 : 1000
    const fanOutNs = await measureBatch(options, publishes, (n) =>
      Effect.runSync(Effect.gen(function*() {
        for (let i = 0; i < n; i++) yield* router.publish("host", "news", payload)
      }))) / ids.length
    if (counter.count === before) throw new Error("publish delivered nothing")

    const bare = "bare lazy send: suspend + Map.get + ref.sendNow"
    const eager = "bare eager send: Map.get + ref.sendNow"
    const step = "one fiber step (yield* Effect.suspend)"
    rows.push(
      { suite, name: "Map.get (1000 ids)", nsPerOp: mapNs },
      { suite, name: "Registry.lookupUnsafe (1000 actors)", nsPerOp: lookupNs, baseline: "Map.get (1000 ids)", targetNs: 50 },
      { suite, name: "Registry.resolveUnsafe (1000 actors)", nsPerOp: resolveNs, baseline: "Map.get (1000 ids)", targetNs: 50 },
      { suite, name: step, nsPerOp: stepNs },
      { suite, name: "Registry.lookup (as an Effect)", nsPerOp: lookupEffectNs, baseline: step },
      { suite, name: bare, nsPerOp: bareNs, baseline: step },
      { suite, name: eager, nsPerOp: eagerNs, baseline: bare },
      {
        suite,
        name: "Router.sendNow host → 1000 actors",
        nsPerOp: hostNs,
        baseline: [bare, eager],
        targetNs: 1e9 / 3e6,
        note: "size guard; the host is trusted"
      },
      {
        suite,
        name: "Router.sendNow actor → actor, 1000 actors",
        nsPerOp: guardedNs,
        baseline: [bare, eager],
        targetNs: 1e9 / 3e6,
        note: "size + rate + capability guards"
      },
      {
        suite,
        name: "Router.publish to 1000 subscribers, per delivery",
        nsPerOp: fanOutNs,
        baseline: bare,
        targetNs: 1e9 / 3e6,
        note: "one fiber step per publish"
      }
    )
  })

  // --- flat from 10 to 10,000 actors --------------------------------------------------------------
  // All set-ups live at once and are measured in turn, round after round, so load on the machine falls on
  // all of them alike. The last registers 10,000 actors but sends among 10 of them: the same code and the
  // same maps as the 10,000 row with the 10 row's working set, so it shows growth that is not the memory's.
  const sizes = [10, 100, 1000, 10_000]
  const setupsOf = [...sizes.map((n) => ({ n, active: n })), { n: 10_000, active: 10 }]
  const scaling = await Effect.runPromise(Effect.gen(function*() {
    const setups: Array<{
      readonly n: number
      readonly active: number
      readonly rssMiB: number
      readonly batch: (count: number) => void
      readonly bareBatch: (count: number) => void
      readonly eagerBatch: (count: number) => void
    }> = []
    for (const { active, n } of setupsOf) {
      globalThis.gc?.()
      const rssBefore = process.memoryUsage().rss
      const counter = { count: 0 }
      const context = yield* Layer.build(services(unlimited))
      const ids = yield* Effect.provideContext(registerFakes(n, counter), context)
      const router = Context.get(context, Router.Router)
      const { senders, targets } = pairs(ids.slice(0, active), 16384)
      const registry = Context.get(context, Registry.Registry)
      const refs = new Map(ids.map((id) => [id, registry.lookupUnsafe(id)!.ref]))
      const options: Actor.SendOptions = { sender: "host" }
      const batch = (count: number) => {
        const before = counter.count
        Effect.runSync(Effect.gen(function*() {
          for (let i = 0; i < count; i++) yield* router.sendNow(senders[i & 16383]!, targets[i & 16383]!, payload)
        }))
        check(counter, before, count, `${n} actors`)
      }
      // The same sends without the router: the memory cost of touching n actors, for comparison.
      const bareBatch = (count: number) =>
        Effect.runSync(Effect.gen(function*() {
          for (let i = 0; i < count; i++) {
            const target = targets[i & 16383]!
            yield* Effect.suspend(() => refs.get(target)!.sendNow(payload, options))
          }
        }))
      // And without the suspend: the floor of an eager router, whose growth with n is the memory's alone.
      const eagerBatch = (count: number) =>
        Effect.runSync(Effect.gen(function*() {
          for (let i = 0; i < count; i++) yield* refs.get(targets[i & 16383]!)!.sendNow(payload, options)
        }))
      globalThis.gc?.()
      setups.push({ n, active, rssMiB: (process.memoryUsage().rss - rssBefore) / 2 ** 20, batch, bareBatch, eagerBatch })
    }
    const rounds = options.smoke ? 1 : 9
    const count = options.smoke ? 20 : messages
    const times = setups.map(() => [] as Array<number>)
    const bareTimes = setups.map(() => [] as Array<number>)
    const eagerTimes = setups.map(() => [] as Array<number>)
    const time = (batch: (count: number) => void) => {
      const started = process.hrtime.bigint()
      batch(count)
      return Number(process.hrtime.bigint() - started) / count
    }
    for (let round = 0; round <= rounds; round++) {
      for (const [i, setup] of setups.entries()) {
        const ns = time(setup.batch)
        const bareNs = time(setup.bareBatch)
        const eagerNs = time(setup.eagerBatch)
        if (round > 0) {
          times[i]!.push(ns)
          bareTimes[i]!.push(bareNs)
          eagerTimes[i]!.push(eagerNs)
        }
      }
    }
    const rss = process.memoryUsage().rss / 2 ** 20
    return setups.map((setup, i) => ({
      n: setup.n,
      active: setup.active,
      rssMiB: setup.rssMiB,
      total: rss,
      ns: median(times[i]!),
      bareNs: median(bareTimes[i]!),
      eagerNs: median(eagerTimes[i]!)
    }))
  }).pipe(Effect.scoped))
  const smallest = scaling[0]!.ns
  const label = (n: number, active: number) =>
    active === n ? `${n.toLocaleString("en-US")} actors` : `${active} of ${n.toLocaleString("en-US")} actors`
  for (const { active, eagerNs, n, ns, rssMiB, total } of scaling) {
    rows.push({
      suite,
      name: `Router.sendNow per message, ${label(n, active)}`,
      nsPerOp: ns,
      baseline: n === sizes[0] ? `bare eager send per message, ${label(n, active)}` : [
        "Router.sendNow per message, 10 actors",
        `bare eager send per message, ${label(n, active)}`
      ],
      ...(n === sizes.at(-1) && active === n ? { targetNs: smallest * 1.2 } : {}),
      note: `all guards; ${(ns / eagerNs).toFixed(2)}x the eager floor of the same size; RSS +${Math.max(0, rssMiB).toFixed(1)} MiB for the set-up (process ${total.toFixed(0)} MiB)`
    })
  }
  for (const { active, bareNs, n } of scaling) {
    rows.push({
      suite,
      name: `bare lazy send per message, ${label(n, active)}`,
      nsPerOp: bareNs,
      ...(n === sizes[0] ? {} : { baseline: "bare lazy send per message, 10 actors" }),
      note: "same access pattern, plain Map, no router"
    })
  }
  for (const { active, eagerNs, n } of scaling) {
    rows.push({
      suite,
      name: `bare eager send per message, ${label(n, active)}`,
      nsPerOp: eagerNs,
      ...(n === sizes[0] ? {} : { baseline: "bare eager send per message, 10 actors" }),
      note: "same access pattern, plain Map, no router, no fiber step"
    })
  }

  // --- fire-and-forget into one wasm actor -------------------------------------------------------
  const component = await Effect.runPromise(Component.fromBytes(guestBytes("lifecycle")))
  const calls = 100_000
  const instanceCallNs = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const instance = yield* Component.instantiate(component, { imports: {} })
    const message = { sender: "bench", payload }
    return yield* Effect.promise(() =>
      measureBatch(options, calls, (n) =>
        Effect.runSync(Effect.gen(function*() {
          for (let i = 0; i < n; i++) yield* instance.handleMessage(message)
        }))))
  })))
  const intoWasm = (viaRouter: boolean) => (n: number) =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const registry = yield* Registry.Registry
      const router = yield* Router.Router
      const ref = yield* Actor.spawn(component, { id: "wasm", imports: {}, mailbox: { capacity: 4096 } })
      yield* registry.register("wasm", "1", ref)
      if (viaRouter) for (let i = 0; i < n; i++) yield* router.sendNow("host", "wasm", payload)
      else for (let i = 0; i < n; i++) yield* ref.sendNow(payload)
      const count = yield* ref.request(payload)
      if (count === undefined || new DataView(count.buffer, count.byteOffset).getUint32(0, true) !== n + 1) {
        throw new Error("messages were lost")
      }
    }).pipe(Effect.provide(services()))))
  const actorSendNs = await measureBatch(options, calls, intoWasm(false))
  const routerWasmNs = await measureBatch(options, calls, intoWasm(true))
  rows.push(
    { suite, name: "Instance.handleMessage (16 B)", nsPerOp: instanceCallNs },
    { suite, name: "Actor.sendNow direct (16 B, wasm)", nsPerOp: actorSendNs, baseline: "Instance.handleMessage (16 B)" },
    {
      suite,
      name: "Router.sendNow → wasm actor (16 B)",
      nsPerOp: routerWasmNs,
      baseline: "Actor.sendNow direct (16 B, wasm)",
      targetNs: 1000,
      note: "handled in wasm (lifecycle guest)"
    }
  )

  // --- a guest's send through the messaging host interface -----------------------------------------
  // messenger (JSPI glue: it imports messaging) answers a request. A plain payload makes it call
  // logging.log once (a no-op host: the floor of any host call); a send command makes it call
  // messaging.send once instead: Linker → Messaging → Router (all guards) → a counting fake.
  const messenger = await Effect.runPromise(Component.fromBytes(guestBytes("messenger")))
  const guestCalls = 20_000
  const sendCommand = new Uint8Array([115, 4, ...new TextEncoder().encode("sink"), 16, ...payload])
  const plain = new TextEncoder().encode("x".repeat(16))
  const host = Linker.layer([Logging.hostInterface, Messaging.hostInterface]).pipe(
    Layer.provideMerge(Layer.mergeAll(Messaging.layer, Logging.layerDeny)),
    Layer.provideMerge(services(unlimited))
  )
  const [echoNs, guestSendNs] = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const registry = yield* Registry.Registry
    const counter = { count: 0 }
    yield* registry.register("sink", "1", fakeRef("sink", counter))
    const grants = Capability.makeGrants([new Capability.Messaging({ pattern: "sink" })])
    const imports = yield* Linker.imports(messenger, { id: "messenger", grants })
    const ref = yield* Actor.spawn(messenger, { id: "messenger", imports })
    yield* registry.register("messenger", "1", ref, { grants })
    const calls = (message: Uint8Array) => (n: number) =>
      Effect.runPromise(Effect.gen(function*() {
        for (let i = 0; i < n; i++) yield* ref.request(message)
      }))
    const echo = yield* Effect.promise(() => measureBatch(options, guestCalls, calls(plain)))
    const before = counter.count
    const sends = yield* Effect.promise(() => measureBatch(options, guestCalls, calls(sendCommand)))
    if (counter.count === before) throw new Error("the guest's sends delivered nothing")
    return [echo, sends] as const
  }).pipe(Effect.provide(host))))
  rows.push(
    { suite, name: "guest call + one no-op host call (log)", nsPerOp: echoNs, note: "messenger, JSPI glue, 16 B" },
    {
      suite,
      name: "guest call + one messaging.send",
      nsPerOp: guestSendNs,
      baseline: "guest call + one no-op host call (log)",
      note: "Linker → Messaging → Router (all guards) → fake"
    }
  )
  return rows
}
