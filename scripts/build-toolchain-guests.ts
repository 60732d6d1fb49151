/**
 * Builds the guests written in C, Rust and JavaScript-with-the-kit, with the toolchains plugin authors
 * use, from the sources in `guests/c`, `guests/rust` and `guests/js`. Called by build-guests.ts.
 *
 * A source is a guest when its first lines name what it becomes: `// world: NAME` (a reactor for that
 * world of wit/airssys.wit, through the kit in kits/) or `// kind: command` (a WASI command exporting
 * `wasi:cli/run`). Other files in those folders are shared code the guests include.
 *
 *   guests/c/NAME.c     clang --target=wasm32-wasi + wasi-libc       -> build/guests/c-NAME.wasm
 *   guests/rust/NAME.rs rustc --target wasm32-wasi (std only)        -> build/guests/rust-NAME.wasm
 *   guests/js/NAME.js   componentize-qjs (QuickJS)                   -> build/guests/qjs-NAME.wasm
 *                       componentize-js (SpiderMonkey)               -> build/guests/js-kit-NAME.wasm
 *
 * JavaScript guests are built against `js-WORLD`: the world plus `wasi:filesystem` and `wasi:cli/exit`,
 * which JavaScript imports directly (see jsWit); a JavaScript command against `js-command`.
 * C and Rust core modules become components with jco's componentEmbed (the world) and componentNew
 * with the WASI preview1 adapter jco ships (reactor for worlds, command for commands). Builds are
 * cached by the hash of every input (the language folder, the kit, the WIT, the toolchain's version,
 * the adapter). A missing toolchain skips its guests with the command that installs it; with
 * `CI=true` it is a failure.
 */
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { isAvailable, type Language, skipMessage, type Toolchain, toolchain } from "./toolchains.ts"

const root = path.resolve(import.meta.dirname, "..")
const outDir = path.join(root, "build", "guests")
const witPath = path.join(root, "wit", "airssys.wit")
const jcoLib = path.join(root, "node_modules", "@bytecodealliance", "jco", "lib")
const adapterPath = (kind: "reactor" | "command") => path.join(jcoLib, `wasi_snapshot_preview1.${kind}.wasm`)

interface Guest {
  /** Output name, without `.wasm`. */
  readonly name: string
  readonly language: Language
  readonly file: string
  readonly world: string | undefined
  readonly command: boolean
  /** Folders whose every file is an input (shared code, the kit). */
  readonly inputs: ReadonlyArray<string>
}

const headerOf = (source: string, key: string): string | undefined =>
  new RegExp(`^\\s*//\\s*${key}:\\s*(\\S+)`, "m").exec(source.split("\n").slice(0, 5).join("\n"))?.[1]

const prefixes: Record<Language, string> = { c: "c", rust: "rust", qjs: "qjs", "componentize-js": "js-kit" }

/** Every guest the sources describe, for every language that builds it. */
export const toolchainGuests = (): ReadonlyArray<Guest> => {
  const guests: Array<Guest> = []
  const scan = (folder: string, extension: string, languages: (source: string) => ReadonlyArray<Language>, kit: string) => {
    const dir = path.join(root, "guests", folder)
    if (!fs.existsSync(dir)) return
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(extension)).sort()) {
      const source = fs.readFileSync(path.join(dir, file), "utf8")
      const world = headerOf(source, "world")
      const command = headerOf(source, "kind") === "command"
      if (world === undefined && !command) continue
      for (const language of languages(source)) {
        guests.push({
          name: `${prefixes[language]}-${file.slice(0, -extension.length)}`,
          language,
          file: path.join(dir, file),
          world,
          command,
          inputs: [dir, path.join(root, "kits", kit)]
        })
      }
    }
  }
  scan("c", ".c", () => ["c"], "c")
  scan("rust", ".rs", () => ["rust"], "rust")
  scan("js", ".js", (source) => (headerOf(source, "engines") ?? "qjs").split(",") as ReadonlyArray<Language>, "js")
  return guests
}

