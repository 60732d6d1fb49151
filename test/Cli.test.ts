/**
 * The `airssys-wasm` CLI, run as a child process (Node 24 from node_modules) against the guests built
 * in build/guests: stdout, stderr and exit codes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { execFile } from "node:child_process"
import { afterAll } from "vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Flags from "../src/cli/flags.ts"
import { withProgress } from "../src/cli/progress.ts"
import { guestPath } from "./fixtures.ts"

const root = path.resolve(import.meta.dirname, "..")
const node = path.join(root, "node_modules", ".bin", "node")
const main = path.join(root, "src", "cli", "main.ts")

// One cache for the whole file: the first load of a guest transpiles it, later processes reuse it.
const work = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-cli-"))
const cacheDir = path.join(work, "cache")
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const cli = (args: ReadonlyArray<string>, options?: { readonly stdin?: string }) =>
  Effect.callback<Result>((resume) => {
    const child = execFile(
      node,
      [main, ...args],
      { cwd: work, env: { ...process.env, AIRSSYS_WASM_CACHE_DIR: cacheDir, NO_COLOR: "1" }, encoding: "utf8" },
      (error, stdout, stderr) =>
        resume(Effect.succeed({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr }))
    )
    child.stdin?.end(options?.stdin ?? "")
  })

const file = (name: string, content: string | Uint8Array): string => {
  const target = path.join(work, name)
  fs.writeFileSync(target, content)
  return target
}

const u32 = (n: number): Uint8Array => {
  const bytes = new Uint8Array(4)
  new DataView(bytes.buffer).setUint32(0, n, true)
  return bytes
}

/** A cap-storage command: an op byte, then length-prefixed fields, then the rest. */
const storageCommand = (op: string, fields: ReadonlyArray<string>, rest = ""): string =>
  op + fields.map((field) => String.fromCharCode(field.length) + field).join("") + rest

// A first load on a busy machine may take over a second and print the progress line; binaryen warns
// about names sections it does not know. Neither is what these tests look at.
const incidental = /^(?:warning: unknown name subsection|airssys-wasm: loading .*…$|airssys-wasm: (?:loaded|failed to load) .* in [\d.]+ s$)/

/** The stderr lines, without the incidental ones. */
const errorLines = (stderr: string): Array<string> =>
  stderr.split("\n").filter((line) => line !== "" && !incidental.test(line))

