import { assert, describe, it } from "@effect/vitest"
import { transpileBytes } from "@bytecodealliance/jco-transpile"
import { Effect } from "effect"
import * as vm from "node:vm"
import { codeCacheFile, codeCacheFor, glueScript } from "../src/internal/load/glueScript.ts"
import { guestBytes } from "./fixtures.ts"

const url = "file:///cache/entry/glue.js"

describe("glueScript", () => {
  it.effect("glueScript - jco's glue runs as a script and gives its instantiate; import.meta.url is the file's", () =>
    Effect.gen(function*() {
      const out = yield* Effect.promise(() =>
        transpileBytes(guestBytes("echo"), { name: "component", instantiation: "async", emitTypescriptDeclarations: false })
      )
      const glue = new TextDecoder().decode(out.files["component.js"])
      assert.match(glue, /^export function instantiate/m)
      const source = glueScript(glue, url)
      const instantiate = (new vm.Script(source).runInThisContext() as () => unknown)()
      assert.strictEqual(typeof instantiate, "function")
      assert.notInclude(source, "import.meta")
      if (glue.includes("import.meta.url")) assert.include(source, JSON.stringify(url))
    }))

  it("glueScript - a glue of another shape does not compile as a script (it is then imported as a module)", () => {
    const instantiate = "export function instantiate() {}\nexport const _util = {}\n"
    const compile = (glue: string) => new vm.Script(glueScript(glue, url))
    assert.strictEqual(typeof (compile(instantiate).runInThisContext() as () => unknown)(), "function")
    for (
      const other of [
        `import { x } from "y";\n${instantiate}`,
        `import "y";\n${instantiate}`,
        `${instantiate}export default instantiate;\n`,
        `${instantiate}export { instantiate as run };\n`,
        `${instantiate}const here = import.meta.resolve("./x");\n`
      ]
    ) assert.throws(() => compile(other), SyntaxError)
  })

  it("codeCacheFor - gives back V8's data only for an intact file of the same glue and URL", () => {
    const glue = "export function instantiate() { return 1 }\n"
    const data = new vm.Script(glueScript(glue, url)).createCachedData()
    const file = codeCacheFile(glue, url, data)
    assert.deepStrictEqual(codeCacheFor(glue, url, file), new Uint8Array(data))
    // Another glue of the same length (V8 itself would only compare the lengths), or another place.
    assert.isUndefined(codeCacheFor(glue.replace("1", "2"), url, file))
    assert.isUndefined(codeCacheFor(glue, url.replace("entry", "other"), file))
    const flipped = file.slice()
    flipped[flipped.length - 1]! ^= 1
    assert.isUndefined(codeCacheFor(glue, url, flipped))
    assert.isUndefined(codeCacheFor(glue, url, file.subarray(0, file.length - 1)))
    assert.isUndefined(codeCacheFor(glue, url, file.subarray(0, 12)))
    assert.isUndefined(codeCacheFor(glue, url, new Uint8Array(0)))
    const otherMagic = file.slice()
    otherMagic[0] = 0
    assert.isUndefined(codeCacheFor(glue, url, otherMagic))
  })
})
