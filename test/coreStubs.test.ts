import { assert, describe, it } from "@effect/vitest"
import { transpileBytes } from "@bytecodealliance/jco-transpile"
import { Effect } from "effect"
import * as fs from "node:fs"
import { Component, ResourceLimits } from "../src/index.ts"
import { isStub, stubCores, stubIndex } from "../src/internal/load/coreStubs.ts"
import { guestBytes, guestPath } from "./fixtures.ts"

const options = { name: "component", instantiation: "async", emitTypescriptDeclarations: false } as const

// The toolchain guests are built where their toolchains are installed: the others always are.
const guests = ["echo", "echo-js", "c-processor", "rust-processor", "qjs-processor"].filter((name) => fs.existsSync(guestPath(name)))

// The core modules of a component, where they sit in its bytes (top-level modules are subarrays of it).
const codeSection = (core: Uint8Array): { start: number; end: number } => {
  let pos = 8
  const leb = () => {
    let result = 0
    let scale = 1
    for (;;) {
      const byte = core[pos++]!
      result += (byte & 0x7f) * scale
      if ((byte & 0x80) === 0) return result
      scale *= 128
    }
  }
  while (pos < core.length) {
    const id = core[pos++]!
    const size = leb()
    if (id === 10) return { start: pos, end: pos + size }
    pos += size
  }
  throw new Error("no code section")
}

describe("core stubs", () => {
  it.effect("jco makes the same glue from the stubbed component, and every stub names its original core module", () =>
    Effect.promise(async () => {
      for (const name of guests) {
        const bytes = guestBytes(name)
        const stubbed = stubCores(bytes)
        assert.isDefined(stubbed, name)
        assert.isBelow(stubbed!.component.length, bytes.length, name)
        const [plain, fromStubs] = [await transpileBytes(bytes, options), await transpileBytes(stubbed!.component, options)]
        assert.deepStrictEqual(fromStubs.files["component.js"], plain.files["component.js"], name)
        for (const [file, core] of Object.entries(plain.files)) {
          if (!file.endsWith(".wasm")) continue
          const stub = fromStubs.files[file]!
          const index = stubIndex(stub)
          // jco's own modules (e.g. for JSPI) are not stubs: they come back as they are.
          if (index === undefined) {
            assert.isFalse(isStub(stub), `${name} ${file}`)
            assert.deepStrictEqual(stub, core, `${name} ${file}`)
          } else {
            assert.deepStrictEqual(stubbed!.cores[index], core, `${name} ${file}`)
          }
        }
      }
    }), 120_000)

  it.effect("a core module with an invalid function body still fails to load (V8 validates what jco no longer reads)", () =>
    Effect.gen(function*() {
      const bytes = new Uint8Array(guestBytes("echo"))
      const core = stubCores(bytes)!.cores[0]!
      const code = codeSection(core)
      // The last byte of the code section is the last body's `end`: 0xff is no opcode.
      bytes[core.byteOffset + code.end - 1] = 0xff
      for (const limits of [ResourceLimits.defaults, ResourceLimits.unlimited]) {
        const error = yield* Effect.flip(Component.fromBytes(bytes, { limits }))
        assert.strictEqual(error.reason, "Malformed")
      }
    }))
})
