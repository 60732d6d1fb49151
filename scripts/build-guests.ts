/**
 * Builds the guest components the tests and benchmarks use, from the sources in `guests/`.
 *
 * Each source names what it becomes in its first lines:
 *   `;; world: processor` (WAT) or `// world: actor` (JavaScript): a component for that world of `wit/`;
 *   `;; wit: guests/wit/other.wit` to build against another WIT package;
 *   `;; kind: core`: a plain core module (a fixture for "not a component");
 *   `// wasi: stdio,clocks` (JavaScript): the componentize-js WASI features to keep (default: none).
 *
 * A WIT file that uses `wasi:*` packages without declaring them gets them appended as nested packages,
 * from the WASI 0.2 WIT jco ships (`lib/wit/builtin/0.2.12`), with whatever they use in turn.
 *
 * Outputs go to `build/guests/NAME.wasm`. A build is skipped when the hash of its inputs (source, WIT,
 * toolchain versions) matches the stamp written beside the output, so a second run rebuilds nothing.
 *
 * Guests in C, Rust and JavaScript-with-the-kit (`guests/c`, `guests/rust`, `guests/js`) are built by
 * build-toolchain-guests.ts, with clang, rustc, componentize-qjs and componentize-js.
 *
 * Usage: node scripts/build-guests.ts [name ...]
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { buildToolchainGuests } from "./build-toolchain-guests.ts"

const root = path.resolve(import.meta.dirname, "..")
const sourceDir = path.join(root, "guests")
const outDir = path.join(root, "build", "guests")
const defaultWit = path.join(root, "wit", "airssys.wit")

const toolVersion = (pkg: string): string =>
  JSON.parse(fs.readFileSync(path.join(root, "node_modules", pkg, "package.json"), "utf8")).version

interface GuestSource {
  readonly name: string
  readonly file: string
  readonly language: "wat" | "js"
  readonly source: string
  readonly kind: "component" | "core"
  readonly world: string | undefined
  readonly witPath: string
  /** componentize-js features kept enabled. */
  readonly wasi: ReadonlyArray<string>
}

const header = (source: string, key: string): string | undefined => {
  const match = new RegExp(`^\\s*(?:;;|//)\\s*${key}:\\s*(\\S+)`, "m").exec(source.split("\n").slice(0, 10).join("\n"))
  return match?.[1]
}

const readGuest = (file: string): GuestSource => {
  const full = path.join(sourceDir, file)
  const source = fs.readFileSync(full, "utf8")
  const language = file.endsWith(".wat") ? "wat" : "js"
  const wit = header(source, "wit")
  return {
    name: file.replace(/\.(wat|js)$/, ""),
    file: full,
    language,
    source,
    kind: header(source, "kind") === "core" ? "core" : "component",
    world: header(source, "world"),
    witPath: wit === undefined ? defaultWit : path.join(root, wit),
    wasi: header(source, "wasi")?.split(",") ?? []
  }
}

const wasiWitDir = path.join(root, "node_modules", "@bytecodealliance", "jco", "lib", "wit", "builtin", "0.2.12")

// `package wasi:io@0.2.12; ...` becomes `package wasi:io@0.2.12 { ... }`, appendable to another file.
const nestedWasiPackage = (name: string): string => {
  const text = fs.readFileSync(path.join(wasiWitDir, `wasi-${name}`, "package.wit"), "utf8")
  return `${text.replace(/^package ([^;]+);/m, "package $1 {")}\n}\n`
}

const wasiPackagesUsed = (wit: string): Set<string> => new Set(Array.from(wit.matchAll(/\bwasi:([a-z-]+)\//g), (m) => m[1]!))

/** The WIT source with every `wasi:*` package it uses (transitively) appended, unless it declares them. */
const witSource = (witPath: string): string => {
  const own = fs.readFileSync(witPath, "utf8")
  const declared = new Set(Array.from(own.matchAll(/^\s*package wasi:([a-z-]+)/gm), (m) => m[1]!))
  const pending = [...wasiPackagesUsed(own)].filter((name) => !declared.has(name))
  const added = new Map<string, string>()
  while (pending.length > 0) {
    const name = pending.pop()!
    if (added.has(name)) continue
    const nested = nestedWasiPackage(name)
    added.set(name, nested)
    for (const used of wasiPackagesUsed(nested)) if (!added.has(used) && !declared.has(used)) pending.push(used)
  }
  return [own, ...added.values()].join("\n")
}

const inputHash = (guest: GuestSource): string => {
  const hash = createHash("sha256")
  hash.update(guest.source)
  hash.update(guest.kind)
  hash.update(guest.world ?? "")
  if (guest.wasi.length > 0) hash.update(`wasi:${guest.wasi.join(",")}`)
  hash.update(witSource(guest.witPath))
  hash.update(toolVersion("@bytecodealliance/jco"))
  if (guest.language === "js") hash.update(toolVersion("@bytecodealliance/componentize-js"))
  return hash.digest("hex")
}

const features = ["stdio", "random", "clocks", "http", "fetch-event"] as const

const build = async (guest: GuestSource): Promise<Uint8Array> => {
  if (guest.language === "js") {
    const { componentize } = await import("@bytecodealliance/componentize-js")
    const options = {
      sourcePath: guest.file,
      // As text: componentize-js reads files inside its own WASI sandbox, which sees no host folders.
      witWorld: witSource(guest.witPath),
      // No WASI features unless the guest's `wasi:` header keeps some: by default the guest reaches
      // the host only through the WIT world it names.
      disableFeatures: features.filter((feature) => !guest.wasi.includes(feature))
    }
    const { component } = await componentize(guest.world === undefined ? options : { ...options, worldName: guest.world })
    return component
  }
  const jco = await import("@bytecodealliance/jco")
  const core = await jco.parse(guest.source)
  if (guest.kind === "core") return core
  if (guest.world === undefined) throw new Error(`${guest.file}: missing ';; world: NAME' header`)
  const embedded = await jco.componentEmbed({
    binary: core,
    witSource: witSource(guest.witPath),
    world: guest.world
  })
  return jco.componentNew(embedded)
}

const main = async (): Promise<void> => {
  const only = new Set(process.argv.slice(2))
  const files = fs.readdirSync(sourceDir).filter((f) => /\.(wat|js)$/.test(f)).sort()
  fs.mkdirSync(outDir, { recursive: true })
  let built = 0
  let cached = 0
  for (const file of files) {
    const guest = readGuest(file)
    if (only.size > 0 && !only.has(guest.name)) continue
    const output = path.join(outDir, `${guest.name}.wasm`)
    const stamp = `${output}.sha256`
    const hash = inputHash(guest)
    if (fs.existsSync(output) && fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === hash) {
      cached++
      continue
    }
    const started = performance.now()
    const bytes = await build(guest)
    fs.writeFileSync(output, bytes)
    fs.writeFileSync(stamp, hash)
    built++
    console.log(`built ${guest.name}.wasm (${bytes.byteLength} bytes) in ${Math.round(performance.now() - started)} ms`)
  }
  // C, Rust and the JavaScript kit guests (guests/c, guests/rust, guests/js): their own toolchains.
  const others = await buildToolchainGuests(only)
  const skipped = others.skipped > 0 ? `, ${others.skipped} skipped (toolchain missing)` : ""
  console.log(`guests: ${built + others.built} built, ${cached + others.cached} up to date${skipped}`)
}

await main()
