/**
 * The published package, as a user gets it: `npm pack` of the build in dist/, the tarball installed
 * into a fresh project with `effect`, then, from that project, on Node 22.19 and 24: a plain `.mjs`
 * program that loads guests, calls one, and runs one as a supervised actor with capabilities;
 * `npx airssys-wasm run` and `inspect`; a `.ts` program type-checked by TypeScript 5.9 and 7 under
 * module nodenext and bundler, strict, `skipLibCheck: false`, no DOM lib. And an older Node gets one
 * line from the CLI. The observer is its own entry point, `airssys-wasm/observer`, on the optional peer
 * `@effect/platform-node`: the root import and the CLI work without it, `run --observe` names the command
 * that installs it, and once installed the observer serves from the tarball. The cluster is its own entry
 * point too, `airssys-wasm/cluster`: with `@effect/platform-node` and a SQL driver
 * (`@effect/sql-sqlite-node`) installed, a consumer `.ts` runs a runner and a request on Node 22.19 and 24,
 * and type-checks (with the DOM lib: effect's own effect/rpc declarations name `Transferable`).
 *
 * Node 22.19, Node 20 and TypeScript 5.9 come from npm (the packages `node` and `typescript`), installed
 * once into `.cache/package-test/` (gitignored) and reused; the consumer project is made afresh each run
 * in a temporary folder (from the npm cache, `--prefer-offline`).
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "vitest"

const root = path.resolve(import.meta.dirname, "..")
const cache = path.join(root, ".cache", "package-test")
// Outside the repository: from inside it, Node's module resolution and npx's PATH would reach the
// repository's own node_modules (its Node 24, its dependencies) and hide what the package lacks.
const consumer = path.join(os.tmpdir(), `airssys-wasm-package-test-${process.pid}`)
afterAll(() => fs.rmSync(consumer, { recursive: true, force: true }))
const guests = path.join(root, "build", "guests")

// Pinned so that the cached tools stay valid and runs compare like with like.
const versions = {
  node22: "22.19.0", // the floor of `engines`
  node20: "20.20.2", // older than the floor: the CLI must say so
  typescript59: "5.9.3",
  // The consumer's effect: in the peer range (the repository itself runs on its floor, 4.1.0); 4.1.5 is
  // the first whose own declarations type-check without the DOM lib (4.1.0's name CryptoKey, JsonWebKey).
  effect: "4.1.5",
  // The cluster's SQL driver for one machine: its latest release (it has no 4.1.5); it peers on effect ^4.1.0.
  sqliteNode: "4.1.0",
  typesNode: "24.19.2"
} as const

const node24 = path.join(root, "node_modules", ".bin", "node")
const tsc7 = path.join(root, "node_modules", "typescript", "bin", "tsc")
const toolBin = (dir: string) => path.join(cache, dir, "node_modules", ".bin")
const node22 = path.join(toolBin("tools"), "node")
const node20 = path.join(toolBin("node20"), "node")
const tsc59 = path.join(cache, "tools", "node_modules", "typescript", "bin", "tsc")

interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

// A user's shell, not the npm that runs this test: its `npm_config_prefix` would put its own Node's
// folder (global bin) first on npx's PATH. Only the settings for reaching the registry are kept.
const userEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) =>
  key !== "NODE" && key !== "INIT_CWD" &&
  (!/^npm_/i.test(key) || /^npm_config_(registry|cache|cafile|userconfig|globalconfig|proxy|https_proxy|noproxy|strict_ssl)$/i.test(key))
))

// npm, npx and the package's bin find `node` on PATH: `binDir` first picks the Node they run on.
const run = (command: string, args: ReadonlyArray<string>, options: { readonly cwd: string; readonly binDir?: string }) =>
  new Promise<Result>((resolve) => {
    const binDir = options.binDir ?? path.dirname(node24)
    const env = { ...userEnv, PATH: `${binDir}${path.delimiter}${userEnv.PATH}`, NO_COLOR: "1", AIRSSYS_WASM_CACHE_DIR: path.join(consumer, ".airssys-cache") }
    execFile(command, [...args], { cwd: options.cwd, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr }))
  })

const npm = async (args: ReadonlyArray<string>, cwd: string): Promise<Result> => {
  const result = await run("npm", [...args, "--no-audit", "--no-fund", "--prefer-offline"], { cwd })
  if (result.code !== 0) throw new Error(`npm ${args.join(" ")} in ${cwd} failed:\n${result.stderr}`)
  return result
}

const writeJson = (file: string, value: unknown) => fs.writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`)

/** A folder of npm-installed tools, installed again only when what it should hold changed. */
const tools = async (dir: string, dependencies: Record<string, string>, check: string) => {
  const folder = path.join(cache, dir)
  const manifest = { name: `airssys-wasm-package-test-${dir}`, private: true, dependencies, allowScripts: { node: true } }
  const manifestFile = path.join(folder, "package.json")
  const current = fs.existsSync(manifestFile) ? fs.readFileSync(manifestFile, "utf8") : ""
  if (current === `${JSON.stringify(manifest, null, 2)}\n` && fs.existsSync(check)) return
  fs.rmSync(folder, { recursive: true, force: true })
  fs.mkdirSync(folder, { recursive: true })
  writeJson(manifestFile, manifest)
  await npm(["install"], folder)
}

