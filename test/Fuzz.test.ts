/**
 * A seeded mutation fuzzer over the project's guests (test/fuzzMutate.ts: bit flips, truncation,
 * section splicing, LEB128 length fields, memory limits), each mutant taken the whole way a user's
 * bytes go: `Component.fromBytes` → link (deny by default) → instantiate → call. The standard: every
 * input ends in a typed error or a value. An escape is anything else: a defect or an untyped error, an
 * unhandled rejection or uncaught exception while it runs, or a hang (no outcome within the watchdog,
 * a safety net and not a timing assertion: every call is bounded by fuel and a timeout). Each escape is
 * saved under test/fixtures/fuzz/ and replayed by every later run.
 *
 * `AIRSSYS_FUZZ_SEED` (default 0x15), `AIRSSYS_FUZZ_ITERATIONS` (default 2000: about a minute here),
 * `AIRSSYS_FUZZ=long` (20 times as many).
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Layer } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as Audit from "../src/Audit.ts"
import * as Logging from "../src/capability/Logging.ts"
import * as Messaging from "../src/capability/Messaging.ts"
import * as Storage from "../src/capability/Storage.ts"
import * as Capability from "../src/Capability.ts"
import * as Component from "../src/Component.ts"
import * as Linker from "../src/Linker.ts"
import * as Registry from "../src/Registry.ts"
import * as Router from "../src/Router.ts"
import { guestDirectory } from "./fixtures.ts"
import { leb, mutate, prng, type Strategy } from "./fuzzMutate.ts"

const fixtures = path.join(import.meta.dirname, "fixtures", "fuzz")
const seed = Number(process.env.AIRSSYS_FUZZ_SEED ?? 0x15)
const iterations = Number(process.env.AIRSSYS_FUZZ_ITERATIONS ?? 2000) * (process.env.AIRSSYS_FUZZ === "long" ? 20 : 1)

// The WAT guests (small); the 12 MB JavaScript guests would make each mutant a second-long transpile.
const seeds = fs.readdirSync(guestDirectory)
  .filter((name) => name.endsWith(".wasm") && !name.includes("-js"))
  .sort()
  .map((name) => new Uint8Array(fs.readFileSync(path.join(guestDirectory, name))))

const host = Linker.layer([Logging.hostInterface, Messaging.hostInterface, Storage.hostInterface]).pipe(
  Layer.provideMerge(Layer.mergeAll(Logging.layerMemory, Messaging.layer, Storage.layerMemory())),
  Layer.provideMerge(Router.Router.layer),
  Layer.provideMerge(Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 100 })))
)

/** What a user's bytes may end in. */
const typed = new Set([
  "ComponentLoadError",
  "LinkError",
  "Trap",
  "GuestError",
  "LimitExceeded",
  "InstancePoisoned",
  "WasmMemoryExhausted"
])

const limits = { fuel: 10_000_000, timeout: Duration.seconds(2), memoryBytes: 16 * 1024 * 1024 }
const input = new TextEncoder().encode("fuzz")

// A fresh copy of a good guest (a custom section makes its hash new: no cache hit) must still load and
// answer after any input: an input that leaves the loader broken for everyone after it escaped too.
const echo = new Uint8Array(fs.readFileSync(path.join(guestDirectory, "echo.wasm")))
let canaries = 0
let judged = 0
const canary = Effect.gen(function*() {
  const name = new TextEncoder().encode("airssys-canary")
  const payload = new TextEncoder().encode(String(canaries++))
  const custom = [0, ...leb(1 + name.length + payload.length), name.length, ...name, ...payload]
  const bytes = new Uint8Array([...echo, ...custom])
  const instance = yield* Component.instantiate(yield* Component.fromBytes(bytes))
  const reply = yield* instance.process(input)
  return new TextDecoder().decode(reply) === "fuzz"
}).pipe(Effect.scoped, Effect.catchCause(() => Effect.succeed(false)))

/** The whole path for one input: each stage's typed failure is an outcome; a defect is not. */
const runOne = (bytes: Uint8Array) =>
  Effect.scoped(Effect.gen(function*() {
    const component = yield* Component.fromBytes(bytes, { limits })
    const instance = yield* Linker.instantiate(component, { id: "fuzz", grants: Capability.makeGrants([]), denyUnlinked: true })
    const outcomes: Array<string> = []
    for (const call of [instance.process(input), instance.handleMessage({ sender: "fuzz", payload: input })]) {
      const exit = yield* Effect.exit(call)
      outcomes.push(Exit.isSuccess(exit) ? "ok" : failureTag(exit.cause))
    }
    return outcomes.join("+")
  }))

