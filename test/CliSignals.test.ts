/**
 * `airssys-wasm run` ends on SIGINT (exit 130) and SIGTERM (exit 143) whatever the guest is doing,
 * including a guest in an endless loop without fuel: a guest whose imports allow runs in a worker, any
 * other in a child process that the CLI relays and kills when it does not end by itself. The CLI runs as
 * a child process of the test; the bounds on how long it may take to go are generous (a safety net, not
 * a timing assertion).
 *
 * Every process the CLI starts inherits its environment, so a tag in it finds them all (Linux: in
 * /proc/PID/environ): the relaying parent and its child while the guest runs, none after the CLI ended.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
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

const linux = process.platform === "linux"

/** The pids of the processes whose environment holds `AIRSSYS_TEST_TAG=tag`. */
const tagged = (tag: string): Array<number> => {
  const needle = `AIRSSYS_TEST_TAG=${tag}\0`
  return fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).flatMap((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/environ`, "latin1").includes(needle) ? [Number(pid)] : []
    } catch {
      return [] // gone meanwhile, or not ours
    }
  })
}

/** Waits until no process holds the tag (up to 10 s); returns those still there. */
const gone = (tag: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 50 && tagged(tag).length > 0; i++) yield* Effect.sleep("200 millis")
    return tagged(tag)
  })

interface Ended {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: string
  /** The processes with the CLI's tag just before the signal. */
  readonly before: ReadonlyArray<number>
  readonly tag: string
}

/**
 * Starts the CLI, waits until the guest runs (its stderr matches `ready`, or 4 s pass when there is
 * none), sends `signal` to it, and reports how it ended. A CLI still running long after is killed and
 * reported as such.
 */
const runAndSignal = (args: ReadonlyArray<string>, signal: NodeJS.Signals, ready?: RegExp) =>
  Effect.callback<Ended>((resume) => {
    const tag = randomUUID()
    const child = spawn(node, [main, ...args], {
      cwd: work,
      env: { ...process.env, AIRSSYS_WASM_CACHE_DIR: path.join(work, "cache"), NO_COLOR: "1", AIRSSYS_TEST_TAG: tag },
      stdio: ["ignore", "ignore", "pipe"]
    })
    let stderr = ""
    let before: ReadonlyArray<number> = []
    const send = () => {
      clearTimeout(signalling)
      if (linux) before = tagged(tag)
      child.kill(signal)
    }
    child.stderr.on("data", (chunk) => {
      stderr += String(chunk)
      if (ready?.test(stderr) && before.length === 0) send()
    })
    // Long enough for the process to load (from the cache after the first run) and enter the guest.
    const signalling = setTimeout(send, ready === undefined ? 4_000 : 60_000)
    const stuck = setTimeout(() => child.kill("SIGKILL"), 90_000)
    child.on("exit", (code, killedBy) => {
      clearTimeout(signalling)
      clearTimeout(stuck)
      resume(Effect.succeed({ code, signal: killedBy, stderr, before, tag }))
    })
  })

/** The CLI and the process it runs the guest in were there before the signal, and none is after. */
const noneLeft = (ended: Ended) =>
  Effect.gen(function*() {
    if (!linux) return
    assert.isAtLeast(ended.before.length, 2, `the CLI and its child: ${ended.before.join(", ")}\n${ended.stderr}`)
    assert.deepStrictEqual(yield* gone(ended.tag), [], "a process of the CLI outlived it")
  })

describe("airssys-wasm run - signals", { timeout: 180_000 }, () => {
  for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
    it.live(`a guest looping without fuel (--fuel unlimited): ${signal} ends it, exit ${code}`, () =>
      Effect.gen(function*() {
        const ended = yield* runAndSignal(["run", guestPath("loop"), "--fuel", "unlimited", "--timeout", "unlimited"], signal)
        assert.strictEqual(ended.signal, null, `killed by ${ended.signal}: it did not stop on ${signal}\n${ended.stderr}`)
        assert.strictEqual(ended.code, code, ended.stderr)
        yield* noneLeft(ended)
      }))

    // cli-command imports stdio, environment, exit, clocks: it cannot go to a worker.
    it.live(`a WASI command looping in process without fuel: ${signal} ends it, exit ${code}, no process left`, () =>
      Effect.gen(function*() {
        const ended = yield* runAndSignal(
          ["run", guestPath("cli-command"), "--fuel", "unlimited", "--timeout", "unlimited", "--", "spin"],
          signal,
          /spinning\n/
        )
        assert.include(ended.stderr, "spinning\n", "the guest did not start")
        assert.strictEqual(ended.signal, null, `killed by ${ended.signal}: it did not stop on ${signal}\n${ended.stderr}`)
        assert.strictEqual(ended.code, code, ended.stderr)
        yield* noneLeft(ended)
      }))
  }

  it.live("a guest looping with fuel (1e12 units, no timeout): SIGINT ends it, exit 130", () =>
    Effect.gen(function*() {
      const ended = yield* runAndSignal(["run", guestPath("spinner"), "--call", "handle-message", "--input", "loop", "--fuel", "1e12", "--timeout", "unlimited"], "SIGINT")
      assert.strictEqual(ended.signal, null, ended.stderr)
      assert.strictEqual(ended.code, 130, ended.stderr)
    }))

  it.live.skipIf(!linux)("the CLI killed (SIGKILL) while a WASI command loops in process: its child ends too", () =>
    Effect.gen(function*() {
      const ended = yield* runAndSignal(
        ["run", guestPath("cli-command"), "--fuel", "unlimited", "--timeout", "unlimited", "--", "spin"],
        "SIGKILL",
        /spinning\n/
      )
      assert.include(ended.stderr, "spinning\n", "the guest did not start")
      assert.strictEqual(ended.signal, "SIGKILL")
      yield* noneLeft(ended)
    }))
})
