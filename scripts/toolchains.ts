/**
 * Which guest toolchains this machine has: clang + wasi-libc for C, a rustc whose sysroot holds the
 * wasm32-wasi standard library for Rust, componentize-qjs for QuickJS. Shared by the guest build
 * (scripts/build-toolchain-guests.ts) and the toolchain test suites (test/toolchains/), so both skip
 * the same languages for the same reason and name the same install command.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** The one command that installs every compiled-language toolchain (Debian / Ubuntu). */
export const installCommand = "apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32 rustc libstd-rust-dev-wasm32"

export type Language = "c" | "rust" | "qjs" | "componentize-js"

export interface Toolchain {
  readonly language: Language
  /** Compiler or package version: part of every build's input hash. */
  readonly version: string
  /** The compiler's path (C, Rust). */
  readonly compiler?: string
  /** The WASI reactor start object (Rust: `crt1-reactor.o` from its wasm32-wasi sysroot). */
  readonly reactorObject?: string
}

export interface Missing {
  readonly language: Language
  readonly reason: string
}

const run = (file: string, args: ReadonlyArray<string>, input?: string): string | undefined => {
  try {
    return execFileSync(file, args, { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], ...(input === undefined ? {} : { input }) })
  } catch {
    return undefined
  }
}

const detectC = (): Toolchain | Missing => {
  for (const clang of ["clang", "clang-14"]) {
    const version = run(clang, ["--version"])?.split("\n")[0]
    if (version === undefined) continue
    // A real compile and link: finds a missing wasi-libc, lld or compiler-rt builtins at once.
    const out = path.join(os.tmpdir(), `airssys-clang-probe-${process.pid}.wasm`)
    const linked = run(clang, ["--target=wasm32-wasi", "-x", "c", "-", "-o", out], "#include <stdlib.h>\nint main(void) { return abs(-1) - 1; }\n")
    fs.rmSync(out, { force: true })
    if (linked === undefined) return { language: "c", reason: `${clang} cannot build for wasm32-wasi (wasi-libc, lld or libclang-rt-*-dev-wasm32 missing)` }
    return { language: "c", version, compiler: clang }
  }
  return { language: "c", reason: "clang not found" }
}

const detectRust = (): Toolchain | Missing => {
  // Debian's rustc first: a rustup rustc earlier on PATH often lacks the wasm32-wasi standard library.
  const candidates = ["/usr/bin/rustc", "rustc"]
  let found = false
  for (const rustc of candidates) {
    const version = run(rustc, ["--version"])?.trim()
    if (version === undefined) continue
    found = true
    const sysroot = run(rustc, ["--print", "sysroot"])?.trim()
    if (sysroot === undefined) continue
    const lib = path.join(sysroot, "lib", "rustlib", "wasm32-wasi", "lib")
    const reactorObject = path.join(lib, "self-contained", "crt1-reactor.o")
    if (fs.existsSync(reactorObject)) return { language: "rust", version, compiler: rustc, reactorObject }
  }
  return { language: "rust", reason: found ? "no rustc with the wasm32-wasi standard library (libstd-rust-dev-wasm32)" : "rustc not found" }
}

const packageVersion = (name: string): string | undefined => {
  try {
    // import.meta.resolve: ESM-only packages (componentize-js) have no `require` entry point.
    let dir = path.dirname(fileURLToPath(import.meta.resolve(name)))
    while (!fs.existsSync(path.join(dir, "package.json"))) dir = path.dirname(dir)
    return JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).version
  } catch {
    return undefined
  }
}

const detectPackage = (language: Language, name: string): Toolchain | Missing => {
  const version = packageVersion(name)
  return version === undefined ? { language, reason: `the npm package ${name} is not installed (npm ci)` } : { language, version }
}

let detected: ReadonlyMap<Language, Toolchain | Missing> | undefined

/** Every toolchain, found once per process. */
export const toolchains = (): ReadonlyMap<Language, Toolchain | Missing> => {
  detected ??= new Map<Language, Toolchain | Missing>([
    ["c", detectC()],
    ["rust", detectRust()],
    // componentize-qjs arrives with jco (one of its dependencies), so `npm ci` brings it.
    ["qjs", detectPackage("qjs", "componentize-qjs")],
    ["componentize-js", detectPackage("componentize-js", "@bytecodealliance/componentize-js")]
  ])
  return detected
}

export const isAvailable = (entry: Toolchain | Missing): entry is Toolchain => "version" in entry

/** The toolchain for `language`, or why it is missing. */
export const toolchain = (language: Language): Toolchain | Missing => toolchains().get(language)!

/** The command that installs what `language` needs. */
export const installFor = (language: Language): string =>
  language === "c" || language === "rust" ? installCommand : "npm ci"

/** The line printed when a language is skipped. */
export const skipMessage = (missing: Missing): string =>
  `${missing.language} guests skipped: ${missing.reason}. Install with: ${installFor(missing.language)}`
