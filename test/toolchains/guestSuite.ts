/**
 * One suite, run for every language whose guests are built by a real toolchain (scripts/build-toolchain-guests.ts):
 * C (clang + wasi-libc, preview1 reactor adapter), Rust (rustc's wasm32-wasi std), JavaScript on
 * QuickJS (componentize-qjs) and on SpiderMonkey (componentize-js). Each language's processor, actor
 * and command guest is driven under the **default** limits, with the library's
 * own host interfaces: calls, typed errors, fuel and timeout, the memory cap, audited denials, a
 * supervised restart. The guests understand the same text commands (guests/README.md).
 *
 * A toolchain missing on this machine skips the language with the command that installs it; with
 * `CI=true` that is a failure (.ci/run installs them).
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Layer, Metric, Schedule } from "effect"
import { TestClock } from "effect/testing"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { isAvailable, type Language, skipMessage, toolchain } from "../../scripts/toolchains.ts"
import * as Actor from "../../src/Actor.ts"
import * as Audit from "../../src/Audit.ts"
import * as CliExit from "../../src/capability/CliExit.ts"
import * as Clocks from "../../src/capability/Clocks.ts"
import * as Environment from "../../src/capability/Environment.ts"
import * as Filesystem from "../../src/capability/Filesystem.ts"
import * as Logging from "../../src/capability/Logging.ts"
import * as Messaging from "../../src/capability/Messaging.ts"
import * as Random from "../../src/capability/Random.ts"
import * as Stdio from "../../src/capability/Stdio.ts"
import * as Storage from "../../src/capability/Storage.ts"
import * as Capability from "../../src/Capability.ts"
import * as Component from "../../src/Component.ts"
import * as Deployment from "../../src/Deployment.ts"
import * as Jco from "../../src/internal/jco.ts"
import * as Linker from "../../src/Linker.ts"
import * as Registry from "../../src/Registry.ts"
import * as ResourceLimits from "../../src/ResourceLimits.ts"
import * as Router from "../../src/Router.ts"
import * as Supervisor from "../../src/Supervisor.ts"
import { decode, guestPath, steppingClock, text } from "../fixtures.ts"

export interface GuestLanguage {
  /** As the test names show it. */
  readonly name: string
  readonly toolchain: Language
  /** Output names in build/guests, without `.wasm`. */
  readonly processor: string
  readonly actor: string
  /** A WASI command (`wasi:cli/run`). */
  readonly command?: string | undefined
  /** Whether its guests reach files (wasi:filesystem: through the preview1 adapter, or imported by JS) and call exit. */
  readonly wasi: boolean
  /** How the language meets a refused `memory.grow`: its own error, or a trap the host reads as the cap. */
  readonly outOfMemory: "GuestError" | "LimitExceeded"
  /** Per-test timeout: a 12 MB SpiderMonkey guest takes seconds to instrument and load. */
  readonly timeout?: number | undefined
}

// A preopened folder shown to guests as /data, with a file the guests may read and one they may not.
const dataDir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "airssys-toolchain-")))
fs.writeFileSync(path.join(dataDir, "hello.txt"), "hello from the host")
fs.writeFileSync(path.join(dataDir, "secret.txt"), "not for guests")
process.once("exit", () => fs.rmSync(dataDir, { recursive: true, force: true }))

/** Everything a toolchain's guest imports, each host interface with its library layer; audit in memory. */
const host = () => {
  const routing = Layer.provideMerge(Router.Router.layer, Layer.merge(Registry.Registry.layer, Audit.layerMemory({ capacity: 1000 })))
  const services = Layer.mergeAll(
    Messaging.layer,
    Storage.layerMemory(),
    Logging.layerMemory,
    Stdio.layerMemory,
    Clocks.layer,
    Random.layer,
    Environment.layer,
    Filesystem.layer({ preopens: [{ path: dataDir, as: "/data" }] })
  ).pipe(Layer.provideMerge(routing))
  const linking = Linker.layer([
    Logging.hostInterface,
    Storage.hostInterface,
    Messaging.hostInterface,
    ...Filesystem.hostInterfaces,
    ...Stdio.hostInterfaces,
    ...Clocks.hostInterfaces,
    ...Random.hostInterfaces,
    ...Environment.hostInterfaces,
    CliExit.hostInterface
  ]).pipe(Layer.provideMerge(services))
  return Deployment.Deployment.layer.pipe(Layer.provideMerge(linking))
}

