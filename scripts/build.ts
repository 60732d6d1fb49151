/**
 * Builds the published package: `src/` → `dist/` (JavaScript, declarations, source maps carrying their
 * sources), with tsc and `tsconfig.build.json`. Run by `npm run build` and by `prepack` (so `npm pack`
 * and `npm publish` always ship a fresh build).
 *
 * tsc's `rewriteRelativeImportExtensions` turns `./Foo.ts` into `./Foo.js` in the JavaScript only, not
 * in the declarations (microsoft/TypeScript#61037), so this rewrites the declarations' relative
 * specifiers after it, then checks that none is left: a consumer's tsc then resolves `./Foo.js` to
 * `./Foo.d.ts` like any package's.
 *
 * Usage: `node scripts/build.ts`
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"

const root = path.resolve(import.meta.dirname, "..")
const dist = path.join(root, "dist")

const tsc = path.join(path.dirname(createRequire(import.meta.url).resolve("typescript/package.json")), "bin", "tsc")
const compile = (...flags: Array<string>) =>
  execFileSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.build.json"), ...flags], { cwd: root, stdio: "inherit" })

const filesUnder = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))

fs.rmSync(dist, { recursive: true, force: true })
compile()

// The declarations of the modules that hold public types (the public modules, and the internal ones
// they re-export types from) without their `@internal` members (a component's jco artifact, an
// instance's core bindings: the only places `WebAssembly.*` types reach the public API, so a consumer
// needs no DOM lib). Only theirs, told by a file header without `@internal`: in the other modules of
// `src/internal/` the `@internal` file header is the leading comment of the first import, which
// `stripInternal` would drop, breaking the declarations that use it.
const headerIsInternal = (source: string) => /^\/\*\*(?:(?!\*\/)[^])*@internal/.test(fs.readFileSync(source, "utf8"))
const stripped = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-wasm-types-"))
compile("--stripInternal", "--emitDeclarationOnly", "--outDir", stripped)
for (const file of filesUnder(stripped).filter((file) => file.endsWith(".d.ts"))) {
  const relative = path.relative(stripped, file)
  if (!headerIsInternal(path.join(root, "src", relative.replace(/\.d\.ts$/, ".ts")))) fs.copyFileSync(file, path.join(dist, relative))
}
fs.rmSync(stripped, { recursive: true, force: true })

// A relative specifier ending in `.ts` in `from "…"`, `import("…")`, `import "…"`.
const relativeTs = /((?:\bfrom|\bimport)\s*\(?\s*)(["'])(\.\.?\/[^"']*?)\.ts\2/g

let rewritten = 0
for (const file of filesUnder(dist).filter((file) => file.endsWith(".d.ts"))) {
  const text = fs.readFileSync(file, "utf8")
  const next = text.replace(relativeTs, (_, head: string, quote: string, stem: string) => `${head}${quote}${stem}.js${quote}`)
  if (next !== text) {
    fs.writeFileSync(file, next)
    rewritten++
  }
}

// Nothing in dist/ may still name a `.ts` module: Node refuses to strip types under node_modules.
const leftovers = filesUnder(dist)
  .filter((file) => file.endsWith(".js") || file.endsWith(".d.ts"))
  .flatMap((file) => [...fs.readFileSync(file, "utf8").matchAll(/["'`](\.\.?\/[^"'`]*\.ts)["'`]/g)].map((m) => `${path.relative(root, file)}: ${m[1]}`))
if (leftovers.length > 0) {
  process.stderr.write(`build: .ts specifiers left in dist/:\n  ${leftovers.join("\n  ")}\n`)
  process.exit(1)
}

fs.chmodSync(path.join(dist, "cli", "main.js"), 0o755)
process.stderr.write(`build: dist/ written (${filesUnder(dist).length} files, declarations rewritten in ${rewritten})\n`)