describe("airssys-wasm run", { timeout: 180_000 }, () => {
  it.effect("echo: the guest's ok bytes on stdout, exit 0", () =>
    Effect.gen(function*() {
      const result = yield* cli(["run", guestPath("echo"), "--input", "hello, guest"])
      assert.strictEqual(result.code, 0)
      assert.strictEqual(result.stdout, "hello, guest")
      assert.deepStrictEqual(errorLines(result.stderr), [])
    }))

  it.effect("--input @file and --input - (stdin)", () =>
    Effect.gen(function*() {
      const fromFile = yield* cli(["run", guestPath("echo"), "--input", `@${file("input.txt", "from a file")}`])
      assert.strictEqual(fromFile.stdout, "from a file")
      const fromStdin = yield* cli(["run", guestPath("echo"), "--input", "-"], { stdin: "from stdin" })
      assert.strictEqual(fromStdin.stdout, "from stdin")
      assert.strictEqual(fromStdin.code, 0)
    }))

  it.effect("faulty: a trap and a guest err are one line on stderr, exit 1", () =>
    Effect.gen(function*() {
      const trap = yield* cli(["run", guestPath("faulty"), "--input", "trap"])
      assert.strictEqual(trap.code, 1)
      assert.strictEqual(trap.stdout, "")
      assert.deepStrictEqual(errorLines(trap.stderr), ["airssys-wasm: guest trapped in process: unreachable"])

      const err = yield* cli(["run", guestPath("faulty"), "--input", "err:out of beans"])
      assert.strictEqual(err.code, 1)
      assert.deepStrictEqual(errorLines(err.stderr), ["airssys-wasm: guest returned an error from process: out of beans"])
    }))

  it.effect("loop with --fuel: stopped by its fuel, exit 1", () =>
    Effect.gen(function*() {
      const result = yield* cli(["run", guestPath("loop"), "--fuel", "100000"])
      assert.strictEqual(result.code, 1)
      assert.deepStrictEqual(errorLines(result.stderr), [
        "airssys-wasm: limit exceeded: fuel limit of 100000 units exceeded calling process"
      ])
    }))

  it.effect("loop with --isolate and --timeout: its worker is terminated, exit 1", () =>
    Effect.gen(function*() {
      const result = yield* cli(["run", guestPath("loop"), "--isolate", "--timeout", "300ms", "--fuel", "unlimited"])
      assert.strictEqual(result.code, 1)
      assert.deepStrictEqual(errorLines(result.stderr), [
        "airssys-wasm: limit exceeded: timeout limit of 300 ms exceeded calling process"
      ])
      // A guest importing more than logging cannot run in a worker: refused before it runs.
      const storage = yield* cli(["run", guestPath("cap-storage"), "--isolate"])
      assert.strictEqual(storage.code, 2)
      assert.deepStrictEqual(errorLines(storage.stderr), [
        "airssys-wasm: --isolate: the component imports airssys:component/storage, but a worker-isolated guest can only call logging"
      ])
    }))

  it.effect("grow with --memory: growth past the cap is refused, within it allowed", () =>
    Effect.gen(function*() {
      const fourPages = `@${file("four-pages.bin", u32(4))}`
      const capped = yield* cli(["run", guestPath("grow"), "--memory", "128KiB", "--input", fourPages])
      assert.strictEqual(capped.code, 1)
      assert.deepStrictEqual(errorLines(capped.stderr), ["airssys-wasm: guest returned an error from process: memory.grow refused"])

      const roomy = yield* cli(["run", guestPath("grow"), "--memory", "1MiB", "--input", fourPages])
      assert.strictEqual(roomy.code, 0)
      // ok(u32 LE new page count): 1 initial page + 4.
      assert.deepStrictEqual(Array.from(Buffer.from(roomy.stdout, "latin1")), [5, 0, 0, 0])
    }))

  it.effect("deny by default: host-calls' send is refused and reported until --allow-messaging grants it", () =>
    Effect.gen(function*() {
      const denied = yield* cli(["run", guestPath("host-calls"), "--input", "ping"])
      assert.strictEqual(denied.code, 1)
      const lines = errorLines(denied.stderr)
      assert.include(lines, "[host-calls info] ping")
      assert.isTrue(lines.some((line) => line.startsWith("airssys-wasm: denied Messaging") && line.includes("--allow-messaging")))
      assert.isTrue(lines.some((line) => line.includes("capability denied: host-calls holds no Messaging grant")))

      const granted = yield* cli(["run", guestPath("host-calls"), "--input", "ping", "--allow-messaging", "cli"])
      assert.strictEqual(granted.code, 0)
      // handle-message replies with its payload; the send to its sender (the CLI) is reported.
      assert.strictEqual(granted.stdout, "ping")
      assert.include(errorLines(granted.stderr), "message from host-calls → cli: 4 bytes \"ping\"")
    }))

  it.effect("storage: only the granted namespace, kept across runs in a SQLite file, denials in the audit log", () =>
    Effect.gen(function*() {
      const db = path.join(work, "state.db")
      const audit = path.join(work, "storage-audit.jsonl")
      const base = ["run", guestPath("cap-storage"), "--id", "plugin", "--allow-storage", "plugin", "--storage", db, "--audit", audit]
      const set = yield* cli([...base, "--input", storageCommand("s", ["plugin", "greeting"], "hello from run 1")])
      assert.strictEqual(set.code, 0)
      const get = yield* cli([...base, "--input", storageCommand("g", ["plugin", "greeting"])])
      assert.strictEqual(get.code, 0)
      assert.strictEqual(get.stdout, "hello from run 1")

      const escape = yield* cli([...base, "--input", storageCommand("g", ["other", "greeting"])])
      assert.strictEqual(escape.code, 1)
      assert.isTrue(errorLines(escape.stderr).some((line) => line.startsWith("airssys-wasm: denied Storage \"other\" to plugin")))

      const log = fs.readFileSync(audit, "utf8").trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>)
      assert.deepStrictEqual(
        log.filter((event) => event.kind === "capability" && event.detail !== "link").map((event) => `${event.resource} ${event.decision}`),
        ["plugin granted", "plugin granted", "other denied"]
      )
      const verified = yield* cli(["audit", "verify", audit])
      assert.strictEqual(verified.code, 0)
      assert.match(verified.stdout, new RegExp(`^ok: .*: ${log.length} events, chain intact`))
    }))

  it.effect("filesystem: --allow-read grants a glob under the working directory, nothing else; stdout lines go to stderr", () =>
    Effect.gen(function*() {
      fs.mkdirSync(path.join(work, "data"), { recursive: true })
      file("data/note.txt", "readable")
      file("private.txt", "not for guests")
      const base = ["run", guestPath("fs-probe"), "--allow-read", "data/**"]
      const read = yield* cli([...base, "--input", "read data/note.txt"])
      assert.strictEqual(read.code, 0, read.stderr)
      assert.strictEqual(read.stdout, "readable")

      const outside = yield* cli([...base, "--input", "read private.txt"])
      assert.strictEqual(outside.code, 1)
      assert.include(errorLines(outside.stderr), `airssys-wasm: denied FileRead "${fs.realpathSync(work)}/private.txt" to fs-probe (grant it with --allow-read GLOB)`)
      const write = yield* cli([...base, "--input", "write data/note.txt overwritten"])
      assert.strictEqual(write.code, 1)
      assert.strictEqual(fs.readFileSync(path.join(work, "data", "note.txt"), "utf8"), "readable")

      const printed = yield* cli([...base, "--input", "print hello"])
      assert.strictEqual(printed.code, 0)
      assert.include(errorLines(printed.stderr), "[fs-probe stdout] hello")
    }))

  it.effect("named preopens: --dir-ro reads only, --dir reads and writes, each audited; no --dir and no grant, no filesystem", () =>
    Effect.gen(function*() {
      fs.mkdirSync(path.join(work, "shared"), { recursive: true })
      fs.mkdirSync(path.join(work, "scratch"), { recursive: true })
      file("shared/note.txt", "shared text")
      const audit = path.join(work, "dirs-audit.jsonl")
      const probe = (flags: ReadonlyArray<string>, input: string) =>
        cli(["run", guestPath("fs-probe"), ...flags, "--audit", audit, "--input", input])

      const read = yield* probe(["--dir-ro", "shared::shared"], "read note.txt")
      assert.strictEqual(read.code, 0, read.stderr)
      assert.strictEqual(read.stdout, "shared text")
      const refused = yield* probe(["--dir-ro", "shared::shared"], "write note.txt overwritten")
      assert.strictEqual(refused.code, 1)
      assert.include(errorLines(refused.stderr), `airssys-wasm: denied FileWrite "${fs.realpathSync(work)}/shared/note.txt" to fs-probe (grant it with --allow-write GLOB)`)
      assert.strictEqual(fs.readFileSync(path.join(work, "shared", "note.txt"), "utf8"), "shared text")

      const written = yield* probe(["--dir", `${path.join(work, "scratch")}::out`], "write new.txt made by the guest")
      assert.strictEqual(written.code, 0, written.stderr)
      assert.strictEqual(fs.readFileSync(path.join(work, "scratch", "new.txt"), "utf8"), "made by the guest")
      // Outside the preopen is outside, whatever the flags.
      const escape = yield* probe(["--dir", "scratch"], "read ../shared/note.txt")
      assert.strictEqual(escape.code, 1)
      assert.include(errorLines(escape.stderr), "airssys-wasm: guest returned an error from process: not-permitted")

      const log = fs.readFileSync(audit, "utf8").trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>)
      const decisions = log.filter((event) => event.kind === "capability" && String(event.capability).startsWith("File"))
        .map((event) => `${event.decision} ${event.capability} ${path.relative(fs.realpathSync(work), String(event.resource))}`)
      assert.includeMembers(decisions, ["granted FileRead shared/note.txt", "denied FileWrite shared/note.txt", "granted FileWrite scratch/new.txt"])

      // Deny by default: no --dir and no file grant, no preopen at all.
      const none = yield* cli(["run", guestPath("fs-probe"), "--input", "read shared/note.txt"])
      assert.strictEqual(none.code, 1)
      assert.include(errorLines(none.stderr), "airssys-wasm: guest returned an error from process: no preopened directory")

      for (const [flags, expected] of [
        [["--dir", "no-such-dir"], `airssys-wasm: --dir "no-such-dir": "no-such-dir" is not a directory`],
        [["--dir-ro", "shared/note.txt::x"], `airssys-wasm: --dir-ro "shared/note.txt::x": "shared/note.txt" is not a directory`],
        [["--dir", "shared::"], `airssys-wasm: invalid --dir "shared::": expected HOST[::GUEST]`]
      ] as const) {
        const bad = yield* probe(flags, "read note.txt")
        assert.strictEqual(bad.code, 2, flags.join(" "))
        assert.isTrue(errorLines(bad.stderr).some((line) => line.startsWith(expected)), bad.stderr)
      }
    }))

  it.effect("--allow-net: names, IPv4, bracketed or bare IPv6 and CIDR ranges, with or without a port", () =>
    Effect.gen(function*() {
      const granted = yield* Flags.grants(
        { read: [], write: [], messaging: [], storage: [], net: ["api.example.com:443", "127.0.0.1:8080", "[::1]:9000", "[::1]", "::1", "fc00::/7", "10.0.0.0/8:80"] },
        "/"
      )
      assert.deepStrictEqual(
        granted.map((c) => c._tag === "NetworkOutbound" ? `${c.host} ${c.port ?? "any"}` : c._tag),
        ["api.example.com 443", "127.0.0.1 8080", "[::1] 9000", "[::1] any", "::1 any", "fc00::/7 any", "10.0.0.0/8 80"]
      )
    }))

  it.effect("bad flags and files: one line each, exit 2, nothing run", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        [["--memory", "64XB"], "airssys-wasm: invalid --memory \"64XB\": expected a size such as 64MiB"],
        [["--fuel", "-1"], "airssys-wasm: invalid --fuel \"-1\": expected a whole number of fuel units"],
        [["--fuel", "lots"], "airssys-wasm: invalid --fuel \"lots\""],
        [["--timeout", "soon"], "airssys-wasm: invalid --timeout \"soon\": expected a positive duration"],
        [["--allow-read", "/data/../secrets"], "airssys-wasm: invalid --allow-read \"/data/../secrets\": glob must not have"],
        [["--allow-net", "https://example.com"], "airssys-wasm: invalid --allow-net \"https://example.com\": host must be a host name without a scheme"],
        [["--allow-messaging", "a.**.b"], "airssys-wasm: invalid --allow-messaging \"a.**.b\""],
        [["--input", "@no-such-input.bin"], "airssys-wasm: cannot read --input file \"no-such-input.bin\": no such file"],
        [["--call", "nope"], "airssys-wasm: nope is not an export of the component; it exports process"],
        [["--bogus"], "airssys-wasm: Unrecognized flag: --bogus"]
      ]
      const results = yield* Effect.forEach(cases, ([flags]) =>
        cli(["run", guestPath("echo"), ...flags, ...(flags.includes("--input") ? [] : ["--input", "x"])]), { concurrency: 3 })
      for (const [i, [flags, expected]] of cases.entries()) {
        const result = results[i]!
        assert.strictEqual(result.code, 2, flags.join(" "))
        assert.strictEqual(result.stdout, "", flags.join(" "))
        const lines = errorLines(result.stderr)
        assert.strictEqual(lines.length, 1, `${flags.join(" ")}: ${result.stderr}`)
        assert.isTrue(lines[0]!.startsWith(expected), `${flags.join(" ")}: ${lines[0]}`)
      }
    }))

  it.effect("missing file, not wasm, a core module, no argument, unusable --storage / --audit: exit 2", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        [["run", "missing.wasm"], "airssys-wasm: no such file: missing.wasm"],
        [["run", file("notes.txt", "just text")], "airssys-wasm: cannot load component (NotWasm)"],
        [["run", guestPath("core-module")], "airssys-wasm: cannot load component (CoreModule)"],
        [["inspect", "missing.wasm"], "airssys-wasm: no such file: missing.wasm"],
        [["run"], "airssys-wasm: Missing required argument: component"],
        [
          ["run", guestPath("echo"), "--storage", path.join(work, "no-such-dir", "state.db")],
          `airssys-wasm: --storage ${path.join(work, "no-such-dir", "state.db")}: storage unavailable`
        ],
        [["run", guestPath("echo"), "--audit", path.join(work, "no-such-dir", "audit.jsonl")], "airssys-wasm: --audit: cannot open"]
      ]
      const results = yield* Effect.forEach(cases, ([args]) => cli(args), { concurrency: 3 })
      for (const [i, [args, expected]] of cases.entries()) {
        const result = results[i]!
        assert.strictEqual(result.code, 2, args.join(" "))
        const lines = errorLines(result.stderr)
        assert.strictEqual(lines.length, 1, `${args.join(" ")}: ${result.stderr}`)
        assert.isTrue(lines[0]!.startsWith(expected), `${args.join(" ")}: ${lines[0]}`)
      }
    }))

  it.effect("lifecycle: init, handle-message, shutdown — the counter starts from init's config", () =>
    Effect.gen(function*() {
      const result = yield* cli(["run", guestPath("lifecycle"), "--input", "tick"])
      assert.strictEqual(result.code, 0)
      // init(empty config) sets the counter to 0; one message makes it 1 (u32 LE).
      assert.deepStrictEqual(Array.from(Buffer.from(result.stdout, "latin1")), [1, 0, 0, 0])

      // --call names any export taking bytes: the guest's own init refuses "fail".
      const init = yield* cli(["run", guestPath("lifecycle"), "--call", "airssys:component/lifecycle#init", "--input", "fail"])
      assert.strictEqual(init.code, 1)
      assert.deepStrictEqual(errorLines(init.stderr), [
        "airssys-wasm: guest returned an error from airssys:component/lifecycle#init: init refused"
      ])
    }))
})

