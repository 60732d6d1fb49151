import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Metric } from "effect"
import { execFile, execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Component } from "../src/index.ts"
import { stubCores } from "../src/internal/load/coreStubs.ts"
import { decode, guestBytes, guestPath, runProgram, text } from "./fixtures.ts"

/** The offset of the middle of a core module's code section (id 10). */
const codeSectionMiddle = (core: Uint8Array): number => {
  let pos = 8
  const leb = () => {
    let value = 0
    let shift = 0
    let byte: number
    do {
      byte = core[pos++]!
      value |= (byte & 0x7f) << shift
      shift += 7
    } while (byte & 0x80)
    return value
  }
  while (pos < core.length) {
    const id = core[pos++]!
    const size = leb()
    if (id === 10) return pos + Math.floor(size / 2)
    pos += size
  }
  throw new Error("no code section")
}

const loadFailure = (bytes: Uint8Array) =>
  Component.fromBytes(bytes).pipe(
    Effect.flip,
    Effect.map((error) => ({ tag: error._tag, reason: error.reason, message: error.message }))
  )

/** The same component with different bytes (a trailing custom section), so nothing is cached yet. */
const freshCopy = (bytes: Uint8Array, label: string): Uint8Array => {
  const name = new TextEncoder().encode(`${label}-${Math.random()}`)
  return new Uint8Array([...bytes, 0, name.length + 1, name.length, ...name])
}

/**
 * Another process: a child node loads `bytes` from `cacheDirectory` and calls `process` once; it reports
 * its transpiles and whether the glue was compiled from its code cache.
 */
const loadInChild = (bytes: Uint8Array, cacheDirectory: string) => {
  const script = `
    import { Effect, Metric } from "effect"
    import { Component } from "${path.resolve("src/index.ts")}"
    import * as Jco from "${path.resolve("src/internal/jco.ts")}"
    const bytes = new Uint8Array(${JSON.stringify(Array.from(bytes))})
    const c = await Effect.runPromise(Component.fromBytes(bytes, { cacheDirectory: ${JSON.stringify(cacheDirectory)} }))
    const i = await Effect.runPromise(Effect.scoped(Effect.flatMap(Component.instantiate(c), (i) => i.process(new TextEncoder().encode("from disk")))))
    const n = await Effect.runPromise(Metric.value(Component.transpiles))
    console.log(JSON.stringify({ transpiles: n.count, glueCodeCacheHits: Jco.glueCodeCacheHits, out: new TextDecoder().decode(i) }))
  `
  const output = execFileSync(process.execPath, ["--input-type=module", "-e", script], { cwd: path.resolve(".") })
  return JSON.parse(output.toString()) as { transpiles: number; glueCodeCacheHits: number; out: string }
}