const load = (name: string, limits?: Partial<ResourceLimits.Resolved>) =>
  Component.fromFile(guestPath(name), limits === undefined ? undefined : { limits })

/** A command exports `wasi:cli/run`, one of the hosted entry points. */
const loadCommand = (name: string) => Component.fromFile(guestPath(name))

const grants = (id: string, ...more: ReadonlyArray<Capability.Capability>) =>
  Capability.makeGrants([new Capability.Storage({ namespace: id }), new Capability.FileRead({ glob: `${dataDir}/hello.txt` }), ...more])

const run = (instance: { process: (input: Uint8Array) => Effect.Effect<Uint8Array, unknown> }, command: string) =>
  Effect.map(instance.process(text(command)), decode)

/** The failure's tag and its payload, code or limit: what each assertion compares. */
const failure = <A>(effect: Effect.Effect<A, unknown>) =>
  Effect.map(Effect.flip(effect), (error) => error as { readonly _tag: string; readonly payload?: unknown; readonly code?: number; readonly limit?: string })

/**
 * The capabilities of the denied audit events, in order. Rust's std also reads the environment when it
 * starts, which without an `Environment` grant is an audited denial of its own: left out here.
 */
const denied = Effect.map(Audit.events, (events) =>
  events.filter((event) => event.decision === "denied" && event.capability !== "Environment").map((event) => event.capability))


