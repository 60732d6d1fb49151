/**
 * Smoke test of every example: each file in examples/ runs as its own process (Node 24 from
 * node_modules), exits 0 and prints something. Files are discovered, so a new example is covered
 * without touching this test.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const node = path.join(root, "node_modules", ".bin", "node")
const directory = path.join(root, "examples")
const examples = fs.readdirSync(directory).filter((file) => file.endsWith(".ts")).sort()

// Node's compile cache, shared by the example processes: each one starts faster after the first.
const compileCache = { ...process.env, NODE_COMPILE_CACHE: path.join(os.tmpdir(), "airssys-wasm-node-compile-cache") }

interface Result {
  readonly code: number | string
  readonly stdout: string
  readonly stderr: string
}

const runExample = (file: string) =>
  Effect.callback<Result>((resume) => {
    execFile(node, [path.join(directory, file)], { cwd: root, env: compileCache, encoding: "utf8", timeout: 120_000 }, (error, stdout, stderr) =>
      resume(Effect.succeed({ code: error === null ? 0 : error.code ?? error.signal ?? -1, stdout, stderr })))
  })

describe("examples", { timeout: 180_000 }, () => {
  it("are there", () => {
    // The ones issue 8 asks for; others may come and go, all of them run below.
    for (const name of ["basic-component", "stateful-component", "request-response", "supervised-component", "capability-restricted-plugin", "custom-capability"]) {
      assert.include(examples, `${name}.ts`)
    }
  })

  for (const file of examples) {
    it.effect(`${file} runs, prints what happens and exits 0`, () =>
      Effect.gen(function*() {
        const result = yield* runExample(file)
        assert.strictEqual(result.code, 0, `${file} failed:\n${result.stderr}`)
        assert.isAbove(result.stdout.trim().split("\n").length, 2, `${file} printed too little:\n${result.stdout}`)
      }))
  }
})
