/**
 * `airssys-wasm run` as a WASI runtime, run as a child process against real commands: the WAT command
 * `guests/cli-command.wat` and, when clang with wasi-libc is installed, the C command
 * `guests/c/cli-probe.c` (built here, made a component with jco's preview1 command adapter). Byte-exact
 * stdout and stderr, exit codes, arguments after `--`, `--env`, `run` found without `--call`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { guestPath } from "./fixtures.ts"

const root = path.resolve(import.meta.dirname, "..")
const node = path.join(root, "node_modules", ".bin", "node")
const main = path.join(root, "src", "cli", "main.ts")

const work = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-cli-wasi-"))
const cacheDir = path.join(work, "cache")
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

interface Result {
  readonly code: number
  readonly stdout: Buffer
  readonly stderr: Buffer
}

const cli = (args: ReadonlyArray<string>, options?: { readonly stdin?: Uint8Array; readonly env?: Record<string, string> }) =>
  Effect.callback<Result>((resume) => {
    const child = execFile(
      node,
      [main, ...args],
      {
        cwd: work,
        env: { ...process.env, ...options?.env, AIRSSYS_WASM_CACHE_DIR: cacheDir, NO_COLOR: "1" },
        encoding: "buffer"
      },
      (error, stdout, stderr) =>
        resume(Effect.succeed({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr }))
    )
    child.stdin?.end(options?.stdin ?? new Uint8Array(0))
  })

// What the CLI itself adds on stderr (a slow first load's progress, binaryen's warnings): not the guest's.
const ownLine = /^(?:warning: unknown name subsection|airssys-wasm: )/

/** stderr without the CLI's own lines: the guest's bytes, exactly. */
const guestStderr = (stderr: Buffer): Buffer => {
  const kept: Array<Buffer> = []
  let start = 0
  while (start < stderr.length) {
    const end = stderr.indexOf(10, start)
    const line = stderr.subarray(start, end < 0 ? stderr.length : end + 1)
    if (!ownLine.test(line.toString("latin1"))) kept.push(line)
    start = end < 0 ? stderr.length : end + 1
  }
  return Buffer.concat(kept)
}

const command = guestPath("cli-command")

describe("airssys-wasm run, a WASI command", { timeout: 180_000 }, () => {
  it.effect("run is found without --call; arguments after --, --env NAME=VALUE and --env NAME; stdout, stderr and stdin byte for byte; exit 0", () =>
    Effect.gen(function*() {
      const stdin = Buffer.from([0x68, 0x69, 0x00, 0xff, 0x0a, 0x80])
      const result = yield* cli(
        ["run", command, "--env", "GREETING=hello world", "--env", "FROM_HOST", "--env", "UNSET_ON_HOST", "--", "alpha", "-x", "--help"],
        { stdin, env: { FROM_HOST: "host value", NOT_PASSED: "secret" } }
      )
      assert.strictEqual(result.code, 0)
      const expected = Buffer.concat([
        Buffer.from(`${command}\nalpha\n-x\n--help\nGREETING=hello world\nFROM_HOST=host value\n`),
        stdin
      ])
      assert.deepStrictEqual(result.stdout, expected)
      assert.deepStrictEqual(guestStderr(result.stderr), Buffer.from([0x65, 0x72, 0x72, 0xff, 0x00, 0x0a]))
      assert.notInclude(result.stdout.toString("latin1"), "secret")
    }))

  it.effect("the process exits with the guest's exit code, and the CLI adds nothing to say so", () =>
    Effect.gen(function*() {
      const result = yield* cli(["run", command, "--", "exit", "33"])
      assert.strictEqual(result.code, 33)
      assert.deepStrictEqual(guestStderr(result.stderr), Buffer.from([0x65, 0x72, 0x72, 0xff, 0x00, 0x0a]))
      assert.notInclude(result.stderr.toString("latin1"), "exited")
      const zero = yield* cli(["run", command, "--", "exit", "0"])
      assert.strictEqual(zero.code, 0)
    }))

  it.effect("--input is a command's stdin, instead of the process's", () =>
    Effect.gen(function*() {
      const result = yield* cli(["run", command, "--input", "from the flag"], { stdin: Buffer.from("from the pipe") })
      assert.strictEqual(result.code, 0)
      assert.strictEqual(result.stdout.toString("utf8"), `${command}\nfrom the flag`)
    }))

  it.effect("--stdio log: the guest's output becomes tagged lines on stderr; stdout stays empty", () =>
    Effect.gen(function*() {
      const result = yield* cli(["run", command, "--stdio", "log", "--", "one"])
      assert.strictEqual(result.code, 0)
      assert.strictEqual(result.stdout.length, 0)
      const lines = result.stderr.toString("utf8").split("\n")
      assert.includeMembers(lines, [`[cli-command stdout] ${command}`, "[cli-command stdout] one"])
    }))

  it.effect("without a grant a processor sees no environment; denied reads are reported; --env grants them", () =>
    Effect.gen(function*() {
      const denied = yield* cli(["run", guestPath("cli-probe"), "--input", "e"], { env: { SECRET: "host only" } })
      assert.strictEqual(denied.code, 0)
      assert.strictEqual(denied.stdout.length, 0)
      assert.include(denied.stderr.toString("utf8"), "airssys-wasm: denied Environment \"variables\" to cli-probe")
      const granted = yield* cli(["run", guestPath("cli-probe"), "--input", "e", "--env", "A=1"])
      assert.strictEqual(granted.stdout.toString("utf8"), "A=1\n")
    }))

  it.effect("a bad --stdio or --env is a usage error (exit 2)", () =>
    Effect.gen(function*() {
      const stdio = yield* cli(["run", command, "--stdio", "tty"])
      assert.strictEqual(stdio.code, 2)
      assert.include(stdio.stderr.toString("utf8"), "--stdio")
      const env = yield* cli(["run", command, "--env", "=x"])
      assert.strictEqual(env.code, 2)
      assert.include(env.stderr.toString("utf8"), "--env")
    }))
})