const inputHash = (guest: Guest, tool: Toolchain): string => {
  const hash = createHash("sha256")
  hash.update(`${guest.name}\0${guest.world ?? "command"}\0${tool.version}\0`)
  for (const dir of guest.inputs) {
    for (const file of fs.readdirSync(dir).sort()) hash.update(file).update(fs.readFileSync(path.join(dir, file)))
  }
  hash.update(fs.readFileSync(witPath))
  if (guest.language === "qjs" || guest.language === "componentize-js") hash.update(jsWit())
  hash.update(fs.readFileSync(adapterPath(guest.command ? "command" : "reactor")))
  return hash.digest("hex")
}

/** The core module: compiled with the language's compiler, into a temp file. */
const compile = (guest: Guest, tool: Toolchain, out: string): void => {
  const compiler = tool.compiler!
  if (guest.language === "c") {
    const args = guest.command
      ? ["--target=wasm32-wasi", "-O2", "-Wall", "-Werror", "-s", guest.file, "-o", out]
      : ["--target=wasm32-wasi", "-mexec-model=reactor", "-O2", "-Wall", "-Werror", "-s", "-I", path.join(root, "kits", "c"),
        guest.file, path.join(root, "kits", "c", "airssys.c"), "-o", out]
    execFileSync(compiler, args, { stdio: "inherit" })
    return
  }
  const common = ["--edition", "2021", "--target", "wasm32-wasi", "-O", "-C", "strip=symbols", "-o", out]
  const args = guest.command
    ? [...common, guest.file]
    // A cdylib with the reactor start object: `_initialize` runs the constructors (wasi-libc's
    // environment among them) once at instantiation, not inside the first export call.
    : [...common, "--crate-type", "cdylib", "-C", `link-arg=${tool.reactorObject}`, "-C", "link-arg=--export=_initialize", guest.file]
  execFileSync(compiler, args, { stdio: "inherit" })
}

const wasiWitDir = path.join(jcoLib, "wit", "builtin", "0.2.12")

/** A WASI 0.2.12 package from jco's WIT, nested (`package wasi:x@0.2.12 { ... }`) to append to a file. */
const nestedWasiPackage = (name: string): string => {
  const text = fs.readFileSync(path.join(wasiWitDir, `wasi-${name}`, "package.wit"), "utf8")
  return `${text.replace(/^package ([^;]+);/m, "package $1 {")}\n}\n`
}

/**
 * The WIT the JavaScript guests are built against: wit/airssys.wit, plus for each world a `js-WORLD`
 * that adds the WASI imports the guests call directly (files and exit; C and Rust reach them through
 * the preview1 adapter), and `js-command`, a WASI command; with the WASI packages they need.
 */
const jsWit = (): string => {
  const wasi = ["cli", "clocks", "filesystem", "io", "random", "sockets"]
  const worlds = Array.from(fs.readFileSync(witPath, "utf8").matchAll(/^world ([a-z-]+)/gm), (m) => m[1]!).map((world) =>
    `world js-${world} {\n  include ${world};\n  import wasi:filesystem/preopens@0.2.12;\n  import wasi:filesystem/types@0.2.12;\n  import wasi:cli/exit@0.2.12;\n}\n`)
  const command = "world js-command {\n  import wasi:cli/environment@0.2.12;\n  import wasi:cli/exit@0.2.12;\n" +
    "  import wasi:cli/stdout@0.2.12;\n  import wasi:cli/stderr@0.2.12;\n  export wasi:cli/run@0.2.12;\n}\n"
  return [fs.readFileSync(witPath, "utf8"), ...worlds, command, ...wasi.map(nestedWasiPackage)].join("\n")
}