/** `du -sk`, in MiB. */
const footprint = async (dir: string): Promise<number> => {
  const result = await run("du", ["-sk", dir], { cwd: root })
  return Number(result.stdout.split("\t")[0]) / 1024
}

// A first load on a busy machine may print the CLI's progress line; binaryen warns about name
// subsections it does not know. Neither is what these tests look at (as in Cli.test).
const incidental = /^(?:warning: unknown name subsection|airssys-wasm: loading .*…$|airssys-wasm: (?:loaded|failed to load) .* in [\d.]+ s$)/
const errorLines = (stderr: string): Array<string> => stderr.split("\n").filter((line) => line !== "" && !incidental.test(line))

interface Packed {
  readonly filename: string
  readonly size: number
  readonly unpackedSize: number
  readonly files: ReadonlyArray<{ readonly path: string }>
}

/** Whether dist/ is missing or older than a source, the build config or the build script. */
const stale = (): boolean => {
  const built = path.join(root, "dist", "index.js")
  if (!fs.existsSync(built)) return true
  const inputs = [
    ...fs.readdirSync(path.join(root, "src"), { recursive: true, encoding: "utf8" }).map((file) => path.join(root, "src", file)),
    path.join(root, "tsconfig.json"),
    path.join(root, "tsconfig.build.json"),
    path.join(root, "scripts", "build.ts")
  ]
  const builtAt = fs.statSync(built).mtimeMs
  return inputs.some((file) => fs.statSync(file).mtimeMs > builtAt)
}

let packed: Packed
let libraryOnly: { readonly mib: number; readonly cli: Result }
let withCli: number

