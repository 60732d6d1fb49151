/**
 * `wasi:cli/environment`, `wasi:cli/exit`, `wasi:cli/stdin` and the terminal interfaces, from real
 * guests: `guests/cli-probe.wat` (a WASI 0.2.12 processor) and `guests/cli-command.wat` (a command).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Audit from "../../src/Audit.ts"
import * as Capability from "../../src/Capability.ts"
import * as CliExit from "../../src/capability/CliExit.ts"
import * as Clocks from "../../src/capability/Clocks.ts"
import * as Environment from "../../src/capability/Environment.ts"
import * as Stdio from "../../src/capability/Stdio.ts"
import * as Component from "../../src/Component.ts"
import * as Linker from "../../src/Linker.ts"
import { decode, guestPath, text } from "../fixtures.ts"

const interfaces = [...Stdio.hostInterfaces, ...Environment.hostInterfaces, CliExit.hostInterface, ...Clocks.hostInterfaces]

const hostWith = <S = never>(stdio: Layer.Layer<Stdio.Stdio | S>, environment = Environment.layer) =>
  Linker.layer(interfaces).pipe(
    Layer.provideMerge(Layer.mergeAll(stdio, environment, Clocks.layer, Audit.layerMemory({ capacity: 100 })))
  )
const host = () => hostWith(Stdio.layerMemory)

const grants = Capability.makeGrants([
  new Capability.Environment({ variables: { GREETING: "hello", LANG: "C.UTF-8" }, arguments: ["probe", "--verbose"] })
])

const environmentEvents = Effect.map(
  Audit.events,
  (events) => events.filter((event) => event.capability === "Environment").map((event) => [event.resource, event.decision])
)

describe("Environment", () => {
  it.effect("granted - the guest reads exactly the variables and arguments its grant spells out; each read audited granted", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("cli-probe"))
      const instance = yield* Linker.instantiate(component, { id: "probe", grants })
      assert.strictEqual(decode(yield* instance.process(text("e"))), "GREETING=hello\nLANG=C.UTF-8\n")
      assert.strictEqual(decode(yield* instance.process(text("a"))), "probe\n--verbose\n")
      assert.deepStrictEqual(yield* environmentEvents, [["variables", "granted"], ["arguments", "granted"]])
    }).pipe(Effect.provide(host())))

  it.effect("denied by default - no grant: an empty environment and no arguments, audited denied; the host's own environment never shows", () =>
    Effect.gen(function*() {
      process.env.AIRSSYS_WASM_TEST_SECRET = "do-not-leak"
      const component = yield* Component.fromFile(guestPath("cli-probe"))
      const instance = yield* Linker.instantiate(component, { id: "probe", grants: Capability.emptyGrants })
      assert.strictEqual(decode(yield* instance.process(text("e"))), "")
      assert.strictEqual(decode(yield* instance.process(text("a"))), "")
      assert.deepStrictEqual(yield* environmentEvents, [["variables", "denied"], ["arguments", "denied"]])
      delete process.env.AIRSSYS_WASM_TEST_SECRET
    }).pipe(Effect.provide(host())))

  it.effect("layerDeny - empty whatever the grants say", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("cli-probe"))
      const instance = yield* Linker.instantiate(component, { id: "probe", grants })
      assert.strictEqual(decode(yield* instance.process(text("e"))), "")
      assert.deepStrictEqual(yield* environmentEvents, [["variables", "denied"]])
    }).pipe(Effect.provide(hostWith(Stdio.layerMemory, Environment.layerDeny))))

  it.effect("config - an Environment grant decodes from JSON; a bad variable name is a typed error", () =>
    Effect.gen(function*() {
      const decoded = yield* Capability.decode([{ type: "Environment", variables: { A: "1" }, arguments: ["x"] }])
      assert.deepStrictEqual(Capability.environmentOf(Capability.makeGrants(decoded)), { variables: [["A", "1"]], arguments: ["x"] })
      const error = yield* Effect.flip(Capability.decode([{ type: "Environment", variables: { "A=B": "1" } }]))
      assert.strictEqual(error._tag, "CapabilityConfigError")
      assert.strictEqual(error.reason, "InvalidPattern")
      assert.include(error.message, "A=B")
    }))
})

describe("CliExit", () => {
  it.effect("exit-with-code - ends the call with GuestExit carrying the code; the instance is poisoned", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("cli-probe"))
      const instance = yield* Linker.instantiate(component, { id: "probe", grants: Capability.emptyGrants })
      const error = yield* Effect.flip(instance.process(new Uint8Array([0x63, 33])))
      assert.strictEqual(error._tag, "GuestExit")
      assert.strictEqual(error._tag === "GuestExit" && error.code, 33)
      assert.strictEqual(error.message, "guest exited with code 33 in process")
      assert.isTrue(instance.poisoned)
      const after = yield* Effect.flip(instance.process(text("e")))
      assert.strictEqual(after._tag, "InstancePoisoned")
    }).pipe(Effect.provide(host())))

  it.effect("exit(ok) is code 0 and exit(err) code 1", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("cli-probe"))
      const ok = yield* Linker.instantiate(component, { id: "ok", grants: Capability.emptyGrants })
      const okError = yield* Effect.flip(ok.process(text("x")))
      assert.strictEqual(okError._tag === "GuestExit" && okError.code, 0)
      const err = yield* Linker.instantiate(component, { id: "err", grants: Capability.emptyGrants })
      const errError = yield* Effect.flip(err.process(text("X")))
      assert.strictEqual(errError._tag === "GuestExit" && errError.code, 1)
    }).pipe(Effect.provide(host())))

  it.effect("a command's wasi:cli/run ending with exit(0) succeeds; exit(N) is GuestExit(N)", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("cli-command"))
      const plain = yield* Linker.instantiate(component, { id: "plain", grants: Capability.emptyGrants })
      assert.isUndefined(yield* plain.call("wasi:cli/run#run", []))
      const zero = yield* Linker.instantiate(component, {
        id: "zero",
        grants: Capability.makeGrants([new Capability.Environment({ arguments: ["probe", "exit", "0"] })])
      })
      assert.isUndefined(yield* zero.call("wasi:cli/run@0.2.12#run", []))
      const seven = yield* Linker.instantiate(component, {
        id: "seven",
        grants: Capability.makeGrants([new Capability.Environment({ arguments: ["probe", "exit", "7"] })])
      })
      const error = yield* Effect.flip(seven.call("wasi:cli/run#run", []))
      assert.strictEqual(error._tag === "GuestExit" && error.code, 7)
    }).pipe(Effect.provide(host())))

  it.effect("denied exit - with denyUnlinked and no host for wasi:cli/exit, the no-result deny stub traps with a readable message", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("cli-probe"))
      const instance = yield* Linker.instantiate(component, { id: "probe", grants: Capability.emptyGrants, denyUnlinked: true })
      const error = yield* Effect.flip(instance.process(new Uint8Array([0x63, 3])))
      assert.strictEqual(error._tag, "Trap")
      assert.strictEqual(error.message, "capability denied: wasi:cli/exit@0.2.12 is not available to probe")
      const denied = (yield* Audit.events).filter((event) => event.decision === "denied").map((event) => event.detail)
      assert.includeMembers(denied, ["link: no host implementation", "wasi:cli/exit@0.2.12#exit-with-code"])
    }).pipe(Effect.provide(
      Linker.layer([...Stdio.hostInterfaces, ...Environment.hostInterfaces]).pipe(
        Layer.provideMerge(Layer.mergeAll(Stdio.layerMemory, Environment.layer, Audit.layerMemory({ capacity: 100 })))
      )
    )))
})

describe("deny stubs", () => {
  it.effect("every function shape - a denied WASI call with a typed err, with no result, or with a plain value traps with the denial's message; each call audited", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("deny-shapes"))
      const messages: Array<string> = []
      for (const op of ["s", "x", "e"]) {
        const instance = yield* Linker.instantiate(component, { id: "shapes", grants: Capability.emptyGrants, denyUnlinked: true })
        const error = yield* Effect.flip(instance.process(text(op)))
        assert.strictEqual(error._tag, "Trap")
        messages.push(error.message)
      }
      assert.deepStrictEqual(messages, [
        "capability denied: wasi:sockets/tcp-create-socket@0.2.12 is not available to shapes",
        "capability denied: wasi:cli/exit@0.2.12 is not available to shapes",
        "capability denied: wasi:cli/environment@0.2.12 is not available to shapes"
      ])
      const calls = (yield* Audit.events).filter((event) => event.decision === "denied" && event.detail !== "link: no host implementation")
      assert.deepStrictEqual(calls.map((event) => event.detail), [
        "wasi:sockets/tcp-create-socket@0.2.12#create-tcp-socket",
        "wasi:cli/exit@0.2.12#exit",
        "wasi:cli/environment@0.2.12#get-environment"
      ])
    }).pipe(Effect.provide(Linker.layer([]).pipe(Layer.provideMerge(Audit.layerMemory({ capacity: 100 }))))))
})

describe("versions", () => {
  it.effect("WASI 0.2.0 - the same host links a guest importing environment and exit at 0.2.0", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("cli-v020"))
      const instance = yield* Linker.instantiate(component, { id: "old", grants })
      assert.deepStrictEqual(Array.from(yield* instance.process(text("n"))), [2, 2])
      const error = yield* Effect.flip(instance.process(text("X")))
      assert.strictEqual(error._tag === "GuestExit" && error.code, 1)
    }).pipe(Effect.provide(host())))
})

describe("stdin and terminals", () => {
  it.effect("stdin - empty unless given; layerStreams gives each component the bytes from the start", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("cli-probe"))
      const empty = yield* Linker.instantiate(component, { id: "empty", grants: Capability.emptyGrants })
      assert.strictEqual((yield* empty.process(text("i"))).byteLength, 0)
    }).pipe(Effect.provide(host())))

  it.effect("stdin - given bytes are read in pieces to the end", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("cli-probe"))
      const a = yield* Linker.instantiate(component, { id: "a", grants: Capability.emptyGrants })
      const b = yield* Linker.instantiate(component, { id: "b", grants: Capability.emptyGrants })
      assert.strictEqual(decode(yield* a.process(text("i"))), "line one\nline two, longer than a read\n")
      assert.strictEqual(decode(yield* b.process(text("i"))), "line one\nline two, longer than a read\n")
    }).pipe(Effect.provide(hostWith(Stdio.layerStreams({
      stdout: { write: () => undefined },
      stderr: { write: () => undefined },
      stdin: text("line one\nline two, longer than a read\n")
    })))))

  it.effect("terminals - stdio is never a terminal: every get-terminal-* is none", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("cli-probe"))
      const instance = yield* Linker.instantiate(component, { id: "probe", grants: Capability.emptyGrants })
      assert.deepStrictEqual(Array.from(yield* instance.process(text("t"))), [0, 0, 0])
    }).pipe(Effect.provide(host())))
})

describe("Stdio lines and bytes", () => {
  it.effect("split writes - output written one byte per write-and-flush reaches the log as whole lines; a partial line at the call's end", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("cli-probe"))
      const instance = yield* Linker.instantiate(component, { id: "split", grants: Capability.emptyGrants })
      yield* instance.process(text("shello, world\nsecond line\nno newline"))
      yield* instance.process(text("s\nnext call\n"))
      assert.deepStrictEqual((yield* Stdio.lines).map((line) => line.text), [
        "hello, world",
        "second line",
        "no newline",
        "next call"
      ])
    }).pipe(Effect.provide(host())))

  it.effect("layerStreams - stdout and stderr bytes arrive unchanged and in order; a command's poll on stdio answers at once", () => {
    const out: Array<number> = []
    const err: Array<number> = []
    return Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("cli-command"))
      const instance = yield* Linker.instantiate(component, {
        id: "bytes",
        grants: Capability.makeGrants([new Capability.Environment({ variables: { K: "v" }, arguments: ["probe", "a b"] })])
      })
      yield* instance.call("wasi:cli/run#run", [])
      assert.strictEqual(new TextDecoder().decode(new Uint8Array(out)), "probe\na b\nK=v\nfrom stdin\u0000")
      out.length = 0
      const polling = yield* Linker.instantiate(component, {
        id: "poll",
        grants: Capability.makeGrants([new Capability.Environment({ arguments: ["probe", "poll"] })])
      })
      yield* polling.call("wasi:cli/run#run", [])
      assert.strictEqual(new TextDecoder().decode(new Uint8Array(out)), "01\n")
      assert.deepStrictEqual(err, [0x65, 0x72, 0x72, 0xff, 0x00, 0x0a])
    }).pipe(Effect.provide(hostWith(Stdio.layerStreams({
      stdout: { write: (bytes) => out.push(...bytes) },
      stderr: { write: (bytes) => err.push(...bytes) },
      stdin: text("from stdin\u0000")
    }))))
  })
})