describe("airssys-wasm inspect", { timeout: 180_000 }, () => {
  it.effect("host-calls: its world and the capabilities it needs", () =>
    Effect.gen(function*() {
      const result = yield* cli(["inspect", guestPath("host-calls")])
      assert.strictEqual(result.code, 0)
      assert.match(result.stdout, /airssys:component\/logging@0\.1\.0 {2}→ ungated/)
      assert.match(result.stdout, /airssys:component\/messaging@0\.1\.0 {2}→ Messaging/)
      assert.match(result.stdout, /airssys:component\/types@0\.1\.0 {2}→ types only/)
      assert.match(result.stdout, /exports:\n {2}airssys:component\/handler@0\.1\.0\n/)
      assert.match(result.stdout, /capabilities needed:\n {2}Messaging +--allow-messaging PATTERN\n$/)
    }))

  it.effect("--json: imports with capability kinds, exports with signatures", () =>
    Effect.gen(function*() {
      const storage = JSON.parse((yield* cli(["inspect", guestPath("cap-storage"), "--json"])).stdout)
      assert.deepStrictEqual(storage.capabilities, [{ kind: "Storage", flag: "--allow-storage NAMESPACE" }])
      assert.deepStrictEqual(storage.exports, [
        { name: "process", kind: "function", signature: "func(input: list<u8>) -> result<list<u8>, string>" }
      ])
      const echo = JSON.parse((yield* cli(["inspect", guestPath("echo"), "--json"])).stdout)
      assert.deepStrictEqual(echo.imports, [])
      assert.deepStrictEqual(echo.capabilities, [])
      // A component of another world is described too (run would refuse it).
      const other = JSON.parse((yield* cli(["inspect", guestPath("other-world"), "--json"])).stdout)
      assert.isTrue(other.exports.length > 0)
    }))
})