const failureTag = (cause: unknown): string => {
  const text = String(cause)
  const match = /Fail\((\w+)/.exec(text)
  return match !== null && typed.has(match[1]!) ? match[1]! : `ESCAPE ${text.slice(0, 300)}`
}

/** Runs `bytes` under a watchdog, noting unhandled errors meanwhile: the outcome, or why it escaped. */
const judge = (bytes: Uint8Array, always = false) =>
  Effect.gen(function*() {
    const stray: Array<unknown> = []
    const note = (error: unknown) => void stray.push(error)
    process.on("unhandledRejection", note)
    process.on("uncaughtException", note)
    const outcome = yield* runOne(bytes).pipe(
      Effect.catch((error) =>
        Effect.succeed(
          !typed.has(error._tag) ? `ESCAPE untyped ${error._tag}` : /wasm trap/.test(error.message) ? `${error._tag} (jco trapped)` : error._tag
        )
      ),
      Effect.catchDefect((defect) => Effect.succeed(`ESCAPE defect ${String(defect).slice(0, 300)}`)),
      Effect.timeoutOption("30 seconds"),
      Effect.map((outcome) => outcome._tag === "Some" ? outcome.value : "ESCAPE hang")
    )
    // Let a stray rejection of this input surface before the next one starts.
    yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
    process.off("unhandledRejection", note)
    process.off("uncaughtException", note)
    if (stray.length > 0) return `ESCAPE unhandled ${String(stray[0]).slice(0, 300)}`
    // After an input that made jco trap, and every so often, a good component must still load.
    if ((outcome.includes("jco trapped") || ++judged % 100 === 0 || always) && !(yield* canary)) {
      return `ESCAPE a good component no longer loads after this input (${outcome})`
    }
    return outcome
  })

const save = (bytes: Uint8Array, why: string): string => {
  const name = `escape-${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}.wasm`
  fs.mkdirSync(fixtures, { recursive: true })
  fs.writeFileSync(path.join(fixtures, name), bytes)
  fs.writeFileSync(path.join(fixtures, `${name}.txt`), `${why}\n`)
  return name
}

describe("fuzzer", () => {
  it.live("replay - every saved escape now ends typed", () =>
    Effect.gen(function*() {
      const saved = fs.existsSync(fixtures) ? fs.readdirSync(fixtures).filter((name) => name.endsWith(".wasm")) : []
      for (const name of saved) {
        const outcome = yield* judge(new Uint8Array(fs.readFileSync(path.join(fixtures, name))), true)
        assert.notInclude(outcome, "ESCAPE", `${name}: ${outcome}`)
      }
    }).pipe(Effect.provide(host)))

  it.live(`mutants of ${seeds.length} guests (seed ${seed}, ${iterations} inputs) - none escapes`, () =>
    Effect.gen(function*() {
      const random = prng(seed)
      const escapes: Array<string> = []
      const outcomes = new Map<string, number>()
      const byStrategy = new Map<Strategy, number>()
      const started = performance.now()
      for (let i = 0; i < iterations; i++) {
        const { bytes, used } = mutate(random, random.pick(seeds), seeds)
        for (const strategy of used) byStrategy.set(strategy, (byStrategy.get(strategy) ?? 0) + 1)
        const outcome = yield* judge(bytes)
        if (outcome.startsWith("ESCAPE")) escapes.push(`${save(bytes, outcome)}: ${outcome}`)
        const key = outcome.startsWith("ESCAPE") ? "ESCAPE" : outcome
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
      }
      const minutes = (performance.now() - started) / 60_000
      // Reported, not asserted: the rate depends on the machine.
      console.log(
        `fuzz: ${iterations} inputs, ${(iterations / minutes).toFixed(0)} inputs/min, ${escapes.length} escapes\n` +
          `  outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}\n  strategies: ${JSON.stringify(Object.fromEntries(byStrategy))}`
      )
      assert.deepStrictEqual(escapes, [])
    }).pipe(Effect.provide(host)), { timeout: 3_600_000 })
})