describe("Component", () => {
  it.effect("fromFile - loads the echo guest and calls process", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("echo"))
      assert.match(component.hash, /^[0-9a-f]{64}$/)
      assert.strictEqual(component.size, guestBytes("echo").byteLength)
      const instance = yield* Component.instantiate(component)
      const out = yield* instance.process(text("hello, component"))
      assert.strictEqual(decode(out), "hello, component")
    }))

  it.effect("world - describes imports and exports as data", () =>
    Effect.gen(function*() {
      const echo = yield* Component.fromFile(guestPath("echo"))
      assert.deepStrictEqual(echo.world.imports, [])
      assert.deepStrictEqual(echo.world.exports, [{
        name: "process",
        kind: "function",
        signature: "func(input: list<u8>) -> result<list<u8>, string>"
      }])
      const actor = yield* Component.fromFile(guestPath("host-calls"))
      const imports = actor.world.imports.map((item) => item.name)
      assert.include(imports, "airssys:component/logging@0.1.0")
      assert.include(imports, "airssys:component/messaging@0.1.0")
      assert.deepStrictEqual(actor.world.exports, [{ name: "airssys:component/handler@0.1.0", kind: "interface" }])
      assert.include(actor.world.wit, "world root")
    }))

  it.effect("fromBytes - empty input is a ComponentLoadError", () =>
    Effect.gen(function*() {
      const error = yield* loadFailure(new Uint8Array())
      assert.deepStrictEqual([error.tag, error.reason], ["ComponentLoadError", "Empty"])
    }))

  it.effect("fromBytes - random bytes are not WebAssembly", () =>
    Effect.gen(function*() {
      const random = new Uint8Array(4096).map((_, i) => (i * 2654435761) >>> 24)
      const error = yield* loadFailure(random)
      assert.strictEqual(error.reason, "NotWasm")
    }))

  it.effect("fromBytes - a truncated component is Malformed, with jco's reason", () =>
    Effect.gen(function*() {
      const bytes = guestBytes("echo")
      for (const cut of [9, Math.floor(bytes.byteLength / 2), bytes.byteLength - 1]) {
        const error = yield* loadFailure(bytes.slice(0, cut))
        assert.strictEqual(error.reason, "Malformed", `cut at ${cut}`)
        assert.match(error.message, /^not a valid component: .+/)
      }
    }))

  it.effect("fromBytes - a core module is not a component", () =>
    Effect.gen(function*() {
      const error = yield* loadFailure(guestBytes("core-module"))
      assert.strictEqual(error.reason, "CoreModule")
      assert.include(error.message, "not a component")
    }))

  it.effect("fromBytes - a valid component of another world is UnexpectedWorld", () =>
    Effect.gen(function*() {
      const error = yield* loadFailure(guestBytes("other-world"))
      assert.strictEqual(error.reason, "UnexpectedWorld")
      assert.include(error.message, "exports add")
      // The same bytes load when the caller accepts any world.
      const component = yield* Component.fromBytes(guestBytes("other-world"), { entryPoints: [] })
      assert.deepStrictEqual(component.world.exports.map((e) => e.name), ["add"])
    }))

  it.effect("worldOf - the world fromBytes describes, read without a transpile; bad bytes fail with fromBytes' reasons", () =>
    Effect.gen(function*() {
      const transpiles = (yield* Metric.value(Component.transpiles)).count
      const bytes = guestBytes("host-calls")
      const world = yield* Component.worldOf(bytes)
      assert.strictEqual((yield* Metric.value(Component.transpiles)).count, transpiles)
      const loaded = yield* Component.fromBytes(bytes)
      assert.deepStrictEqual(world.imports, loaded.world.imports)
      assert.deepStrictEqual(world.exports, loaded.world.exports)
      const reasonOf = (input: Uint8Array, entryPoints?: ReadonlyArray<string>) =>
        Effect.map(Effect.flip(Component.worldOf(input, { entryPoints })), (error) => error.reason)
      assert.strictEqual(yield* reasonOf(new Uint8Array()), "Empty")
      assert.strictEqual(yield* reasonOf(new Uint8Array(4096).map((_, i) => (i * 2654435761) >>> 24)), "NotWasm")
      assert.strictEqual(yield* reasonOf(guestBytes("core-module")), "CoreModule")
      for (const cut of [9, Math.floor(bytes.byteLength / 2), bytes.byteLength - 1]) {
        assert.strictEqual(yield* reasonOf(bytes.slice(0, cut)), "Malformed", `cut at ${cut}`)
      }
      assert.strictEqual(yield* reasonOf(guestBytes("other-world")), "UnexpectedWorld")
      assert.strictEqual(yield* reasonOf(guestBytes("echo"), ["airssys:component/handler"]), "UnexpectedWorld")
      // A function body wasm-tools does not read (its structure is intact): the core's validation finds it.
      const lifecycle = guestBytes("lifecycle")
      const core = stubCores(lifecycle)!.cores[0]!
      const codeAt = Buffer.from(lifecycle).indexOf(Buffer.from(core)) + codeSectionMiddle(core)
      const corrupt = lifecycle.slice()
      corrupt[codeAt] = 0xff // no such opcode
      assert.strictEqual(yield* reasonOf(corrupt), "Malformed")
      assert.strictEqual((yield* Effect.flip(Component.fromBytes(corrupt))).reason, "Malformed")
    }))

  // In a child process: it uses up every WebAssembly memory V8 gives a process (~16k).
  it.effect("fromBytes - with no wasm memory left, the first load is Exhausted, nothing goes unhandled, and loads recover", () =>
    Effect.gen(function*() {
      const report = yield* runProgram<{
        readonly memories: number
        readonly exhausted: string
        readonly recovered: string
        readonly unhandled: ReadonlyArray<string>
      }>("wasmMemoryExhausted")
      assert.isAbove(report.memories, 1000)
      assert.strictEqual(report.exhausted, "Exhausted")
      assert.deepStrictEqual(report.unhandled, [])
      assert.strictEqual(report.recovered, "loaded")
    }), 60_000)

  it.effect("fromFile - a missing file is Unreadable", () =>
    Effect.gen(function*() {
      const error = yield* Component.fromFile(path.join(os.tmpdir(), "no-such-component.wasm")).pipe(Effect.flip)
      assert.strictEqual(error.reason, "Unreadable")
    }))

  it.effect("fromBytes - the same bytes twice transpile once, and return the same component", () =>
    Effect.gen(function*() {
      const bytes = freshCopy(guestBytes("echo"), "twice")
      const before = (yield* Metric.value(Component.transpiles)).count
      const [first, second] = yield* Effect.all([Component.fromBytes(bytes), Component.fromBytes(bytes)], {
        concurrency: "unbounded"
      })
      const third = yield* Component.fromBytes(bytes.slice())
      const after = (yield* Metric.value(Component.transpiles)).count
      assert.strictEqual(after - before, 1)
      assert.strictEqual(first, second)
      assert.strictEqual(first, third)
    }))

  it.effect("fromBytes - a cache directory lets another process skip the transpile", () =>
    Effect.gen(function*() {
      const cacheDirectory = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-cache-"))
      const bytes = freshCopy(guestBytes("echo"), "disk")
      const before = (yield* Metric.value(Component.transpiles)).count
      const component = yield* Component.fromBytes(bytes, { cacheDirectory })
      assert.strictEqual((yield* Metric.value(Component.transpiles)).count - before, 1)
      assert.isTrue(fs.existsSync(path.join(cacheDirectory, component.hash, "manifest.json")))
      // Another process: a child node loads the same bytes from the same cache directory.
      // The glue's code cache, written beside it when the glue was first compiled from the entry.
      assert.isTrue(fs.existsSync(path.join(cacheDirectory, component.hash, "glue.v8cache")))
      assert.deepStrictEqual(loadInChild(bytes, cacheDirectory), { transpiles: 0, glueCodeCacheHits: 1, out: "from disk" })
    }))

  it.effect("fromBytes - a damaged glue code cache, or one made for other glue, is not used and is written again", () =>
    Effect.gen(function*() {
      const cacheDirectory = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-cache-"))
      const bytes = freshCopy(guestBytes("echo"), "code-cache")
      const component = yield* Component.fromBytes(bytes, { cacheDirectory })
      const entry = path.join(cacheDirectory, component.hash)
      const cacheFile = path.join(entry, "glue.v8cache")
      const damaged = fs.readFileSync(cacheFile)
      damaged[damaged.length - 1]! ^= 0xff
      fs.writeFileSync(cacheFile, damaged)
      assert.deepStrictEqual(loadInChild(bytes, cacheDirectory), { transpiles: 0, glueCodeCacheHits: 0, out: "from disk" })
      // Written again (V8's data is not byte-for-byte the same from one process to the next): used next time.
      assert.isFalse(fs.readFileSync(cacheFile).equals(damaged))
      assert.deepStrictEqual(loadInChild(bytes, cacheDirectory), { transpiles: 0, glueCodeCacheHits: 1, out: "from disk" })
      // The glue changed under it, same length (all V8 would compare): the cache is not handed to V8.
      const glueFile = path.join(entry, "glue.js")
      const glue = fs.readFileSync(glueFile, "utf8")
      const edited = glue.replace("is not aligned to", "is not aligned at")
      assert.strictEqual(edited.length, glue.length)
      assert.notStrictEqual(edited, glue)
      fs.writeFileSync(glueFile, edited)
      assert.deepStrictEqual(loadInChild(bytes, cacheDirectory), { transpiles: 0, glueCodeCacheHits: 0, out: "from disk" })
      assert.deepStrictEqual(loadInChild(bytes, cacheDirectory), { transpiles: 0, glueCodeCacheHits: 1, out: "from disk" })
      // Not a code cache at all.
      fs.writeFileSync(cacheFile, "not a code cache")
      assert.deepStrictEqual(loadInChild(bytes, cacheDirectory), { transpiles: 0, glueCodeCacheHits: 0, out: "from disk" })
    }))

  it.effect("fromBytes - a damaged cache entry is transpiled again, not trusted", () =>
    Effect.gen(function*() {
      const cacheDirectory = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-cache-"))
      const bytes = freshCopy(guestBytes("echo"), "damaged")
      const hash = Component.hashOf(bytes)
      fs.mkdirSync(path.join(cacheDirectory, hash))
      fs.writeFileSync(path.join(cacheDirectory, hash, "manifest.json"), "{ not json")
      const before = (yield* Metric.value(Component.transpiles)).count
      const component = yield* Component.fromBytes(bytes, { cacheDirectory })
      assert.strictEqual((yield* Metric.value(Component.transpiles)).count - before, 1)
      const instance = yield* Component.instantiate(component)
      assert.strictEqual(decode(yield* instance.process(text("ok"))), "ok")
    }))

  it.effect("instantiate - instances share compiled modules but not memory", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("lifecycle"))
      const a = yield* Component.instantiate(component)
      const b = yield* Component.instantiate(component)
      const message = { sender: "test", payload: text("tick") }
      yield* a.handleMessage(message)
      yield* a.handleMessage(message)
      const countA = yield* a.handleMessage(message)
      const countB = yield* b.handleMessage(message)
      assert.strictEqual(new DataView(countA!.buffer).getUint32(0, true), 3)
      assert.strictEqual(new DataView(countB!.buffer).getUint32(0, true), 1)
      assert.strictEqual(component.loaded.modules.size > 0, true)
    }))

  it.effect("instantiate - a closed scope closes the instance", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("echo"))
      const instance = yield* Effect.scoped(Component.instantiate(component))
      const exit = yield* Effect.exit(instance.process(text("late")))
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(instance.process(text("late")))
      assert.strictEqual(error._tag, "InstancePoisoned")
    }))
})