const build = async (guest: Guest, tool: Toolchain): Promise<Uint8Array> => {
  const witSource = fs.readFileSync(witPath, "utf8")
  const jsWorld = `js-${guest.world ?? "command"}`
  if (guest.language === "qjs") {
    const { componentize } = await import("componentize-qjs")
    // componentize-qjs reads WIT from a path: the generated one goes to a temp folder.
    const temp = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-qjs-"))
    const jsWitPath = path.join(temp, "guest.wit")
    fs.writeFileSync(jsWitPath, jsWit())
    const { component } = await componentize({
      witPath: jsWitPath,
      jsSource: fs.readFileSync(guest.file, "utf8"),
      jsPath: guest.file,
      // Relative imports (the kit in kits/js) resolve inside the repository.
      moduleRoot: root,
      // The non-async runtime: jco's glue runs the component model's synchronous ABI.
      sync: true,
      world: jsWorld
    }).finally(() => fs.rmSync(temp, { recursive: true, force: true }))
    return component
  }
  if (guest.language === "componentize-js") {
    const { componentize } = await import("@bytecodealliance/componentize-js")
    // As in build-guests.ts: the WIT as text (componentize-js's sandbox sees no host folders), and no
    // WASI features, so the guest reaches the host only through its world.
    // The world's own WASI imports (files, exit) stay: disableFeatures only drops the engine's.
    // (`witWorld`, the WIT as text, is what the build runs on but not in the package's option type.)
    const options = {
      sourcePath: guest.file,
      witWorld: jsWit(),
      worldName: jsWorld,
      disableFeatures: ["stdio", "random", "clocks", "http", "fetch-event"] as Array<"stdio" | "random" | "clocks" | "http" | "fetch-event">
    }
    const { component } = await componentize(options)
    return component
  }
  const jco = await import("@bytecodealliance/jco")
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-guest-"))
  try {
    const out = path.join(temp, "core.wasm")
    compile(guest, tool, out)
    const core = new Uint8Array(fs.readFileSync(out))
    const adapter = new Uint8Array(fs.readFileSync(adapterPath(guest.command ? "command" : "reactor")))
    const embedded = guest.world === undefined ? core : await jco.componentEmbed({ binary: core, witSource, world: guest.world })
    return await jco.componentNew(embedded, [["wasi_snapshot_preview1", adapter]])
  } finally {
    fs.rmSync(temp, { recursive: true, force: true })
  }
}

/**
 * Builds what is out of date; returns the counts, and fails (CI) or prints (locally) for a missing
 * toolchain.
 */
export const buildToolchainGuests = async (only: ReadonlySet<string>): Promise<{ built: number; cached: number; skipped: number }> => {
  const counts = { built: 0, cached: 0, skipped: 0 }
  const guests = toolchainGuests().filter((guest) => only.size === 0 || only.has(guest.name))
  const seconds = new Map<Language, number>()
  const missing: Array<string> = []
  for (const language of new Set(guests.map((guest) => guest.language))) {
    const tool = toolchain(language)
    const mine = guests.filter((guest) => guest.language === language)
    if (!isAvailable(tool)) {
      missing.push(`${skipMessage(tool)} (${mine.map((guest) => `${guest.name}.wasm`).join(", ")})`)
      counts.skipped += mine.length
      continue
    }
    for (const guest of mine) {
      const output = path.join(outDir, `${guest.name}.wasm`)
      const stamp = `${output}.sha256`
      const hash = inputHash(guest, tool)
      if (fs.existsSync(output) && fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === hash) {
        counts.cached++
        continue
      }
      const started = performance.now()
      const bytes = await build(guest, tool)
      fs.writeFileSync(output, bytes)
      fs.writeFileSync(stamp, hash)
      counts.built++
      const ms = performance.now() - started
      seconds.set(language, (seconds.get(language) ?? 0) + ms / 1000)
      console.log(`built ${guest.name}.wasm (${bytes.byteLength} bytes) in ${Math.round(ms)} ms`)
    }
  }
  for (const [language, s] of seconds) console.log(`${language} guests: ${s.toFixed(1)} s`)
  for (const line of missing) console.log(line)
  if (missing.length > 0 && process.env["CI"] === "true") {
    // CI installs every toolchain (.ci/run): a missing one is a broken CI image, not a skip.
    console.error("CI=true: a guest toolchain is missing (above); failing the build")
    process.exitCode = 1
  }
  return counts
}