// The C command: built here when clang can target wasm32-wasi (Debian: clang lld wasi-libc
// libclang-rt-14-dev-wasm32); with CI=true a missing toolchain is a failure, not a skip.
const install = "apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32"
const cSource = path.join(root, "guests", "c", "cli-probe.c")
const cCore = path.join(work, "cli-probe.core.wasm")
const compiled = spawnSync("clang", ["--target=wasm32-wasi", "-O2", "-o", cCore, cSource], { encoding: "utf8" })
const haveC = compiled.status === 0
if (!haveC) {
  const why = compiled.error?.message ?? compiled.stderr.split("\n")[0]
  if (process.env.CI === "true") throw new Error(`C toolchain missing in CI (${why}): ${install}`)
  console.warn(`skipped: the C command tests of test/CliWasi.test.ts (clang for wasm32-wasi: ${why}); install with: ${install}`)
}

describe.skipIf(!haveC)("airssys-wasm run, a C command (clang + wasi-libc + jco's command adapter)", { timeout: 180_000 }, () => {
  const componentFile = path.join(work, "cli-probe.wasm")
  const build = Effect.promise(async () => {
    if (fs.existsSync(componentFile)) return componentFile
    const jco = await import("@bytecodealliance/jco")
    const adapter = fs.readFileSync(new URL(jco.preview1AdapterCommandPath()))
    const component = await jco.componentNew(fs.readFileSync(cCore), [["wasi_snapshot_preview1", adapter]])
    fs.writeFileSync(componentFile, component)
    return componentFile
  })

  // `--fuel unlimited` until code run at instantiation gets its own fuel (issue 12, item 1).
  it.effect("args, env, stdio bytes, poll on stdio, stdin, exit 0", () =>
    Effect.gen(function*() {
      const file = yield* build
      const result = yield* cli(["run", file, "--fuel", "unlimited", "--env", "LANG=C", "--", "first", "second arg"], {
        stdin: Buffer.from("twelve bytes")
      })
      assert.strictEqual(result.code, 0, result.stderr.toString("utf8"))
      assert.strictEqual(
        result.stdout.toString("utf8"),
        `argc 3\narg 0: ${file}\narg 1: first\narg 2: second arg\nenv LANG=C\npoll 2 stdin readable stdout writable\nstdin 12 bytes\n`
      )
      assert.strictEqual(guestStderr(result.stderr).toString("utf8"), "c stderr\n")
    }))

  it.effect("exit(33) is the process's exit code 33 (proc_exit's own code, not the adapter's 1)", () =>
    Effect.gen(function*() {
      const file = yield* build
      const result = yield* cli(["run", file, "--fuel", "unlimited", "--", "exit", "33"])
      assert.strictEqual(result.code, 33, result.stderr.toString("utf8"))
    }))

  it.effect("--stdio log: printf in pieces still makes whole lines", () =>
    Effect.gen(function*() {
      const file = yield* build
      const result = yield* cli(["run", file, "--fuel", "unlimited", "--stdio", "log", "--", "x"])
      assert.strictEqual(result.code, 0)
      const lines = result.stderr.toString("utf8").split("\n")
      assert.includeMembers(lines, ["[cli-probe stdout] arg 1: x", "[cli-probe stderr] c stderr"])
    }))
})