describe("airssys-wasm audit verify", { timeout: 180_000 }, () => {
  it.effect("a good log verifies; an edited line is reported with its number, exit 1", () =>
    Effect.gen(function*() {
      const log = path.join(work, "denied-audit.jsonl")
      // Three runs of a guest whose send is denied: each appends to the same chain.
      for (let i = 0; i < 3; i++) yield* cli(["run", guestPath("host-calls"), "--input", `ping ${i}`, "--audit", log])
      const good = yield* cli(["audit", "verify", log])
      assert.strictEqual(good.code, 0)
      const lines = fs.readFileSync(log, "utf8").split("\n").filter((line) => line !== "")
      assert.isAtLeast(lines.length, 3)
      assert.match(good.stdout, new RegExp(`^ok: .*: ${lines.length} events, chain intact, head #${lines.length} [0-9a-f]{64}\\n$`))

      // Turn a denial into a grant on line 2.
      const tampered = path.join(work, "tampered-audit.jsonl")
      const edited = lines.map((line, i) => i === 1 ? line.replace(/"decision":"denied"/, "\"decision\":\"granted\"") : line)
      assert.notStrictEqual(edited[1], lines[1])
      fs.writeFileSync(tampered, edited.join("\n") + "\n")
      const bad = yield* cli(["audit", "verify", tampered])
      assert.strictEqual(bad.code, 1)
      assert.strictEqual(bad.stdout, "")
      assert.deepStrictEqual(errorLines(bad.stderr).length, 1)
      assert.match(errorLines(bad.stderr)[0]!, /^airssys-wasm: audit log does not verify: line 2: Edited: /)

      // A deleted line breaks the sequence at the line after it.
      const cut = path.join(work, "cut-audit.jsonl")
      fs.writeFileSync(cut, [lines[0], ...lines.slice(2)].join("\n") + "\n")
      const gap = yield* cli(["audit", "verify", cut])
      assert.strictEqual(gap.code, 1)
      assert.match(gap.stderr, /line 2: OutOfSequence/)
    }))

  it.effect("a missing log or a bad --expect is a usage error", () =>
    Effect.gen(function*() {
      const missing = yield* cli(["audit", "verify", "nowhere.jsonl"])
      assert.strictEqual(missing.code, 2)
      assert.deepStrictEqual(errorLines(missing.stderr), ["airssys-wasm: no such file: nowhere.jsonl"])
      const expect = yield* cli(["audit", "verify", file("empty.jsonl", ""), "--expect", "12"])
      assert.strictEqual(expect.code, 2)
      assert.match(errorLines(expect.stderr)[0]!, /^airssys-wasm: invalid --expect "12": expected SEQUENCE:HASH/)
    }))
})

