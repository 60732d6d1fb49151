import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Logging from "../../src/capability/Logging.ts"
import * as Capability from "../../src/Capability.ts"

/** The `log` function the Linker would wrap, bound for one component. */
const boundLog = Effect.gen(function*() {
  const bind = yield* Logging.hostInterface.make
  const functions = bind({ componentId: "plugin-a", grants: Capability.emptyGrants, interface: "airssys:component/logging@0.1.0" })
  return functions["log"]!.run as (level: unknown, message: unknown) => Effect.Effect<unknown>
})

describe("Logging", () => {
  it.effect("hostInterface - ungated; levels as jco lifts them, unknown levels at info, long messages cut", () =>
    Effect.gen(function*() {
      assert.isUndefined(Logging.hostInterface.capability)
      assert.isTrue(Logging.hostInterface.linkable(Capability.emptyGrants, "airssys:component/logging@0.1.0"))
      const log = yield* boundLog
      yield* log("warn", "careful")
      yield* log("shout", "unknown level")
      yield* log("error", "x".repeat(Logging.maxMessageLength + 100))
      const lines = yield* Logging.lines
      assert.deepStrictEqual(lines.slice(0, 2), [
        { component: "plugin-a", level: "warn", message: "careful" },
        { component: "plugin-a", level: "info", message: "unknown level" }
      ])
      assert.strictEqual(lines[2]!.level, "error")
      assert.strictEqual(lines[2]!.message, "x".repeat(Logging.maxMessageLength) + "…")
    }).pipe(Effect.provide(Logging.layerMemory)))

  it.effect("layerDeny - lines are dropped", () =>
    Effect.gen(function*() {
      const log = yield* boundLog
      const result = yield* Effect.exit(log("info", "nobody hears this"))
      assert.strictEqual(result._tag, "Success")
    }).pipe(Effect.provide(Logging.layerDeny)))
})
