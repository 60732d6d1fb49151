/**
 * Runs the official WASI test suite's prebuilt wasm32-wasip1 tests (WebAssembly/wasi-testsuite, branch
 * `prod/testsuite-all`) through `airssys-wasm run`, or through `jco run` for reference. The suite stays
 * outside this repository: extract it anywhere and pass its path.
 *
 *   git clone -b prod/testsuite-all https://github.com/WebAssembly/wasi-testsuite /tmp/wasi-testsuite
 *   node scripts/wasi-testsuite.ts /tmp/wasi-testsuite [--runner airssys|jco] [--filter NAME] [--verbose] [--bare]
 *        [-- EXTRA RUN FLAGS, e.g. --fuel unlimited]
 *
 * Each test `.wasm` is made a command component (`jco new --wasi-command`, cached in the OS temp
 * directory) and run with its `.json` spec's args, env and dirs (`--dir HOST::GUEST`, the guest name
 * being the directory's name, as the suite's own runner does); its exit code and stdout are compared
 * with the spec. `*.cleanup` files the tests leave in their directories are removed before and after.
 */
import { spawnSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const here = path.dirname(new URL(import.meta.url).pathname)
const root = path.resolve(here, "..")
const jco = path.join(root, "node_modules/.bin/jco")
const cli = path.join(root, "src/cli/main.ts")

const argv = process.argv.slice(2)
const dash = argv.indexOf("--")
const own = dash < 0 ? argv : argv.slice(0, dash)
const extra = dash < 0 ? [] : argv.slice(dash + 1)
const option = (name: string) => {
  const i = own.indexOf(name)
  return i < 0 ? undefined : own[i + 1]
}
const suite = own.find((arg, i) => !arg.startsWith("--") && (i === 0 || !["--runner", "--filter"].includes(own[i - 1]!)))
if (suite === undefined) {
  console.error("usage: node scripts/wasi-testsuite.ts SUITE_DIR [--runner airssys|jco] [--filter NAME] [--verbose] [-- RUN FLAGS]")
  process.exit(2)
}
const runner = option("--runner") ?? "airssys"
const filter = option("--filter")
const verbose = own.includes("--verbose")
// For a CLI that predates --dir, --env and guest arguments: pass none (every test that needs them fails).
const bare = own.includes("--bare")
const cache = path.join(os.tmpdir(), "airssys-wasm-wasi-testsuite")
fs.mkdirSync(cache, { recursive: true })

// jco run has no --dir and passes the whole environment: a module it imports first sets the spec's
// dirs as named preopens and its env as the guest's whole environment.
const jcoSetup = path.join(cache, "jco-setup.mjs")
const shim = (file: string) => JSON.stringify(path.join(root, "node_modules/@bytecodealliance/preview2-shim/dist/nodejs", file))
fs.writeFileSync(
  jcoSetup,
  `import { _setPreopens } from ${shim("filesystem.js")}\nimport { _setEnv } from ${shim("cli.js")}\n` +
    `_setPreopens(JSON.parse(process.env.WASI_TESTSUITE_DIRS ?? "{}"))\n` +
    `_setEnv(JSON.parse(process.env.WASI_TESTSUITE_ENV ?? "{}"))\n`
)

interface Spec {
  readonly args?: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string>>
  readonly dirs?: ReadonlyArray<string>
  readonly exit_code?: number
  readonly stdout?: string
}

const tests = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) return entry.name.endsWith(".dir") ? [] : tests(full)
    return entry.name.endsWith(".wasm") && full.includes("wasm32-wasip1") ? [full] : []
  })

const cleanup = (dir: string): void => {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    if (entry.name.endsWith(".cleanup")) fs.rmSync(full, { recursive: true, force: true })
    else if (entry.isDirectory()) cleanup(full)
  }
}

const component = (wasm: string): string => {
  const bytes = fs.readFileSync(wasm)
  const out = path.join(cache, `${crypto.createHash("sha256").update(bytes).digest("hex").slice(0, 16)}.wasm`)
  if (!fs.existsSync(out)) {
    const made = spawnSync(jco, ["new", wasm, "--wasi-command", "-o", out], { encoding: "utf8" })
    if (made.status !== 0) throw new Error(`jco new ${wasm}: ${made.stderr}`)
  }
  return out
}

let passed = 0
const failed: Array<string> = []
const all = tests(path.resolve(suite)).sort()
for (const wasm of all) {
  const name = `${path.basename(path.dirname(path.dirname(path.dirname(wasm))))}/${path.basename(wasm, ".wasm")}`
  if (filter !== undefined && !name.includes(filter)) continue
  const specFile = wasm.replace(/\.wasm$/, ".json")
  const spec: Spec = fs.existsSync(specFile) ? JSON.parse(fs.readFileSync(specFile, "utf8")) : {}
  const cwd = path.dirname(wasm)
  const dirs = spec.dirs ?? []
  for (const dir of dirs) cleanup(path.join(cwd, dir))
  const command = component(wasm)
  const env = Object.entries(spec.env ?? {})
  const [program, args, childEnv] = runner === "jco"
    ? [
      jco,
      ["run", "--jco-import", jcoSetup, command, ...(spec.args ?? [])],
      {
        ...process.env,
        WASI_TESTSUITE_ENV: JSON.stringify(spec.env ?? {}),
        WASI_TESTSUITE_DIRS: JSON.stringify(Object.fromEntries(dirs.map((dir) => [dir, path.join(cwd, dir)])))
      }
    ]
    : [
      process.execPath,
      [
        cli,
        "run",
        command,
        ...(bare ? [] : dirs.flatMap((dir) => ["--dir", `${path.join(cwd, dir)}::${dir}`])),
        ...(bare ? [] : env.flatMap(([key, value]) => ["--env", `${key}=${value}`])),
        ...extra,
        ...(bare ? [] : ["--", ...(spec.args ?? [])])
      ],
      process.env
    ] as const
  const result = spawnSync(program, args, { cwd, env: childEnv, encoding: "utf8", timeout: 60_000, input: "" })
  for (const dir of dirs) cleanup(path.join(cwd, dir))
  const expectedCode = spec.exit_code ?? 0
  // As the suite's own runner: stdout is compared only when the spec gives it.
  const expectedOut = spec.stdout
  const reasons: Array<string> = []
  if (result.error !== undefined) reasons.push(String(result.error))
  if (result.status !== expectedCode) reasons.push(`exit ${result.status ?? result.signal}, expected ${expectedCode}`)
  if (expectedOut !== undefined && result.stdout !== expectedOut) reasons.push(`stdout ${JSON.stringify(result.stdout.slice(0, 200))}, expected ${JSON.stringify(expectedOut)}`)
  if (reasons.length === 0) {
    passed++
    if (verbose) console.log(`PASS ${name}`)
  } else {
    failed.push(name)
    const stderr = result.stderr.trim().split("\n").filter((line) => line.length > 0).slice(-3).join(" | ")
    console.log(`FAIL ${name}: ${reasons.join("; ")}${stderr.length > 0 ? ` — stderr: ${stderr.slice(0, 400)}` : ""}`)
  }
}
console.log(`${runner}${extra.length > 0 ? ` ${extra.join(" ")}` : ""}: ${passed} / ${passed + failed.length} passed`)