export const guestSuite = (language: GuestLanguage): void => {
  const tool = toolchain(language.toolchain)
  const options = { timeout: language.timeout ?? 60_000 }
  if (!isAvailable(tool)) {
    const message = skipMessage(tool)
    if (process.env["CI"] === "true") {
      describe(language.name, () => it(`toolchain - present (CI=true): ${message}`, () => assert.fail(message)))
    } else {
      console.log(message)
      describe.skip(`${language.name} (${message})`, () => it("skipped", () => {}))
    }
    return
  }

  describe(`${language.name} guests (${tool.version}), under the default limits`, () => {
    it.effect("calls - echo, log, storage in its own namespace" + (language.wasi ? ", a file under its FileRead grant" : ""), () =>
      Effect.gen(function*() {
        const component = yield* load(language.processor)
        assert.deepStrictEqual(component.limits, ResourceLimits.defaults)
        const guest = yield* Linker.instantiate(component, { id: "guest", grants: grants("guest") })
        assert.strictEqual(yield* run(guest, "echo héllo wörld"), "héllo wörld")
        assert.strictEqual(yield* run(guest, "log a line from the guest"), "logged")
        assert.deepStrictEqual(yield* Logging.lines, [{ component: "guest", level: "info", message: "a line from the guest" }])
        assert.strictEqual(yield* run(guest, "get guest colour"), "(none)")
        assert.strictEqual(yield* run(guest, "set guest colour teal"), "stored")
        assert.strictEqual(yield* run(guest, "get guest colour"), "teal")
        if (language.wasi) assert.strictEqual(yield* run(guest, "read /data/hello.txt"), "hello from the host")
        assert.isFalse(guest.poisoned)
      }).pipe(Effect.provide(host())), options)

    it.effect("errors - err is GuestError (the instance serves on), a trap is Trap (poisoned)" + (language.wasi ? ", exit(3) is GuestExit(3)" : ""), () =>
      Effect.gen(function*() {
        const component = yield* load(language.processor)
        const guest = yield* Linker.instantiate(component, { id: "guest", grants: grants("guest") })
        const err = yield* failure(run(guest, "err no such thing"))
        assert.deepStrictEqual([err._tag, err.payload], ["GuestError", "no such thing"])
        assert.strictEqual(yield* run(guest, "echo still here"), "still here")
        const trap = yield* failure(run(guest, "trap"))
        assert.strictEqual(trap._tag, "Trap")
        assert.isTrue(guest.poisoned)
        assert.strictEqual((yield* failure(run(guest, "echo again")))._tag, "InstancePoisoned")
        if (language.wasi) {
          const exiting = yield* Linker.instantiate(component, { id: "exiting", grants: grants("exiting") })
          const exit = yield* failure(run(exiting, "exit 3"))
          assert.deepStrictEqual([exit._tag, exit.code], ["GuestExit", 3])
        }
      }).pipe(Effect.provide(host())), options)

    it.effect("fuel - a loop under the default limits ends in LimitExceeded(fuel)", () =>
      Effect.gen(function*() {
        const guest = yield* Linker.instantiate(yield* load(language.processor), { id: "guest", grants: grants("guest") })
        const error = yield* failure(run(guest, "loop"))
        assert.deepStrictEqual([error._tag, error.limit], ["LimitExceeded", "fuel"])
        assert.isTrue(guest.poisoned)
      }).pipe(Effect.provide(host())), options)

    it.effect("timeout - a loop past its deadline ends in LimitExceeded(timeout)", () =>
      Effect.gen(function*() {
        // Plenty of fuel, 100 ms allowed, and a clock that moves 10 ms per read (one read per fuel slice),
        // given at instantiation: an instance's calls are timed by the Clock it was made with.
        const component = yield* load(language.processor, { fuel: 1e12, timeout: Duration.millis(100) })
        const guest = yield* Linker.instantiate(component, { id: "guest", grants: grants("guest") }).pipe(
          Effect.provideService(Clock.Clock, steppingClock(10).clock)
        )
        const error = yield* failure(run(guest, "loop"))
        assert.deepStrictEqual([error._tag, error.limit], ["LimitExceeded", "timeout"])
      }).pipe(Effect.provide(host())), options)

    it.effect(`memory - 128 MiB past the default 64 MiB cap is refused (${language.outOfMemory})`, () =>
      Effect.gen(function*() {
        const guest = yield* Linker.instantiate(yield* load(language.processor), { id: "guest", grants: grants("guest") })
        assert.strictEqual(yield* run(guest, "alloc 8"), "allocated")
        const error = yield* failure(run(guest, "alloc 128"))
        if (language.outOfMemory === "GuestError") {
          assert.deepStrictEqual([error._tag, error.payload], ["GuestError", "out of memory"])
          assert.strictEqual(yield* run(guest, "echo after"), "after")
        } else {
          assert.deepStrictEqual([error._tag, error.limit], ["LimitExceeded", "memory"])
        }
      }).pipe(Effect.provide(host())), options)

    it.effect("capabilities - another namespace" + (language.wasi ? ", a read outside FileRead and a write without FileWrite are" : " is") + " denied and audited", () =>
      Effect.gen(function*() {
        const guest = yield* Linker.instantiate(yield* load(language.processor), { id: "guest", grants: grants("guest") })
        const storage = yield* failure(run(guest, "get other secret"))
        assert.strictEqual(storage._tag, "GuestError")
        assert.include(String(storage.payload), "denied")
        const expected = ["Storage"]
        if (language.wasi) {
          const read = yield* failure(run(guest, "read /data/secret.txt"))
          assert.strictEqual(read._tag, "GuestError")
          expected.push("FileRead")
          const write = yield* failure(run(guest, "write /data/hello.txt overwritten"))
          assert.strictEqual(write._tag, "GuestError")
          assert.strictEqual(fs.readFileSync(path.join(dataDir, "hello.txt"), "utf8"), "hello from the host")
          expected.push("FileWrite")
        }
        assert.deepStrictEqual(yield* denied, expected)
        assert.strictEqual(yield* run(guest, "echo serving"), "serving")
      }).pipe(Effect.provide(host())), options)

    it.effect("actor - through the router: a request to a granted peer, a send to another denied and audited, storage", () =>
      Effect.gen(function*() {
        const deployment = yield* Deployment.Deployment
        const router = yield* Router.Router
        yield* deployment.deploy("greeter", "1", yield* Component.fromFile(guestPath("greeter-v1")))
        yield* deployment.deploy("guest", "1", yield* load(language.actor), {
          grants: grants("guest", new Capability.Messaging({ pattern: "greeter" }))
        })
        const ask = (command: string) =>
          router.request("host", "guest", text(command)).pipe(Effect.map((reply) => decode(reply ?? new Uint8Array())))
        assert.strictEqual(yield* ask("request greeter bob"), "hello, bob")
        assert.strictEqual(yield* ask("set guest k v"), "stored")
        assert.strictEqual(yield* ask("get guest k"), "v")
        const refused = yield* failure(ask("send stranger hi"))
        assert.match(String((refused as { message?: string }).message), /denied/i)
        assert.deepStrictEqual(yield* denied, ["Messaging"])
        assert.strictEqual(yield* ask("echo still serving"), "still serving")
      }).pipe(Effect.provide(host())), options)

    it.effect("supervised - a trap restarts the actor, which serves the next message", () =>
      Effect.gen(function*() {
        const component = yield* load(language.actor)
        const imports = yield* Linker.imports(component, { id: "guest", grants: grants("guest", new Capability.Messaging({ pattern: "host" })) })
        const actor = yield* Actor.make(component, { id: "guest", imports })
        yield* Supervisor.start({ id: "root", backoff: Schedule.spaced("10 millis"), children: [Actor.child(actor)] })
        yield* TestClock.adjust("10 millis")
        assert.strictEqual(decode((yield* actor.request(text("echo first")))!), "first")
        assert.strictEqual((yield* failure(actor.request(text("trap"))))._tag, "Trap")
        yield* TestClock.adjust("10 millis")
        yield* TestClock.adjust("10 millis")
        assert.strictEqual(decode((yield* actor.request(text("echo after the restart")))!), "after the restart")
        assert.strictEqual((yield* actor.stats).incarnations, 2)
      }).pipe(Effect.provide(host())), options)

    it.effect("disk cache - loaded again from its cache directory (the glue from its code cache, as a script), it serves calls", () =>
      Effect.gen(function*() {
        const cacheDirectory = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-toolchain-cache-"))
        // A trailing custom section: other bytes, so nothing of them is in this process's memory yet.
        const name = new TextEncoder().encode(`disk-cache-${process.pid}`)
        const bytes = new Uint8Array([...fs.readFileSync(guestPath(language.processor)), 0, name.length + 1, name.length, ...name])
        const transpiled = (yield* Metric.value(Component.transpiles)).count
        yield* Component.fromBytes(bytes, { cacheDirectory })
        const hits = Jco.glueCodeCacheHits
        // Other limits are another compiled artifact: the memory cache misses, the entry on disk is read.
        const again = yield* Component.fromBytes(bytes, { cacheDirectory, limits: ResourceLimits.unlimited })
        assert.strictEqual(Jco.glueCodeCacheHits - hits, 1)
        assert.strictEqual((yield* Metric.value(Component.transpiles)).count - transpiled, 1)
        const guest = yield* Linker.instantiate(again, { id: "guest", grants: grants("guest") })
        assert.strictEqual(yield* run(guest, "echo from the disk cache"), "from the disk cache")
        assert.strictEqual(yield* run(guest, "set guest colour teal"), "stored")
        assert.strictEqual(yield* run(guest, "get guest colour"), "teal")
        fs.rmSync(cacheDirectory, { recursive: true, force: true })
      }).pipe(Effect.provide(host())), options)

    const command = language.command
    if (command !== undefined) {
      it.effect("command - wasi:cli/run prints and exits 0 (success); EXIT_CODE=3 from an Environment grant is GuestExit(3)", () =>
        Effect.gen(function*() {
          const component = yield* loadCommand(command)
          const plain = yield* Linker.instantiate(component, { id: "cmd", grants: Capability.emptyGrants })
          yield* plain.call("wasi:cli/run#run", [])
          const lines = (yield* Stdio.lines).map((line) => `${line.stream}: ${line.text}`)
          assert.deepStrictEqual(lines, [
            `stdout: ${command}: hello from main, 0 argument(s)`,
            `stderr: ${command}: a line on stderr`
          ])
          const granted = Capability.makeGrants([new Capability.Environment({ variables: { EXIT_CODE: "3" } })])
          const failing = yield* Linker.instantiate(component, { id: "cmd", grants: granted })
          const exit = yield* failure(failing.call("wasi:cli/run#run", []))
          assert.deepStrictEqual([exit._tag, exit.code], ["GuestExit", 3])
        }).pipe(Effect.provide(host())), options)
    }
  })
}
