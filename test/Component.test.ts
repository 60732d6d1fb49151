import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { Component } from "../src/index.ts"
import { decode, guestBytes, guestPath, text } from "./fixtures.ts"

describe("Component", () => {
  it.effect("fromFile - loads the echo guest and calls process", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("echo"))
      assert.strictEqual(component.hash.length, 64)
      assert.deepStrictEqual(component.world.exports.map((e) => e.name), ["process"])
      const instance = yield* Component.instantiate(component)
      const out = yield* instance.process(text("hello, component"))
      assert.strictEqual(decode(out), "hello, component")
    }))
})
