import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Component, ComponentError } from "../src/index.ts"
import { decode, guestPath, text } from "./fixtures.ts"

const load = (name: string) => Component.fromFile(guestPath(name))

/** Host imports for the actor world that record what the guest asked for. */
const recordingHost = (options: { refuseSend?: string } = {}) => {
  const logged: Array<[number | string, string]> = []
  const sent: Array<[string, string]> = []
  const imports = {
    "airssys:component/logging": {
      log: (level: number | string, message: string) => Effect.sync(() => void logged.push([level, message]))
    },
    "airssys:component/messaging@0.1.0": {
      send: (target: string, payload: Uint8Array) =>
        options.refuseSend === undefined
          ? Effect.sync(() => void sent.push([target, decode(payload)]))
          : Effect.fail(new ComponentError.HostRefusal({ payload: options.refuseSend })),
      request: () => Effect.fail(new ComponentError.HostRefusal({ payload: "not in this test" })),
      publish: () => Effect.void,
      subscribe: () => Effect.void
    }
  }
  return { imports, logged, sent }
}

describe("Instance", () => {
  it.effect("process - a guest err result is a GuestError and the instance stays usable", () =>
    Effect.gen(function*() {
      const instance = yield* Component.instantiate(yield* load("faulty"))
      const error = yield* Effect.flip(instance.process(text("err:bad input")))
      assert.strictEqual(error._tag, "GuestError")
      assert.strictEqual(error._tag === "GuestError" && error.payload, "bad input")
      assert.isFalse(instance.poisoned)
      assert.strictEqual(decode(yield* instance.process(text("still here"))), "still here")
    }))

  it.effect("process - a trap is a Trap with its message, then every call is InstancePoisoned", () =>
    Effect.gen(function*() {
      const instance = yield* Component.instantiate(yield* load("faulty"))
      const trap = yield* Effect.flip(instance.process(text("trap")))
      assert.strictEqual(trap._tag, "Trap")
      assert.include(trap._tag === "Trap" ? trap.message : "", "unreachable")
      assert.isTrue(instance.poisoned)
      const after = yield* Effect.flip(instance.process(text("hello")))
      assert.strictEqual(after._tag, "InstancePoisoned")
      assert.include(after.message, "unreachable")
    }))

  it.effect("process - a trap poisons only its own instance", () =>
    Effect.gen(function*() {
      const component = yield* load("faulty")
      const a = yield* Component.instantiate(component)
      const b = yield* Component.instantiate(component)
      yield* Effect.flip(a.process(text("trap")))
      assert.strictEqual(decode(yield* b.process(text("fine"))), "fine")
      // A restart is a new instance of the same component: fresh memory, serving again.
      const restarted = yield* Component.instantiate(component)
      assert.strictEqual(decode(yield* restarted.process(text("again"))), "again")
    }))

  it.effect("process - a result pointing outside linear memory is a Trap", () =>
    Effect.gen(function*() {
      const instance = yield* Component.instantiate(yield* load("faulty"))
      const trap = yield* Effect.flip(instance.process(text("oob")))
      assert.strictEqual(trap._tag, "Trap")
      assert.isTrue(instance.poisoned)
    }))

  it.effect("process - large payloads cross in both directions intact", () =>
    Effect.gen(function*() {
      const instance = yield* Component.instantiate(yield* load("echo"))
      const big = new Uint8Array(3 * 65536 + 17).map((_, i) => i % 251)
      const out = yield* instance.process(big)
      assert.deepStrictEqual(out, big)
      assert.deepStrictEqual(yield* instance.process(new Uint8Array()), new Uint8Array())
    }))

  it.effect("instantiate - a missing import interface is a LinkError naming it", () =>
    Effect.gen(function*() {
      const component = yield* load("host-calls")
      const { imports } = recordingHost()
      const error = yield* Effect.flip(Component.instantiate(component, {
        imports: { "airssys:component/messaging": imports["airssys:component/messaging@0.1.0"] }
      }))
      assert.strictEqual(error._tag, "LinkError")
      assert.strictEqual(error._tag === "LinkError" && error.interface, "airssys:component/logging")
      assert.include(error.message, "airssys:component/logging")
    }))

  it.effect("instantiate - a missing function in a provided interface is a LinkError naming both", () =>
    Effect.gen(function*() {
      const component = yield* load("host-calls")
      const { imports } = recordingHost()
      const error = yield* Effect.flip(Component.instantiate(component, {
        imports: { ...imports, "airssys:component/messaging@0.1.0": { publish: () => Effect.void } }
      }))
      assert.strictEqual(error._tag, "LinkError")
      if (error._tag === "LinkError") {
        assert.strictEqual(error.interface, "airssys:component/messaging")
        assert.strictEqual(error.function, "send")
      }
    }))

  it.effect("handleMessage - a guest calls host imports, and a refusal reaches it as err", () =>
    Effect.gen(function*() {
      const component = yield* load("host-calls")
      const host = recordingHost()
      const instance = yield* Component.instantiate(component, { imports: host.imports })
      const reply = yield* instance.handleMessage({ sender: "peer-1", payload: text("ping") })
      assert.strictEqual(decode(reply!), "ping")
      assert.deepStrictEqual(host.sent, [["peer-1", "ping"]])
      assert.strictEqual(host.logged.length, 1)
      assert.strictEqual(host.logged[0]![1], "ping")

      const refusing = recordingHost({ refuseSend: "denied by host" })
      const refused = yield* Component.instantiate(component, { imports: refusing.imports })
      const error = yield* Effect.flip(refused.handleMessage({ sender: "peer-1", payload: text("ping") }))
      assert.strictEqual(error._tag, "GuestError")
      assert.strictEqual(error._tag === "GuestError" && error.payload, "denied by host")
      assert.isFalse(refused.poisoned)
    }))

  it.effect("handleMessage - a host function that dies traps the guest and poisons the instance", () =>
    Effect.gen(function*() {
      const component = yield* load("host-calls")
      const host = recordingHost()
      const instance = yield* Component.instantiate(component, {
        imports: { ...host.imports, "airssys:component/logging": { log: () => Effect.die(new Error("logger broke")) } }
      })
      const trap = yield* Effect.flip(instance.handleMessage({ sender: "peer-1", payload: text("ping") }))
      assert.strictEqual(trap._tag, "Trap")
      assert.include(trap._tag === "Trap" ? trap.message : "", "logger broke")
      assert.isTrue(instance.poisoned)
    }))

  it.effect("call - lifecycle exports by WIT name", () =>
    Effect.gen(function*() {
      const instance = yield* Component.instantiate(yield* load("lifecycle"))
      const refused = yield* Effect.flip(instance.call("airssys:component/lifecycle#init", [text("fail")]))
      assert.strictEqual(refused._tag, "GuestError")
      yield* instance.call("airssys:component/lifecycle@0.1.0#init", [text("12345")])
      const count = yield* instance.handleMessage({ sender: "t", payload: text("x") })
      assert.strictEqual(new DataView(count!.buffer).getUint32(0, true), 6)
      yield* instance.call("airssys:component/lifecycle#shutdown", [])
      const missing = yield* Effect.flip(instance.call("airssys:component/lifecycle#no-such-function", []))
      assert.strictEqual(missing._tag, "Trap")
    }))

  it.effect("JavaScript guest (componentize-js) - process, err and trap", () =>
    Effect.gen(function*() {
      const component = yield* load("echo-js")
      assert.deepStrictEqual(component.world.exports.map((e) => e.name), ["process"])
      const instance = yield* Component.instantiate(component)
      assert.strictEqual(decode(yield* instance.process(text("from spidermonkey"))), "from spidermonkey")
      const error = yield* Effect.flip(instance.process(text("err:js says no")))
      assert.strictEqual(error._tag === "GuestError" && error.payload, "js says no")
      const trap = yield* Effect.flip(instance.process(text("trap")))
      assert.strictEqual(trap._tag, "Trap")
      assert.strictEqual((yield* Effect.flip(instance.process(text("x"))))._tag, "InstancePoisoned")
    }))

  it.effect("JavaScript guest (componentize-js) - an actor calling host imports", () =>
    Effect.gen(function*() {
      const component = yield* load("actor-js")
      const host = recordingHost()
      const instance = yield* Component.instantiate(component, { imports: host.imports })
      const reply = yield* instance.handleMessage({ sender: "peer-js", payload: text("abc") })
      assert.strictEqual(decode(reply!), "cba")
      assert.deepStrictEqual(host.logged.map(([, message]) => message), ["js got 3 bytes from peer-js"])
      yield* instance.handleMessage({ sender: "peer-js", payload: text("send") })
      assert.deepStrictEqual(host.sent, [["peer-js", "send"]])
    }))
})