describe("progress line", () => {
  const recorder = () => {
    const lines: Array<string> = []
    return { lines, report: (line: string) => Effect.sync(() => void lines.push(line)) }
  }

  it.effect("a step over 1 s prints a line, then how long it took", () =>
    Effect.gen(function*() {
      const { lines, report } = recorder()
      const fiber = yield* Effect.forkChild(
        withProgress(Effect.sleep("3 seconds"), { message: "loading big.wasm…", done: (ms) => `loaded in ${ms} ms`, report })
      )
      yield* TestClock.adjust("999 millis")
      assert.deepStrictEqual(lines, [])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(lines, ["loading big.wasm…"])
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(lines, ["loading big.wasm…", "loaded in 3000 ms"])
    }))

  it.effect("a quick step prints nothing, also after the reporter's time has passed", () =>
    Effect.gen(function*() {
      const { lines, report } = recorder()
      const fiber = yield* Effect.forkChild(
        withProgress(Effect.sleep("500 millis"), { message: "loading…", done: () => "done", report })
      )
      yield* TestClock.adjust("500 millis")
      yield* Fiber.join(fiber)
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(lines, [])
    }))

  it.effect("a failing slow step still closes its progress line and keeps its error", () =>
    Effect.gen(function*() {
      const { lines, report } = recorder()
      const fiber = yield* Effect.forkChild(
        withProgress(Effect.sleep("2 seconds").pipe(Effect.andThen(Effect.fail("broken"))), {
          message: "loading…",
          done: (ms, succeeded) => `${succeeded ? "done" : "gave up"} after ${ms} ms`,
          report
        }).pipe(Effect.flip)
      )
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(yield* Fiber.join(fiber), "broken")
      assert.deepStrictEqual(lines, ["loading…", "gave up after 2000 ms"])
    }))
})