describe("Component.prewarm", () => {
  const message = { sender: "t", payload: text("x") }
  const counter = (reply: Uint8Array | undefined) => new DataView(reply!.buffer).getUint32(0, true)

  it.effect("instances taken from the warm pool are fresh, separate, and linked when taken", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromBytes(freshCopy(guestBytes("lifecycle"), "pool"))
      assert.strictEqual(yield* Component.prewarm(component, 3), 3)
      const a = yield* Component.instantiate(component)
      const b = yield* Component.instantiate(component)
      yield* a.handleMessage(message)
      assert.strictEqual(counter(yield* a.handleMessage(message)), 2)
      assert.strictEqual(counter(yield* b.handleMessage(message)), 1)
    }))

  it.effect("a pooled instance of a guest with imports is linked to the taker's host functions", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromBytes(freshCopy(guestBytes("flaky"), "pool-imports"))
      yield* Component.prewarm(component, 2)
      const logged: Array<string> = []
      const instance = yield* Component.instantiate(component, {
        imports: { "airssys:component/logging": { log: (_: string, m: string) => Effect.sync(() => void logged.push(m)) } }
      })
      yield* instance.handleMessage({ sender: "t", payload: text("linked late") })
      assert.deepStrictEqual(logged, ["linked late"])
      const unlinked = yield* Effect.flip(Component.instantiate(component, {
        imports: { "airssys:component/logging": {} }
      }))
      assert.strictEqual(unlinked._tag, "LinkError")
      assert.strictEqual(unlinked._tag === "LinkError" && unlinked.function, "log")
    }))

  it.live("taken instances are replaced in the background", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromBytes(freshCopy(guestBytes("echo"), "refill"))
      yield* Component.prewarm(component, 2)
      const { limitsKey, take: takeKeyed } = yield* Effect.promise(() => import("../src/internal/run/instancePool.ts"))
      const take = (loaded: typeof component.loaded) => takeKeyed(loaded, limitsKey(component.limits))
      assert.isDefined(take(component.loaded))
      assert.isDefined(take(component.loaded))
      // Refills run on later macrotasks: give them some, without asserting how long they take.
      let refilled = take(component.loaded)
      for (let i = 0; i < 200 && refilled === undefined; i++) {
        yield* Effect.sleep("10 millis")
        refilled = take(component.loaded)
      }
      assert.isDefined(refilled)
    }))
})