describe("Instance direct calls", () => {
  const message = { sender: "sender-ü", topic: "news", correlationId: 42n, payload: text("payload bytes") }

  it.effect("handleMessage - the direct path and jco's glue agree", () =>
    Effect.gen(function*() {
      for (const name of ["lifecycle"]) {
        const component = yield* load(name)
        const direct = yield* Component.instantiate(component, { imports: recordingHost().imports })
        const glue = yield* Component.instantiate(component, { imports: recordingHost().imports })
        assert.include(direct.directCalls, "airssys:component/handler#handle-message", name)
        for (const msg of [message, { sender: "", payload: new Uint8Array() }]) {
          const viaDirect = yield* direct.handleMessage(msg)
          const viaGlue = yield* glue.call("airssys:component/handler#handle-message", [msg])
          assert.deepStrictEqual(viaDirect, viaGlue, name)
        }
      }
    }))

  it.effect("handleMessage - a standalone guest's glue, made on the first call through it, wraps the same core instance", () =>
    Effect.gen(function*() {
      const instance = yield* Component.instantiate(yield* load("lifecycle"))
      const counter = (reply: Uint8Array | undefined) => new DataView(reply!.buffer, reply!.byteOffset).getUint32(0, true)
      assert.strictEqual(counter(yield* instance.handleMessage({ sender: "t", payload: text("a") })), 1)
      // Through jco's glue: the count goes on from the direct call's, in the same linear memory.
      const viaGlue = yield* instance.call("airssys:component/handler#handle-message", [{ sender: "t", payload: text("b") }])
      assert.strictEqual(counter(viaGlue as Uint8Array), 2)
      assert.strictEqual(counter(yield* instance.handleMessage({ sender: "t", payload: text("c") })), 3)
    }))

  it.effect("handleMessage - guests that import host functions are called through jco's glue", () =>
    Effect.gen(function*() {
      for (const name of ["actor-js", "host-calls", "flaky"]) {
        const instance = yield* Component.instantiate(yield* load(name), { imports: recordingHost().imports })
        assert.deepStrictEqual(instance.directCalls, [], name)
      }
    }))

  it.effect("handleMessage - sender, topic and correlation id reach the guest", () =>
    Effect.gen(function*() {
      const host = recordingHost()
      const instance = yield* Component.instantiate(yield* load("host-calls"), { imports: host.imports })
      yield* instance.handleMessage(message)
      assert.deepStrictEqual(host.sent, [["sender-ü", "payload bytes"]])
    }))

  it.effect("process - the direct path and jco's glue agree", () =>
    Effect.gen(function*() {
      const instance = yield* Component.instantiate(yield* load("faulty"))
      assert.deepStrictEqual(instance.directCalls, ["process"])
      for (const input of ["", "abc", "err:x"]) {
        const direct = yield* Effect.result(instance.process(text(input)))
        const glue = yield* Effect.result(instance.call("process", [text(input)]))
        assert.deepStrictEqual(direct, glue, input)
      }
    }))
})