describe("run --observe", () => {
  it.live("serves the observer during and after the call (audit with the denial, /metrics) until interrupted", () =>
    Effect.gen(function*() {
      const { spawn } = yield* Effect.promise(() => import("node:child_process"))
      // Killed when the test ends, however it ends: the process serves until interrupted.
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn(node, [main, "run", guestPath("host-calls"), "--input", "ping", "--observe"], {
            cwd: work,
            env: { ...process.env, AIRSSYS_WASM_CACHE_DIR: cacheDir, NO_COLOR: "1" }
          })
        ),
        (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
      )
      let stderr = ""
      child.stderr.on("data", (chunk) => (stderr += chunk))
      const url = yield* Effect.promise(() =>
        new Promise<string>((resolve, reject) => {
          const look = () => {
            const found = /observer at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr)
            if (found !== null && stderr.includes("the call failed")) resolve(found[1]!)
          }
          child.stderr.on("data", look)
          child.once("exit", () => reject(new Error(`exited early: ${stderr}`)))
        })
      )
      const audit = yield* Effect.promise(() => fetch(new URL("/api/audit", url)).then((r) => r.json()))
      const denied = (audit as { events: Array<{ decision?: string; capability?: string }> }).events.filter((e) => e.decision === "denied")
      assert.isTrue(denied.some((e) => e.capability === "Messaging"))
      assert.strictEqual((audit as { verification: { state: string } }).verification.state, "verified")
      // The Prometheus endpoint answers (what it lists depends on what this process did: a cached
      // component is not transpiled, so it may list nothing).
      const metrics = yield* Effect.promise(() => fetch(new URL("/metrics", url)))
      assert.strictEqual(metrics.status, 200)
      assert.match(metrics.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/)
      const code = yield* Effect.promise(() =>
        new Promise<number | null>((resolve) => {
          child.once("exit", (exitCode, signal) => resolve(exitCode ?? (signal === null ? null : 128)))
          child.kill("SIGINT")
        })
      )
      assert.notStrictEqual(code, 0)
      assert.notStrictEqual(code, null)
    }).pipe(Effect.scoped))
  it.effect("--observe=PORT must be a port", () =>
    Effect.gen(function*() {
      const bad = yield* cli(["run", guestPath("echo"), "--observe=http"])
      assert.strictEqual(bad.code, 2)
      assert.include(bad.stderr, "invalid --observe \"http\": expected a port number")
    }))
})
