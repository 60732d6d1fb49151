/**
 * The cluster demo (`npm run cluster`, demo/cluster.ts) as a user runs it: three runner processes and a
 * client over one SQLite file. It deploys the pipeline, shows where each actor lives, sends records
 * through it, SIGKILLs a runner, shows that runner's actors back on the others, and stops cleanly; its
 * output says so. No runner outlives it however it ends: a full run, a Ctrl-C (SIGINT to the demo alone:
 * its finalizers stop them) and a SIGKILL of the demo (each runner stops when its stdin closes).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const node = path.join(root, "node_modules", ".bin", "node")
const script = path.join(root, "demo", "cluster.ts")
const compileCache = { ...process.env, NODE_COMPILE_CACHE: path.join(os.tmpdir(), "airssys-wasm-node-compile-cache") }

interface Demo {
  readonly output: () => string
  readonly kill: (signal: NodeJS.Signals) => void
  /** Its exit code, or the signal that ended it. */
  readonly exited: Effect.Effect<number | string>
}

/** Starts the demo; `until` resolves when its output matches (or it ended). */
const start = (env: Record<string, string> = {}) =>
  Effect.acquireRelease(
    Effect.sync((): Demo => {
      const child = spawn(node, [script], { cwd: root, env: { ...compileCache, ...env }, stdio: ["ignore", "pipe", "pipe"] })
      let output = ""
      child.stdout.on("data", (chunk) => void (output += String(chunk)))
      child.stderr.on("data", (chunk) => void (output += String(chunk)))
      const exit = new Promise<number | string>((done) => child.once("exit", (code, signal) => done(code ?? signal ?? -1)))
      return { output: () => output, kill: (signal) => void child.kill(signal), exited: Effect.promise(() => exit) }
    }),
    (demo) => Effect.sync(() => demo.kill("SIGKILL"))
  )

/** Polls every 100 ms (up to `seconds`) until `done` holds; fails with `why` otherwise. */
const until = (done: () => boolean, why: () => string, seconds = 90) =>
  Effect.gen(function*() {
    for (let i = 0; i < seconds * 10; i++) {
      if (done()) return
      yield* Effect.sleep("100 millis")
    }
    assert.fail(why())
  })

/** Alive, and not a zombie waiting for its parent to reap it. */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return !(fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ").at(-1) ?? "").startsWith("Z")
  } catch {
    return false
  }
}
const runnerPids = (output: string) => [...output.matchAll(/^ {3}runner \d {2}127\.0\.0\.1:\d+ {2}pid (\d+)$/gm)].map((m) => Number(m[1]))
const directoryOf = (output: string) => path.dirname(/over one SQLite file, (.+)$/m.exec(output)?.[1] ?? "/nonexistent/x")

describe("the cluster demo (npm run cluster)", { timeout: 180_000 }, () => {
  it.live("three runners and a client: the pipeline spread over them, a runner SIGKILLed and its actors back, a clean stop, no process left", () =>
    Effect.gen(function*() {
      const demo = yield* start()
      const code = yield* demo.exited
      const output = demo.output()
      assert.strictEqual(code, 0, output)
      const pids = runnerPids(output)
      assert.strictEqual(pids.length, 3, output)
      assert.match(output, /^ {3}shards held: runner 1 \d+, runner 2 \d+, runner 3 \d+$/m)
      // Each stage placed on one of the three runners.
      for (const stage of ["ingestion", "validation", "processing", "storage"]) {
        assert.match(output, new RegExp(`^ {3}${stage} +on runner [123] \\(127\\.0\\.0\\.1:\\d+\\)$`, "m"))
      }
      assert.match(output, /^ {3}greeters {3}runner 1 \d+, runner 2 \d+, runner 3 \d+$/m)
      // Records cross the runners; a typed error from a guest on another runner reaches the client.
      assert.include(output, "\"  apple \" → stored 1:APPLE")
      assert.include(output, "\"kiwi\"     → stored 2:KIWI")
      assert.include(output, "\"Banana!\"  → refused: GuestError: rejected 3:Banana!")
      assert.include(output, "\"plum\"     → stored 4:PLUM")
      // The kill, a call that needs the dead runner failing typed at its timeout, the actors back.
      const victim = /^== 5\. SIGKILL runner (\d) \((.+) and (\d+) greeters\)/m.exec(output)
      assert.isNotNull(victim, output)
      assert.match(output, /answers at once: "hello, still here\?"/)
      assert.match(output, /^ {3}"fig" +→ refused: (RequestTimeout|GuestError): .*(timeout|within)/im)
      for (const stage of victim![2]!.split(", ")) {
        assert.match(output, new RegExp(`^ {3}${stage} +back on runner [123] \\d+\\.\\d s after the SIGKILL$`, "m"))
        assert.notMatch(output, new RegExp(`^ {3}${stage} +back on runner ${victim![1]}`, "m"))
      }
      assert.match(output, /^ {3}all \d+ actors of runner \d serve again on runner \d and runner \d: \d+\.\d s after the SIGKILL$/m)
      // The pipeline serves again, and storage kept what it stored before the kill.
      assert.match(output, /^ {3}"pear" +→ stored \d+:PEAR$/m)
      assert.match(output, /database holds \d records in storage namespace "pipeline": .*4=PLUM/)
      assert.match(output, /^ {3}runner \d and runner \d stopped on SIGTERM by themselves/m)
      for (const pid of pids) assert.isFalse(alive(pid), `runner pid ${pid} still runs`)
      assert.isFalse(fs.existsSync(directoryOf(output)), "the temporary folder is still there")
    }))

  it.live("Ctrl-C (SIGINT to the demo): its runners are stopped and its temporary folder removed", () =>
    Effect.gen(function*() {
      const demo = yield* start()
      yield* until(() => demo.output().includes("== 3."), () => `the demo did not get to step 3:\n${demo.output()}`)
      demo.kill("SIGINT")
      yield* demo.exited
      const output = demo.output()
      assert.include(output, "(interrupted: the runners stop, and the temporary folder goes)")
      const pids = runnerPids(output)
      assert.strictEqual(pids.length, 3, output)
      for (const pid of pids) assert.isFalse(alive(pid), `runner pid ${pid} still runs`)
      assert.isFalse(fs.existsSync(directoryOf(output)), "the temporary folder is still there")
    }))

  it.live("SIGKILL of the demo: each runner stops by itself when its stdin closes", () =>
    Effect.gen(function*() {
      const directory = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-cluster-demo-test-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(directory, { recursive: true, force: true })))
      const demo = yield* start({ AIRSSYS_DEMO_DIR: directory })
      yield* until(() => demo.output().includes("== 2."), () => `the demo did not get to step 2:\n${demo.output()}`)
      demo.kill("SIGKILL")
      yield* demo.exited
      const pids = runnerPids(demo.output())
      assert.strictEqual(pids.length, 3, demo.output())
      yield* until(() => pids.every((pid) => !alive(pid)), () => `runners still running: ${pids.filter(alive).join(", ")}`, 30)
    }).pipe(Effect.scoped))
})
