/**
 * `airssys-wasm run` ends on SIGINT (exit 130) and SIGTERM (exit 143) whatever the guest is doing,
 * including a guest in an endless loop without fuel: a guest that nothing in the host's thread could
 * interrupt runs in a worker. The CLI runs as a child process; the bound on how long it may take to
 * go is generous (a safety net, not a timing assertion).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { guestPath } from "./fixtures.ts"

const root = path.resolve(import.meta.dirname, "..")
const node = path.join(root, "node_modules", ".bin", "node")
const main = path.join(root, "src", "cli", "main.ts")
const work = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-signals-"))
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

interface Ended {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: string
}

/**
 * Starts the CLI, waits until it has loaded the guest and started calling it (its stderr says the
 * load is done, or `settle` passes), sends `signal`, and reports how it ended. A CLI still running
 * long after is killed and reported as such.
 */
const runAndSignal = (args: ReadonlyArray<string>, signal: NodeJS.Signals) =>
  Effect.callback<Ended>((resume) => {
    const child = spawn(node, [main, ...args], {
      cwd: work,
      env: { ...process.env, AIRSSYS_WASM_CACHE_DIR: path.join(work, "cache"), NO_COLOR: "1" },
      stdio: ["ignore", "ignore", "pipe"]
    })
    let stderr = ""
    child.stderr.on("data", (chunk) => stderr += String(chunk))
    // Long enough for the process to load (from the cache after the first run) and enter the guest.
    const signalling = setTimeout(() => child.kill(signal), 4_000)
    const stuck = setTimeout(() => child.kill("SIGKILL"), 40_000)
    child.on("exit", (code, killedBy) => {
      clearTimeout(signalling)
      clearTimeout(stuck)
      resume(Effect.succeed({ code, signal: killedBy, stderr }))
    })
  })

describe("airssys-wasm run - signals", { timeout: 120_000 }, () => {
  for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
    it.live(`a guest looping without fuel (--fuel unlimited): ${signal} ends it, exit ${code}`, () =>
      Effect.gen(function*() {
        const ended = yield* runAndSignal(["run", guestPath("loop"), "--fuel", "unlimited", "--timeout", "unlimited"], signal)
        assert.strictEqual(ended.signal, null, `killed by ${ended.signal}: it did not stop on ${signal}\n${ended.stderr}`)
        assert.strictEqual(ended.code, code, ended.stderr)
      }))
  }

  it.live("a guest looping with fuel (1e12 units, no timeout): SIGINT ends it, exit 130", () =>
    Effect.gen(function*() {
      const ended = yield* runAndSignal(["run", guestPath("spinner"), "--call", "handle-message", "--input", "loop", "--fuel", "1e12", "--timeout", "unlimited"], "SIGINT")
      assert.strictEqual(ended.signal, null, ended.stderr)
      assert.strictEqual(ended.code, 130, ended.stderr)
    }))
})