beforeAll(async () => {
  for (const guest of ["echo", "echo-js", "cap-storage", "flaky", "sleeper"]) {
    if (!fs.existsSync(path.join(guests, `${guest}.wasm`))) throw new Error(`build/guests/${guest}.wasm is missing: run npm run build:guests`)
  }
  fs.mkdirSync(cache, { recursive: true })
  await tools("tools", { node: versions.node22, typescript: versions.typescript59 }, node22)
  await tools("node20", { node: versions.node20 }, node20)

  // What `npm publish` would upload. `npm test` builds dist/ just before vitest; `prepack` would build it
  // again, under the feet of Docs.test's tutorial (which imports "airssys-wasm", i.e. dist/), so the
  // build runs here only when dist/ is older than what it is built from (this file run on its own).
  if (stale()) await run(node24, [path.join(root, "scripts", "build.ts")], { cwd: root }).then((build) => {
    if (build.code !== 0) throw new Error(`scripts/build.ts failed:\n${build.stdout}${build.stderr}`)
  })
  const packDir = path.join(cache, "pack")
  fs.rmSync(packDir, { recursive: true, force: true })
  fs.mkdirSync(packDir, { recursive: true })
  const pack = await npm(["pack", "--ignore-scripts", "--pack-destination", packDir, "--json"], root)
  packed = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf("["))) as ReadonlyArray<Packed>)[0]!

  // A fresh project: `npm install airssys-wasm effect`, as the README says.
  fs.rmSync(consumer, { recursive: true, force: true })
  fs.mkdirSync(path.join(consumer, "guests"), { recursive: true })
  writeJson(path.join(consumer, "package.json"), { name: "consumer", private: true, type: "module" })
  await npm(["install", path.join(packDir, packed.filename), `effect@${versions.effect}`], consumer)
  libraryOnly = {
    mib: await footprint(path.join(consumer, "node_modules")),
    // The CLI's optional peer is not there yet.
    cli: await run("npx", ["--no", "--", "airssys-wasm", "--version"], { cwd: consumer })
  }
  // Then what a CLI user (the optional peer) and a TypeScript user (@types/node) add.
  await npm(["install", `@effect/platform-node-shared@${versions.effect}`], consumer)
  await npm(["install", "--save-dev", `@types/node@${versions.typesNode}`], consumer)
  withCli = await footprint(path.join(consumer, "node_modules"))

  for (const guest of ["echo", "echo-js", "cap-storage", "flaky", "sleeper"]) {
    fs.copyFileSync(path.join(guests, `${guest}.wasm`), path.join(consumer, "guests", `${guest}.wasm`))
  }
  fs.copyFileSync(path.join(import.meta.dirname, "package", "consumer.mjs"), path.join(consumer, "consumer.mjs"))
  fs.copyFileSync(path.join(import.meta.dirname, "package", "consumer.ts"), path.join(consumer, "consumer.ts"))
  const strictest = {
    target: "ES2022",
    lib: ["ES2022"], // no DOM
    types: ["node"],
    strict: true,
    skipLibCheck: false,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    noEmit: true
  }
  writeJson(path.join(consumer, "tsconfig.nodenext.json"), {
    compilerOptions: { ...strictest, module: "nodenext", moduleResolution: "nodenext" },
    files: ["consumer.ts"]
  })
  writeJson(path.join(consumer, "tsconfig.bundler.json"), {
    compilerOptions: { ...strictest, module: "esnext", moduleResolution: "bundler", exactOptionalPropertyTypes: false },
    files: ["consumer.ts"]
  })
}, 900_000)

