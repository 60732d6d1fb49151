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

const run = (script: string, env: Record<string, string> = {}) =>
  Effect.callback<Result>((resume) => {
    execFile(node, [script], { cwd: root, env: { ...compileCache, ...env }, encoding: "utf8", timeout: 120_000 }, (error, stdout, stderr) =>
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
        const result = yield* run(path.join(directory, file))
        assert.strictEqual(result.code, 0, `${file} failed:\n${result.stderr}`)
        assert.isAbove(result.stdout.trim().split("\n").length, 2, `${file} printed too little:\n${result.stdout}`)
      }))
  }
})

describe("the demo host (npm start)", { timeout: 180_000 }, () => {
  it.effect("runs the pipeline, a restart, a denial, a hot swap and a clean stop; a second run continues the audit chain", () =>
    Effect.gen(function*() {
      const dataDirectory = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-demo-"))
      const first = yield* run(path.join(root, "demo", "host.ts"), { AIRSSYS_DEMO_DIR: dataDirectory })
      assert.strictEqual(first.code, 0, first.stderr)
      assert.match(first.stdout, /^observer: http:\/\/127\.0\.0\.1:\d+\/ \(live while the demo runs/m)
      assert.include(first.stdout, "\"kiwi\"     → stored 2:KIWI")
      assert.include(first.stdout, "refused: GuestError: rejected 3:Banana!")
      assert.include(first.stdout, "(registry: flaky@1 restarted)")
      assert.include(first.stdout, "dead letter at flaky@1: \"trap: this one poisons the instance\" (Trapped)")
      assert.include(first.stdout, "\"decision\":\"denied\"")
      assert.include(first.stdout, "200 handled (v1 drained and is stopped), 0 lost")
      const events = (text: string) => Number(/verifies: (\d+) events/.exec(text)?.[1])
      assert.isAbove(events(first.stdout), 0)
      const second = yield* run(path.join(root, "demo", "host.ts"), { AIRSSYS_DEMO_DIR: dataDirectory })
      assert.strictEqual(second.code, 0, second.stderr)
      assert.strictEqual(events(second.stdout), 2 * events(first.stdout))
      fs.rmSync(dataDirectory, { recursive: true, force: true })
    }))
})
