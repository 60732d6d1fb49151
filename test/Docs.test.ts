/**
 * The docs stay true to the code: every code block of the tutorial and how-to pages is in a program
 * (docs/check-snippets.ts), every how-to program runs (Node 24 from node_modules, exit 0, prints what its
 * page shows), and every module exported by src/index.ts, src/observer/index.ts and src/cluster/index.ts
 * has a reference page naming each of its exports.
 *
 * The tutorial runs too. Its guest is a 12 MB componentize-js build (docs/tutorial/build.ts, 4 to 16 s
 * measured here), and its first load meters that guest for fuel (~13 s; later loads hit the cache in
 * build/tutorial/cache), so the test builds it only when build/tutorial/hello.wasm is missing or older
 * than its sources: ~20-30 s the first time, ~2 s after.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Root from "../src/index.ts"
import * as ClusterEntry from "../src/cluster/index.ts"
import * as ObserverEntry from "../src/observer/index.ts"

// Every entry point's modules: the root, `airssys-wasm/observer` and `airssys-wasm/cluster`.
const Library = { ...Root, ...ObserverEntry, ...ClusterEntry }

const root = path.resolve(import.meta.dirname, "..")
const node = path.join(root, "node_modules", ".bin", "node")
const docs = path.join(root, "docs")
const programs = fs.readdirSync(path.join(docs, "how-to", "code")).filter((file) => file.endsWith(".ts")).sort()

// Node's compile cache, shared by the processes: each one starts faster after the first.
const compileCache = { ...process.env, NODE_COMPILE_CACHE: path.join(os.tmpdir(), "airssys-wasm-node-compile-cache") }

interface Result {
  readonly code: number | string
  readonly stdout: string
  readonly stderr: string
}

// Pages whose output blocks are not one run of their program: production's program keeps its state,
// audit log and cache in build/production on purpose (a second run continues the chain and transpiles
// nothing), and its page also shows wasm-memories.ts, whose figures depend on the machine.
const outputNotReproducible = new Set(["production"])

/** The bare-fenced blocks (what a program prints) of a markdown page, as lines. */
const outputLines = (page: string): ReadonlyArray<string> => {
  const lines: Array<string> = []
  let fence: string | undefined
  for (const line of page.split("\n")) {
    if (line.startsWith("```")) fence = fence === undefined ? line.slice(3) : undefined
    else if (fence === "") lines.push(line)
  }
  // Log lines carry the time; binaryen's warnings show only while a guest is first metered.
  return lines.filter((line) => line !== "" && !/^\[\d\d:\d\d:\d\d/.test(line) && !line.startsWith("warning:"))
}

const run = (script: string) =>
  Effect.callback<Result>((resume) => {
    execFile(node, [script], { cwd: root, env: compileCache, encoding: "utf8", timeout: 150_000 }, (error, stdout, stderr) =>
      resume(Effect.succeed({ code: error === null ? 0 : error.code ?? error.signal ?? -1, stdout, stderr })))
  })

describe("docs", { timeout: 180_000 }, () => {
  it.effect("check-snippets: every code block of the tutorial and the how-tos is in a source file", () =>
    Effect.gen(function*() {
      const result = yield* run(path.join(docs, "check-snippets.ts"))
      assert.strictEqual(result.code, 0, result.stdout + result.stderr)
      assert.match(result.stdout, /^\d+ pages, \d+ code blocks: each is in a source file$/m)
    }))

  it("every how-to page has its program, and every program its page", () => {
    const pages = fs.readdirSync(path.join(docs, "how-to")).filter((file) => file.endsWith(".md")).map((file) => file.slice(0, -3))
    for (const page of pages) {
      assert.include(programs, `${page}.ts`, `docs/how-to/${page}.md has no program in docs/how-to/code/`)
    }
  })

  for (const file of programs) {
    const name = file.slice(0, -3)
    const page = path.join(docs, "how-to", `${name}.md`)
    const checked = fs.existsSync(page) && !outputNotReproducible.has(name)
    it.effect(`how-to/code/${file} runs and exits 0${checked ? ", printing every output line its page shows" : ""}`, () =>
      Effect.gen(function*() {
        const result = yield* run(path.join(docs, "how-to", "code", file))
        assert.strictEqual(result.code, 0, `${file} failed:\n${result.stderr}`)
        assert.isAbove(result.stdout.trim().split("\n").length, 1, `${file} printed too little:\n${result.stdout}`)
        if (!checked) return
        // A how-to whose language toolchain (or PostgreSQL) this machine lacks says so and what to install
        // (CI has them all).
        if (/(guests|PostgreSQL) skipped: .* Install with: /.test(result.stdout) && process.env["CI"] !== "true") return
        const printed = new Set(result.stdout.split("\n"))
        const expected = outputLines(fs.readFileSync(page, "utf8"))
        assert.isAbove(expected.length, 0, `docs/how-to/${name}.md shows no output`)
        for (const line of expected) {
          assert.isTrue(printed.has(line), `docs/how-to/${name}.md shows a line ${file} did not print:\n${line}\n--- it printed:\n${result.stdout}`)
        }
      }))
  }

  it.effect("tutorial: its guest builds and first-component.ts prints what the page shows", () =>
    Effect.gen(function*() {
      const tutorial = path.join(docs, "tutorial")
      const guest = path.join(root, "build", "tutorial", "hello.wasm")
      const built = fs.existsSync(guest) ? fs.statSync(guest).mtimeMs : 0
      const stale = ["hello.js", "hello.wit", "build.ts"].some((file) => fs.statSync(path.join(tutorial, file)).mtimeMs > built)
      if (stale) {
        const build = yield* run(path.join(tutorial, "build.ts"))
        assert.strictEqual(build.code, 0, build.stderr)
      }
      const result = yield* run(path.join(tutorial, "first-component.ts"))
      assert.strictEqual(result.code, 0, result.stderr)
      const printed = new Set(result.stdout.split("\n"))
      // The guest's bytes differ from build to build, and its visit counter lives in build/tutorial/state.db
      // on purpose (it survives runs): those lines are not compared.
      const expected = outputLines(fs.readFileSync(path.join(docs, "tutorial.md"), "utf8"))
        .filter((line) => !/\d+ bytes|Visit #\d+/.test(line))
      assert.isAbove(expected.length, 10)
      for (const line of expected) {
        assert.isTrue(printed.has(line), `docs/tutorial.md shows a line first-component.ts did not print:\n${line}\n--- it printed:\n${result.stdout}`)
      }
    }), 240_000)

  it("every module exported by src/index.ts, src/observer/index.ts and src/cluster/index.ts has a reference page that names each of its exports", () => {
    const modules = Object.entries(Library)
    assert.isAbove(modules.length, 20)
    for (const [name, module] of modules) {
      const file = path.join(docs, "reference", `${name}.md`)
      assert.isTrue(fs.existsSync(file), `docs/reference/${name}.md is missing`)
      const page = fs.readFileSync(file, "utf8")
      for (const member of Object.keys(module as object)) {
        // In code, and not as the start of a longer name (`make` is not `makeGrants`).
        assert.match(page, new RegExp(`\`${member}(?![A-Za-z0-9_])`), `docs/reference/${name}.md does not mention ${name}.${member}`)
      }
    }
  })

  it("the index links every reference page", () => {
    const index = fs.readFileSync(path.join(docs, "README.md"), "utf8")
    for (const name of Object.keys(Library)) assert.include(index, `(reference/${name}.md)`)
    assert.include(index, "(reference/cli.md)")
  })
})