describe("the npm package", { timeout: 300_000 }, () => {
  it("the tarball holds dist/, wit/, README, LICENSE and package.json: no TypeScript sources, tests or tools", () => {
    const files = packed.files.map((file) => file.path)
    const outside = files.filter((file) => !/^(dist\/|wit\/|kits\/|README\.md$|LICENSE$|package\.json$)/.test(file))
    assert.deepStrictEqual(outside, [])
    const sources = files.filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))
    assert.deepStrictEqual(sources, [])
    for (const needed of ["dist/index.js", "dist/index.d.ts", "dist/index.js.map", "dist/cli/main.js", "dist/internal/run/instanceWorker.js", "dist/internal/load/wasmFuelWorker.js", "wit/airssys.wit", "LICENSE", "README.md"]) {
      assert.include(files, needed)
    }
    console.log(`tarball ${packed.filename}: ${(packed.size / 1024).toFixed(0)} KiB packed, ${(packed.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${files.length} files`)
  })

  it("the installed manifest: exports with types and import, bin on built JavaScript, engines, effect as a peer, no jco CLI", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(consumer, "node_modules", "airssys-wasm", "package.json"), "utf8"))
    assert.deepStrictEqual(manifest.exports["."], { types: "./dist/index.d.ts", import: "./dist/index.js" })
    assert.deepStrictEqual(manifest.exports["./observer"], { types: "./dist/observer/index.d.ts", import: "./dist/observer/index.js" })
    assert.deepStrictEqual(manifest.exports["./cluster"], { types: "./dist/cluster/index.d.ts", import: "./dist/cluster/index.js" })
    assert.deepStrictEqual(manifest.bin, { "airssys-wasm": "./dist/cli/main.js" })
    assert.strictEqual(manifest.engines.node, ">=22.19")
    assert.strictEqual(manifest.peerDependencies.effect, "^4.1.0")
    assert.isTrue(manifest.peerDependenciesMeta["@effect/platform-node-shared"].optional)
    // The observer's HTTP server: optional, so the install leaves it (and its undici and redis) out.
    assert.strictEqual(manifest.peerDependencies["@effect/platform-node"], "^4.1.0")
    assert.isTrue(manifest.peerDependenciesMeta["@effect/platform-node"].optional)
    assert.isFalse(fs.existsSync(path.join(consumer, "node_modules", "@effect", "platform-node")))
    assert.deepStrictEqual(Object.keys(manifest.dependencies).sort(), ["@bytecodealliance/jco-transpile", "binaryen"])
    // One effect in the tree: the consumer's.
    const effects = fs.readdirSync(path.join(consumer, "node_modules"), { recursive: true, encoding: "utf8" })
      .filter((entry) => entry.endsWith(`${path.sep}effect${path.sep}package.json`) || entry === `effect${path.sep}package.json`)
    assert.deepStrictEqual(effects, [`effect${path.sep}package.json`])
  })

  it("the declarations name no .ts module and no WebAssembly type: a consumer needs neither allowImportingTsExtensions nor the DOM lib", () => {
    const dist = path.join(consumer, "node_modules", "airssys-wasm", "dist")
    const declarations = fs.readdirSync(dist, { recursive: true, encoding: "utf8" }).filter((file) => file.endsWith(".d.ts"))
    const tsSpecifiers = declarations.filter((file) => /["']\.\.?\/[^"']*\.ts["']/.test(fs.readFileSync(path.join(dist, file), "utf8")))
    assert.deepStrictEqual(tsSpecifiers, [])
    // Every declaration file a consumer's tsc reads, from the entry point through relative imports.
    const reached = new Set<string>()
    const queue = ["index.d.ts", path.join("observer", "index.d.ts"), path.join("cluster", "index.d.ts")]
    while (queue.length > 0) {
      const file = queue.pop()!
      if (reached.has(file)) continue
      reached.add(file)
      const text = fs.readFileSync(path.join(dist, file), "utf8")
      for (const [, specifier] of text.matchAll(/(?:from\s+|import\(\s*)["'](\.\.?\/[^"']+)\.js["']/g)) {
        queue.push(path.join(path.dirname(file), `${specifier}.d.ts`))
      }
    }
    const webAssembly = [...reached].filter((file) =>
      fs.readFileSync(path.join(dist, file), "utf8").split("\n").some((line) => !/^\s*(\*|\/\/|\/\*)/.test(line) && line.includes("WebAssembly."))
    )
    assert.deepStrictEqual(webAssembly, [])
    assert.isAbove(reached.size, 20)
  })

  it("install footprint: at most 200 MB with the CLI's peer and @types/node", () => {
    console.log(`node_modules: ${libraryOnly.mib.toFixed(0)} MiB with airssys-wasm + effect, ${withCli.toFixed(0)} MiB with @effect/platform-node-shared and @types/node`)
    assert.isAtMost(libraryOnly.mib, withCli)
    assert.isAtMost(withCli, 200)
  })

  it("without the CLI's optional peer, npx airssys-wasm prints one line naming the install command, exit 2", () => {
    assert.strictEqual(libraryOnly.cli.code, 2)
    assert.strictEqual(
      libraryOnly.cli.stderr,
      `airssys-wasm: the CLI needs the package @effect/platform-node-shared, which is not installed: npm install @effect/platform-node-shared@${versions.effect}\n`
    )
  })

  for (const [name, node, version] of [["Node 22.19", node22, `v${versions.node22}`], ["Node 24", node24, undefined]] as const) {
    describe(name, () => {
      it("a consumer .mjs loads a guest, calls it, runs one as a supervised actor with logging; storage granted and refused; JSPI", async () => {
        const result = await run(node, ["consumer.mjs", "guests"], { cwd: consumer })
        assert.strictEqual(result.code, 0, result.stderr)
        const seen = JSON.parse(result.stdout.trim().split("\n").at(-1)!)
        if (version !== undefined) assert.strictEqual(seen.node, version)
        else assert.match(seen.node, /^v24\./)
        assert.deepStrictEqual({ ...seen, node: undefined }, {
          node: undefined,
          echoed: "hello from a consumer",
          stored: "dark",
          refused: "GuestError",
          reply: "after the restart",
          deadLetters: ["trap now"],
          logged: ["flaky info after the restart"],
          denied: ["Storage plugin-b"],
          // JSPI: Node 24 instantiates a guest whose host calls suspend; on Node 22 it is a typed Trap.
          jspi: version === undefined ? "instantiated" : "Trap: WebAssembly.Suspending is not a constructor",
          // The root entry point loaded without the observer's peer; the observer's entry point resolves.
          platformNode: "not installed",
          observerEntry: "dist/observer/index.js"
        })
      })

      it("npx airssys-wasm run --input and inspect", async () => {
        const binDir = path.dirname(node)
        // The Node the bin's `#!/usr/bin/env node` finds under npx.
        const which = await run("npm", ["exec", "--", "node", "--version"], { cwd: consumer, binDir })
        if (version !== undefined) assert.strictEqual(which.stdout.trim(), version)
        else assert.match(which.stdout, /^v24\./)
        const echo = await run("npx", ["--no", "--", "airssys-wasm", "run", "guests/echo.wasm", "--input", "hello"], { cwd: consumer, binDir })
        assert.deepStrictEqual({ ...echo, stderr: errorLines(echo.stderr) }, { code: 0, stdout: "hello", stderr: [] })
        const denied = await run("npx", ["--no", "--", "airssys-wasm", "run", "guests/cap-storage.wasm", "--input", "g\x08plugin-a\x05theme"], { cwd: consumer, binDir })
        assert.strictEqual(denied.code, 1)
        assert.match(denied.stderr, /airssys-wasm: denied Storage/)
        const inspect = await run("npx", ["--no", "--", "airssys-wasm", "inspect", "guests/cap-storage.wasm"], { cwd: consumer, binDir })
        assert.strictEqual(inspect.code, 0, inspect.stderr)
        assert.match(inspect.stdout, /airssys:component\/storage@0\.1\.0\s+→ Storage/)
        assert.match(inspect.stdout, /Storage\s+--allow-storage NAMESPACE/)
      })
    })
  }

  it("the worker modules load from dist/: --isolate runs the guest in instanceWorker.js, a 12 MB guest is metered in wasmFuelWorker.js", async () => {
    const isolated = await run("npx", ["--no", "--", "airssys-wasm", "run", "guests/echo.wasm", "--isolate", "--input", "isolated"], { cwd: consumer })
    assert.deepStrictEqual({ ...isolated, stderr: errorLines(isolated.stderr) }, { code: 0, stdout: "isolated", stderr: [] })
    // A 12 MB guest from dist/: metered in one pass (fuelRewrite.js); wasmFuelWorker.js runs binaryen only
    // for core modules of 1 MiB and more that the one-pass rewrite declines (GC).
    const large = await run("npx", ["--no", "--", "airssys-wasm", "run", "guests/echo-js.wasm", "--input", "large"], { cwd: consumer })
    assert.deepStrictEqual({ ...large, stderr: errorLines(large.stderr) }, { code: 0, stdout: "large", stderr: [] })
  })

  it("without @effect/platform-node, run --observe prints one line naming the install command, exit 2", async () => {
    const result = await run("npx", ["--no", "--", "airssys-wasm", "run", "guests/echo.wasm", "--input", "hi", "--observe"], { cwd: consumer })
    assert.deepStrictEqual({ ...result, stderr: errorLines(result.stderr) }, {
      code: 2,
      stdout: "",
      stderr: [
        `airssys-wasm: --observe needs the package @effect/platform-node, which is not installed: npm install @effect/platform-node@${versions.effect}`
      ]
    })
  })

  it("Node 20: the CLI prints one line and exits 2, no stack trace", async () => {
    const result = await run("npx", ["--no", "--", "airssys-wasm", "run", "guests/echo.wasm"], { cwd: consumer, binDir: path.dirname(node20) })
    assert.deepStrictEqual(result, {
      code: 2,
      stdout: "",
      stderr: `airssys-wasm: needs Node.js 22.19 or later; this is Node.js v${versions.node20}\n`
    })
  })

  // Two at a time (TypeScript 5.9 takes ~15 s per check with skipLibCheck false).
  const checks = [["5.9", tsc59], ["7", tsc7]] as const
  const typecheck = (tsc: string, config: string) => run(node24, [tsc, "-p", config], { cwd: consumer })
  for (const [version, tsc] of checks) {
    it(`TypeScript ${version}: the consumer .ts type-checks under module nodenext and bundler (strict, skipLibCheck false, no DOM)`, async () => {
      const [nodenext, bundler] = await Promise.all([typecheck(tsc, "tsconfig.nodenext.json"), typecheck(tsc, "tsconfig.bundler.json")])
      const versionOut = await run(node24, [tsc, "--version"], { cwd: consumer })
      assert.match(versionOut.stdout, new RegExp(`Version ${version.replace(".", "\\.")}`))
      assert.deepStrictEqual({ nodenext, bundler }, {
        nodenext: { code: 0, stdout: "", stderr: "" },
        bundler: { code: 0, stdout: "", stderr: "" }
      })
    })
  }

  // Last: it installs the observer's peer into the consumer project.
  it("with @effect/platform-node installed, the observer serves from airssys-wasm/observer", async () => {
    await npm(["install", `@effect/platform-node@${versions.effect}`], consumer)
    const script = [
      `import { Effect } from "effect"`,
      `import { Observer } from "airssys-wasm/observer"`,
      `const overview = Effect.flatMap(Observer.Observer, (observer) =>`,
      `  Effect.promise(() => fetch(new URL("api/overview", observer.url)).then(async (response) => [response.status, Object.keys(await response.json()).length > 0])))`,
      `console.log(JSON.stringify(await Effect.runPromise(overview.pipe(Effect.provide(Observer.layer({ port: 0 }))))))`
    ].join("\n")
    fs.writeFileSync(path.join(consumer, "observe.mjs"), script)
    const result = await run(node24, ["observe.mjs"], { cwd: consumer })
    assert.deepStrictEqual(result, { code: 0, stdout: "[200,true]\n", stderr: "" })
  })

  // After the observer's: it needs @effect/platform-node too (effect/cluster's socket transport).
  it("with @effect/platform-node and @effect/sql-sqlite-node installed, airssys-wasm/cluster runs a runner and a request on Node 22.19 and 24, and type-checks", async () => {
    await npm(["install", `@effect/platform-node@${versions.effect}`, `@effect/sql-sqlite-node@${versions.sqliteNode}`], consumer)
    fs.copyFileSync(path.join(guests, "greeter-v1.wasm"), path.join(consumer, "guests", "greeter-v1.wasm"))
    fs.copyFileSync(path.join(import.meta.dirname, "package", "cluster.ts"), path.join(consumer, "cluster.ts"))
    for (const [name, node] of [["Node 22.19", node22], ["Node 24", node24]] as const) {
      const database = path.join(consumer, `cluster-${name.replace(/\W/g, "")}.db`)
      const result = await run(node, ["cluster.ts", "guests/greeter-v1.wasm", database], { cwd: consumer })
      assert.strictEqual(result.code, 0, `${name}:\n${result.stderr}`)
      assert.deepStrictEqual(JSON.parse(result.stdout.trim().split("\n").at(-1)!), {
        reply: "hello, cluster",
        component: "greeter@1",
        hash: 64,
        unknown: "UnknownComponent",
        here: true
      }, name)
    }
    // Strict, skipLibCheck false: clean with the DOM lib. Without it, effect 4.1.5's own effect/rpc
    // declarations (which effect/cluster loads) name the DOM's `Transferable`: those are the only errors,
    // none in airssys-wasm's declarations or the user's code (the README says so).
    const config = (lib: ReadonlyArray<string>) => ({
      compilerOptions: {
        target: "ES2022",
        lib,
        types: ["node"],
        strict: true,
        skipLibCheck: false,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        noEmit: true,
        module: "nodenext",
        moduleResolution: "nodenext"
      },
      files: ["cluster.ts"]
    })
    writeJson(path.join(consumer, "tsconfig.cluster.json"), config(["ES2022", "DOM"]))
    writeJson(path.join(consumer, "tsconfig.cluster-nodom.json"), config(["ES2022"]))
    const [withDom, withoutDom] = await Promise.all([
      run(node24, [tsc7, "-p", "tsconfig.cluster.json"], { cwd: consumer }),
      run(node24, [tsc7, "-p", "tsconfig.cluster-nodom.json"], { cwd: consumer })
    ])
    assert.deepStrictEqual(withDom, { code: 0, stdout: "", stderr: "" })
    const errors = withoutDom.stdout.split("\n").filter((line) => /error TS/.test(line))
    assert.deepStrictEqual(errors.filter((line) => !/^node_modules\/effect\/dist\/rpc\/.*Transferable/.test(line)), [], withoutDom.stdout)
  })
})
