/**
 * The seam to jco: the only file that imports it, and the only one in `src/` with async/await and
 * try/catch. Everything here may throw or reject; `Component.ts` and `Instance.ts` turn that into typed
 * errors.
 *
 * @internal
 */
import { randomUUID } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import * as fs from "node:fs/promises"
import * as nodeModule from "node:module"
import { createRequire } from "node:module"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import * as vm from "node:vm"
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads"
import { GuestErr } from "./run/canonicalAbi.ts"
import { ExitSignal } from "./run/exitSignal.ts"
import { type FuelHost, fuelImportModule, makeFuelHost } from "./run/fuelMeter.ts"
import type { BoundedCache } from "./load/boundedCache.ts"
import { isStub, stubCores, type Stubbed, stubIndex } from "./load/coreStubs.ts"
import { codeCacheFile, codeCacheFor, glueScript } from "./load/glueScript.ts"
import { parseWorld } from "./load/witWorld.ts"
import { sha256 } from "./sha256.ts"
import { unversioned } from "./witName.ts"

// jco's transpiler and wasm-tools as a library (`@bytecodealliance/jco-transpile`), not the jco CLI
// package: the CLI pulls in componentize-js, TypeScript and wizer that a host never runs.
interface Jco {
  readonly transpile: typeof import("@bytecodealliance/jco-transpile").transpileBytes
  readonly componentWit: typeof import("@bytecodealliance/jco-transpile/wasm-tools").componentWit
}

// Importing jco costs ~100 ms: only pay it when something must actually be transpiled.
let jcoModule: Promise<Jco> | undefined
const jco = (): Promise<Jco> =>
  (jcoModule ??= Promise.all([
    import("@bytecodealliance/jco-transpile"),
    import("@bytecodealliance/jco-transpile/wasm-tools")
  ]).then(([transpiler, tools]) => ({ transpile: transpiler.transpileBytes, componentWit: tools.componentWit })))

/**
 * The WIT text of a component's world, without transpiling it: what a process that only checks a
 * component (a cluster client refusing bad bytes at deploy) needs. Its core modules are validated too
 * (`WebAssembly.validate`, no compile): wasm-tools reads the component's structure, not their code.
 */
export const worldWit = async (bytes: Uint8Array): Promise<string> => {
  const { componentWit } = await jco()
  const stubbed = stubCores(bytes)
  const wit = await componentWit(stubbed?.component ?? bytes)
  const invalid = stubbed?.cores.findIndex((core) => !WebAssembly.validate(core as Uint8Array<ArrayBuffer>)) ?? -1
  if (invalid !== -1) throw new Error(`core module ${invalid} does not validate`)
  return wit
}

/** What the transpile step yields, and what the disk cache stores. */
export interface Transpiled {
  readonly glue: string
  readonly coreModules: ReadonlyArray<{ readonly name: string; readonly bytes: Uint8Array }>
  readonly wit: string
  /** Interfaces the imports object must provide, as jco names them (unversioned). */
  readonly imports: ReadonlyArray<string>
  /** The import functions lowered as suspending (`iface#fn`, unversioned): their host calls may return a promise. */
  readonly suspending: ReadonlyArray<string>
}

/** Everything derived from the bytes of one component, ready to instantiate. */
export interface Loaded extends Transpiled {
  readonly instantiate: GlueInstantiate
  readonly modules: ReadonlyMap<string, WebAssembly.Module>
}

export type GlueInstantiate = (
  getCoreModule: (name: string) => WebAssembly.Module,
  imports: object,
  instantiateCore: (module: WebAssembly.Module, imports: WebAssembly.Imports) => WebAssembly.Instance
) => unknown

/** The transpiler's version takes part in every cache key: a new transpiler means new glue. */
export const jcoVersion: string = (JSON.parse(
  readFileSync(path.join(path.dirname(createRequire(import.meta.url).resolve("@bytecodealliance/jco-transpile")), "..", "package.json"), "utf8")
) as { version: string }).version

/** Changes when the way glue is patched changes: part of the disk cache key. */
const gluePatchVersion = 6
const cacheVersion = `jco-transpile-${jcoVersion}/patch-${gluePatchVersion}`

const glueName = "component"

// Per-call debug logging reads `process.env` on every call (41% of the glue's call cost).
const debugLogPattern = /const _debugLog = \(\.\.\.args\) => \{\s*if \(!globalThis\?\.process\?\.env\?\.JCO_DEBUG\) \{ return; \}\s*console\.debug\(\.\.\.args\);\s*\};/

/**
 * Host imports that may suspend the guest: `messaging.request` waits for another actor's reply,
 * `http.fetch` for the network, `wasi:io/poll`'s `poll` and `pollable.block` for a clock's deadline.
 * jco lowers them with JSPI (`WebAssembly.Suspending`), and the exports that can reach them become
 * asynchronous (`WebAssembly.promising`): the guest's stack is parked while the host awaits, with no
 * threads and no busy waiting.
 */
export const suspendingImports: ReadonlyArray<string> = [
  "airssys:component/messaging#request",
  "airssys:component/http#fetch",
  "wasi:io/poll#poll",
  "wasi:io/poll#[method]pollable.block"
]

// Only a clock's pollables ever wait (stream pollables are always ready): a component that imports
// `wasi:io/poll` without `wasi:clocks/monotonic-clock` keeps synchronous glue, and the bridge answers
// its polls without a promise.
const suspendsOnlyWith: Readonly<Record<string, string>> = { "wasi:io/poll": "wasi:clocks/monotonic-clock" }
// `extra`: functions the host implements asynchronously for this load (e.g. storage over SQL), which
// suspend whatever else the component imports.
const suspendingIn = (imports: ReadonlyArray<string>, extra: ReadonlyArray<string> = []): ReadonlyArray<string> => [
  ...suspendingImports.filter((name) => {
    const iface = interfaceOf(name)
    const alongside = suspendsOnlyWith[iface]
    return imports.includes(iface) && (alongside === undefined || imports.includes(alongside))
  }),
  ...extra.filter((name) => !suspendingImports.includes(name) && imports.includes(interfaceOf(name)))
]
const suspendingExports = ["airssys:component/handler#handle-message", "airssys:component/lifecycle#init", "process", "wasi:cli/run#run"]

// `iface#fn` → `iface`; a world-level function (`process`) is its own name.
const interfaceOf = (name: string): string => name.includes("#") ? name.slice(0, name.indexOf("#")) : name

/** V8 has no WebAssembly memory left to give (it allows ~16k live wasm memories per process). */
export class WasmMemoryExhausted extends Error {}

const outOfWasmMemory = /out of memory|could not allocate memory/i

// Set once V8 has refused a wasm memory in this process: from then on a trap is worth a probe.
let exhaustionSeen = false

/** Whether `cause` is V8 refusing a wasm memory, here or inside jco. */
export const isWasmMemoryExhausted = (cause: unknown): boolean => {
  const exhausted = cause instanceof WasmMemoryExhausted || (cause instanceof Error && outOfWasmMemory.test(cause.message))
  if (exhausted) exhaustionSeen = true
  return exhausted
}

/**
 * Whether V8 would give this process one more wasm memory: asked after a trap, to tell a guest whose
 * `memory.grow` failed for want of memory from a guest bug. A probe reserves a memory's address space
 * until the next GC, so it is only made once V8 has refused a memory in this process (an instantiate or
 * a load): a 32-bit memory reserves its whole range when it is made, so growing it does not run out of
 * address space before new instances do.
 */
export const wasmMemoryLeft = (): boolean => {
  if (!exhaustionSeen) return true
  try {
    new WebAssembly.Memory({ initial: 1 })
    return true
  } catch {
    return false
  }
}

// jco's transpiler is itself wasm, instantiated on first use; when V8 refuses it a memory then, jco
// rejects a promise nobody awaits, and an unhandled rejection ends Node. So until jco has transpiled
// once, first check there is room: four memories (it needs two), dropped at once.
let transpilerStarted = false
const checkWasmMemoryHeadroom = (): void => {
  if (transpilerStarted) return
  const held: Array<WebAssembly.Memory> = []
  try {
    for (let i = 0; i < 4; i++) held.push(new WebAssembly.Memory({ initial: 1 }))
  } catch (cause) {
    throw new WasmMemoryExhausted(`no WebAssembly memory left to transpile with: ${cause instanceof Error ? cause.message : String(cause)}`)
  }
}

/**
 * What the glue's lifting needs beyond jco's own (prepended to the glue module): the canonical ABI traps
 * on a string or list outside linear memory, a misaligned return area, and a string that is not UTF-8,
 * where jco's glue clips (`buffer.slice` of an out-of-range pointer is empty), wraps (i32 pointers above
 * 2^31 arrive negative) or replaces bytes with U+FFFD. Each violation throws `WebAssembly.RuntimeError`,
 * which `classify` reports as a `Trap`.
 */
const glueChecks = [
  "const _airssysTrap = (message) => new WebAssembly.RuntimeError(message);",
  "const _airssysUtf8 = new TextDecoder('utf-8', { fatal: true });",
  "const _airssysDecode = (decoder, view) => { try { return decoder.decode(view); } catch { throw _airssysTrap(`string is not valid ${decoder.encoding}`); } };",
  "const _airssysRange = (memory, ptr, bytes, what) => { const start = ptr >>> 0; const end = start + bytes; " +
  "if (end > memory.buffer.byteLength) throw _airssysTrap(`${what} at ${start} (${bytes} bytes) is outside linear memory (${memory.buffer.byteLength} bytes)`); return start; };",
  "const _airssysLiftString = (memory, ptr, len) => { const start = _airssysRange(memory, ptr, len >>> 0, 'string'); " +
  "return _airssysDecode(_airssysUtf8, new Uint8Array(memory.buffer, start, len >>> 0)); };",
  "const _airssysLiftList = (memory, ptr, len, size) => { const bytes = (len >>> 0) * size; const start = _airssysRange(memory, ptr, bytes, 'list'); " +
  "return memory.buffer.slice(start, start + bytes); };",
  "const _airssysSlice = (memory, start, end) => { if (!(start >= 0 && end >= start)) throw _airssysTrap(`list at ${start >>> 0} is outside linear memory`); " +
  "_airssysRange(memory, start, end - start, 'list'); return memory.buffer.slice(start, end); };",
  "const _airssysArea = (memory, ptr, align, size, what) => { if (memory === undefined) return; if (((ptr >>> 0) % align) !== 0) throw _airssysTrap(`${what} ${ptr >>> 0} is not aligned to ${align}`); " +
  "_airssysRange(memory, ptr, size, what); };"
].join("\n")

const widths: Readonly<Record<string, number>> = {
  Int8: 1, Uint8: 1, Int16: 2, Uint16: 2, Int32: 4, Uint32: 4, Float32: 4, BigInt64: 8, BigUint64: 8, Float64: 8
}

/**
 * Before the first read of an export's return area (`dataView(m).getX(ret + k)`) or the first write of a
 * host call's results into the guest's (`setX(argN + k)`), checks its alignment and extent: the
 * widest access gives the alignment of the result type (its alignment is that of its widest field) and
 * the furthest access its size.
 */
const checkAreas = (segment: string, pattern: RegExp, what: string, atEntry: boolean): string => {
  let align = 1
  let size = 0
  let first: RegExpExecArray | undefined
  // A trampoline ends where jco names it (`_trampoline3.fnName = ...`); what follows is not its code.
  const end = atEntry ? segment.search(/\b_trampoline\d+\.fnName = /) : -1
  for (const match of (end >= 0 ? segment.slice(0, end) : segment).matchAll(pattern)) {
    const width = widths[match[2]!] ?? 1
    align = Math.max(align, width)
    size = Math.max(size, Number(match[4]) + width)
    first ??= match
  }
  if (first === undefined) return segment
  const [access, memory, , pointer] = first
  const at = first.index
  const check = `_airssysArea(${memory}, ${pointer}, ${align}, ${size}, "${what}")`
  if (!atEntry) return `${segment.slice(0, at)}(${check}, ${access})${segment.slice(at + access.length)}`
  // Writes may sit in several branches (`ok`, `err`): the pointer is an argument, checked on entry,
  // before the host function runs at all (memory only grows meanwhile).
  const entry = /^const _trampoline\d+ = (?:async )?function\s*\([^)]*\)\s*\{/.exec(segment)
  if (entry === null || !new RegExp(`\\b${pointer}\\b`).test(entry[0])) return segment
  return `${entry[0]} ${check};${segment.slice(entry[0].length)}`
}

const returnAreaRead = /dataView\((\w+)\)\.get(\w+)\((ret) \+ (\d+), true\)/g
const resultAreaWrite = /dataView\((\w+)\)\.set(\w+)\((arg\d+) \+ (\d+), /g

/** jco's glue as we run it: without its per-call debug logging, and with the canonical ABI's checks. */
export const patchGlue = (generated: string): string => {
  let glue = generated.replace(debugLogPattern, "const _debugLog = () => {};")
  // Not fatal if a jco upgrade changes the shape: calls through the glue just stay slower.
  if (glue === generated) process.emitWarning("airssys-wasm: jco's _debugLog was not found; glue calls keep reading process.env")
  glue = glue
    .replace(/TEXT_DECODER_UTF8\.decode\(new Uint8Array\((\w+)\.buffer, (\w+), (\w+)\)\)/g, "_airssysLiftString($1, $2, $3)")
    .replace(/TEXT_DECODER_UTF8\.decode\(/g, "_airssysDecode(_airssysUtf8, ")
    .replace(/utf16Decoder\.decode\(/g, "_airssysDecode(utf16Decoder, ")
    .replace(/new TextDecoder\('utf-16'\)/g, "new TextDecoder('utf-16', { fatal: true })")
    .replace(/(\w+)\.buffer\.slice\((\w+), \2 \+ (\w+) \* (\d+)\)/g, "_airssysLiftList($1, $2, $3, $4)")
    .replace(/(?<![\w.])(memory\d+)\.buffer\.slice\(/g, "_airssysSlice($1, ")
  // Per export wrapper (each declares its own `ret`) and per import trampoline.
  glue = glue.split(/(?=\blet ret;)/).map((segment) => checkAreas(segment, returnAreaRead, "return area", false)).join("")
  glue = glue.split(/(?=\bconst _trampoline\d+ = )/).map((segment) => checkAreas(segment, resultAreaWrite, "result area", true)).join("")
  return `${glueChecks}\n${glue}`
}
const sameList = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i])

/**
 * Transpiles `bytes`. jco is given the component with stub core modules (`coreStubs.ts`): the same glue,
 * without jco reading every function body. The core modules in the result are the originals.
 */
const transpileComponent = async (
  bytes: Uint8Array,
  stubbed: Stubbed | undefined = stubCores(bytes),
  extra: ReadonlyArray<string> = []
): Promise<Transpiled> => {
  checkWasmMemoryHeadroom()
  const { transpile, componentWit } = await jco()
  const input = stubbed?.component ?? bytes
  // `noComponentErrorWrapping: false`: the glue jco's CLI package generated (a guest's top-level `err`
  // thrown as jco's ComponentError), which the failure handling below expects.
  const options = { name: glueName, instantiation: "async", emitTypescriptDeclarations: false, noComponentErrorWrapping: false } as const
  const transpileFor = (suspending: ReadonlyArray<string>, exported: ReadonlySet<string>) =>
    suspending.length === 0 ? transpile(input, options) : transpile(input, {
      ...options,
      asyncMode: "jspi",
      asyncImports: [...suspending],
      asyncExports: suspendingExports.filter((name) => exported.has(interfaceOf(name)))
    })
  // The world's WIT says which imports may suspend, so the transpile is done once with the right mode
  // (a second transpile was most of a cold load for guests that import clocks, e.g. QuickJS).
  const wit = await componentWit(input)
  const world = parseWorld(wit)
  const expected = suspendingIn(world.imports.map((item) => unversioned(item.name)), extra)
  let out = await transpileFor(expected, new Set(world.exports.map((item) => unversioned(item.name))))
  let suspending = suspendingIn(out.imports, extra)
  if (!sameList(suspending, expected)) {
    // The WIT and jco disagreed: jco's own list decides.
    out = await transpileFor(suspending, new Set(out.exports.map(([name]) => unversioned(name))))
  } else {
    suspending = expected
  }
  const glueBytes = out.files[`${glueName}.js`]
  if (glueBytes === undefined) throw new Error("jco produced no glue module")
  const glue = patchGlue(new TextDecoder().decode(glueBytes))
  const coreModules: Array<{ name: string; bytes: Uint8Array }> = []
  for (const [name, core] of Object.entries(out.files)) {
    if (!name.endsWith(".wasm")) continue
    const original = stubbed === undefined ? core : originalOf(stubbed, core)
    // A stub jco changed on the way through (it lost its index): transpile the component as it is.
    if (original === undefined) return transpileComponent(bytes, undefined, extra)
    coreModules.push({ name, bytes: original })
  }
  transpilerStarted = true
  return { glue, coreModules, wit, imports: out.imports, suspending }
}

// The original of a stub jco handed back; a module jco made itself (e.g. for JSPI) is its own original.
const originalOf = (stubbed: Stubbed, core: Uint8Array): Uint8Array | undefined => {
  const index = stubIndex(core)
  if (index === undefined) return isStub(core) ? undefined : core
  return stubbed.cores[index]
}

/**
 * Whether `cause` is jco's own wasm trapping (a panic inside its transpiler): its instance is poisoned
 * then, and every later call into it fails with "cannot enter component instance".
 */
const isJcoTrap = (cause: unknown): boolean =>
  cause instanceof WebAssembly.RuntimeError ||
  (cause instanceof Error && /wasm trap|unreachable|cannot enter component instance/i.test(cause.message))

interface TranspileRequest {
  readonly id: number
  readonly bytes: Uint8Array
  readonly extra: ReadonlyArray<string>
}
type TranspileReply =
  | { readonly id: number; readonly ok: true; readonly transpiled: Transpiled }
  | { readonly id: number; readonly ok: false; readonly trapped: boolean; readonly message: string }

/** A worker thread with a jco of its own, and the requests it has not answered. */
interface Transpiler {
  readonly worker: Worker
  readonly pending: Map<number, (reply: TranspileReply) => void>
}

// jco's transpiler is wasm instantiated once per process: one malformed component that makes it trap
// (the fuzzer found several) would leave every later load in the process failing. So after the first
// such trap, transpiles run in a worker thread with a fresh jco, replaced whenever it traps in turn.
let jcoPoisoned = false
let transpiler: Transpiler | undefined
let requests = 0

const startTranspiler = (): Transpiler => {
  const worker = new Worker(new URL(import.meta.url), { workerData: { airssysTranspiler: true } })
  const self: Transpiler = { worker, pending: new Map() }
  worker.unref()
  worker.on("message", (reply: TranspileReply) => {
    const settle = self.pending.get(reply.id)
    self.pending.delete(reply.id)
    if (self.pending.size === 0) worker.unref()
    if (!reply.ok && reply.trapped) retire(self)
    settle?.(reply)
  })
  worker.on("error", (cause) => {
    retire(self)
    for (const [id, settle] of self.pending) settle({ id, ok: false, trapped: true, message: String(cause) })
    self.pending.clear()
  })
  return self
}

const retire = (self: Transpiler): void => {
  if (transpiler === self) transpiler = undefined
  void self.worker.terminate()
}

const transpileInWorker = (bytes: Uint8Array, extra: ReadonlyArray<string>, retries = 1): Promise<Transpiled> =>
  new Promise<TranspileReply>((resolve) => {
    const current = transpiler ??= startTranspiler()
    const id = requests++
    current.pending.set(id, resolve)
    current.worker.ref()
    current.worker.postMessage({ id, bytes, extra } satisfies TranspileRequest)
  }).then((reply) => {
    if (reply.ok) return reply.transpiled
    // Queued behind an input that poisoned that worker: try again on a fresh one.
    if (reply.trapped && retries > 0 && /cannot enter component instance/i.test(reply.message)) return transpileInWorker(bytes, extra, retries - 1)
    throw new Error(reply.message)
  })

/** `transpile`, in this thread until jco traps here once, then in a worker (see `jcoPoisoned`). */
const transpileSafely = async (bytes: Uint8Array, stubbed: Stubbed | undefined, extra: ReadonlyArray<string>): Promise<Transpiled> => {
  if (jcoPoisoned) return transpileInWorker(bytes, extra)
  try {
    return await transpileComponent(bytes, stubbed, extra)
  } catch (cause) {
    if (isJcoTrap(cause)) jcoPoisoned = true
    throw cause
  }
}

// The worker side: this module, loaded in a thread started by `startTranspiler`.
if (!isMainThread && (workerData as { airssysTranspiler?: unknown } | null)?.airssysTranspiler === true) {
  parentPort?.on("message", ({ id, bytes, extra }: TranspileRequest) => {
    transpileComponent(bytes, undefined, extra).then(
      (transpiled) => parentPort?.postMessage({ id, ok: true, transpiled } satisfies TranspileReply),
      (cause: unknown) =>
        parentPort?.postMessage({
          id,
          ok: false,
          trapped: isJcoTrap(cause),
          message: cause instanceof Error ? cause.message : String(cause)
        } satisfies TranspileReply)
    )
  })
}

/** Counts real transpiles, so tests can show that a cache hit does none. */
export let transpileCount = 0

// Disk cache: one folder per key with the glue, the core modules and the WIT. Read synchronously: a dozen
// small local files, where each asynchronous read is a round trip through libuv's thread pool (on a busy
// machine, most of a disk-cache load's time).
const readCached = async (dir: string): Promise<Transpiled | undefined> => {
  try {
    const manifest: { version: string; coreModules: Array<string>; imports: Array<string>; suspending?: Array<string> } = JSON.parse(
      readFileSync(path.join(dir, "manifest.json"), "utf8")
    )
    if (manifest.version !== cacheVersion) return undefined
    // The original core modules are read when first needed: a hit that finds its rewritten modules
    // compiles those and never needs them (1.3 MB of reading for the QuickJS guest).
    const coreModules = manifest.coreModules.map((name) => {
      const file = path.join(dir, name)
      if (!existsSync(file)) throw new Error(`${file} is missing`)
      let bytes: Uint8Array | undefined
      return { name, get bytes() { return bytes ??= new Uint8Array(readFileSync(file)) } }
    })
    const glue = readFileSync(path.join(dir, "glue.js"), "utf8")
    const wit = readFileSync(path.join(dir, "world.wit"), "utf8")
    // An entry written before the list was kept: it was transpiled with the default suspending imports.
    return { glue, coreModules, wit, imports: manifest.imports, suspending: manifest.suspending ?? suspendingIn(manifest.imports) }
  } catch {
    // A missing or damaged entry is a miss: transpile again and rewrite it.
    return undefined
  }
}

const writeCached = async (dir: string, transpiled: Transpiled): Promise<void> => {
  const staging = `${dir}.${process.pid}.${randomUUID()}.tmp`
  await fs.mkdir(staging, { recursive: true })
  await fs.writeFile(path.join(staging, "glue.js"), transpiled.glue)
  await fs.writeFile(path.join(staging, "world.wit"), transpiled.wit)
  for (const { name, bytes } of transpiled.coreModules) await fs.writeFile(path.join(staging, name), bytes)
  // The manifest goes last: an entry without one is incomplete and is ignored.
  await fs.writeFile(path.join(staging, "manifest.json"), JSON.stringify({
    version: cacheVersion,
    coreModules: transpiled.coreModules.map((m) => m.name),
    imports: transpiled.imports,
    suspending: transpiled.suspending
  }))
  await fs.rm(dir, { recursive: true, force: true })
  await fs.rename(staging, dir).catch(() => fs.rm(staging, { recursive: true, force: true }))
}

/** Counts disk-cache glue compiled with its code cache, so tests can show a damaged one is not used. */
export let glueCodeCacheHits = 0

/**
 * The glue of a disk cache entry (`glue` is the text of its `glue.js`), compiled as a script with V8's
 * code cache from `glue.v8cache` beside it (`glueScript.ts`), which is written when missing, damaged or
 * refused by V8 (another Node). A glue that does not compile or run as a script is imported from its file.
 */
const loadGlueFile = async (entry: string, glue: string): Promise<GlueInstantiate> => {
  const file = path.join(entry, "glue.js")
  const url = pathToFileURL(file).href
  const source = glueScript(glue, url)
  const cacheFile = path.join(entry, "glue.v8cache")
  let cachedData: Uint8Array | undefined
  try {
    cachedData = codeCacheFor(glue, url, readFileSync(cacheFile))
  } catch {
    // No cache yet: compiled from the source and written below.
  }
  let script: vm.Script
  let instantiate: unknown
  try {
    script = new vm.Script(source, {
      filename: file,
      ...(cachedData === undefined ? {} : { cachedData }),
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER
    })
    instantiate = (script.runInThisContext() as () => unknown)()
  } catch {
    return importGlueFile(file)
  }
  if (typeof instantiate !== "function") return importGlueFile(file)
  if (cachedData !== undefined && script.cachedDataRejected !== true) glueCodeCacheHits++
  else await writeFileAtomically(cacheFile, codeCacheFile(glue, url, script.createCachedData()))
  return instantiate as GlueInstantiate
}

/**
 * The glue of a disk cache entry, imported from its file: Node reads and compiles it directly, where a
 * `data:` URL of the same source is percent-decoded and base64-decoded first (for a ~400 KB glue, tens of
 * milliseconds of a disk-cache load).
 */
const importGlueFile = async (file: string): Promise<GlueInstantiate> => {
  const module: { instantiate?: unknown } = await import(pathToFileURL(file).href)
  if (typeof module.instantiate !== "function") throw new Error("jco glue has no instantiate export")
  return module.instantiate as GlueInstantiate
}

// Glue modules are served to `import()` from memory by a module hook, under this scheme: a `data:` URL of
// the same source costs Node a percent-decode and a base64-decode in JavaScript first (20–80 ms of a cold
// load for a ~400 KB glue, where the hook's import costs ~10 ms). Node without `module.registerHooks`
// (before 22.15) gets `data:` URLs.
const glueScheme = "airssys-wasm-glue:"
// Not a cache: a source is here only from `importGlue`'s `import()` until the hook loads it.
const glueSources = new Map<string, string>()
let glueModules = 0
let glueHook: boolean | undefined
const hookGlue = (): boolean =>
  glueHook ??= (() => {
    const { registerHooks } = nodeModule as Partial<typeof nodeModule>
    if (typeof registerHooks !== "function") return false
    // Every other specifier and URL goes on to Node (and to any hooks the host registered) untouched.
    registerHooks({
      resolve: (specifier, context, next) =>
        specifier.startsWith(glueScheme) ? { url: specifier, format: "module", shortCircuit: true } : next(specifier, context),
      load: (url, context, next) => {
        if (!url.startsWith(glueScheme)) return next(url, context)
        const source = glueSources.get(url)
        if (source === undefined) throw new Error(`no glue module ${url}`)
        glueSources.delete(url)
        return { format: "module", source, shortCircuit: true }
      }
    })
    return true
  })()

export const importGlue = async (glue: string, key: string): Promise<GlueInstantiate> => {
  // Loaded from memory: no temp files. V8 never frees an imported module, which is why callers cache by hash.
  const source = `${glue}\n//# sourceURL=airssys-wasm:component/${key}.js`
  let module: { instantiate?: unknown } | undefined
  if (hookGlue()) {
    const url = `${glueScheme}${key}/${glueModules++}`
    glueSources.set(url, source)
    module = await import(url).catch(() => undefined)
    // Never asked for: something between this import and Node's loader (a test runner's module runner)
    // resolved it on its own. From now on, `data:` URLs.
    if (glueSources.delete(url)) glueHook = false
  }
  module ??= await import(`data:text/javascript;base64,${Buffer.from(source).toString("base64")}`) as { instantiate?: unknown }
  if (typeof module.instantiate !== "function") throw new Error("jco glue has no instantiate export")
  return module.instantiate as GlueInstantiate
}

/**
 * From component bytes to compiled, instantiable form: disk cache (when given) or transpile, then load
 * the glue and compile every core module once.
 */
/** A change made to every core module before it is compiled (memory cap, fuel metering). */
export interface CoreRewrite {
  /** Names the rewrite in cache keys: the same bytes under another rewrite are another artifact. */
  readonly key: string
  readonly apply: (core: Uint8Array) => Promise<Uint8Array>
}

const load = async (
  bytes: Uint8Array,
  key: string,
  cacheDirectory: string | undefined,
  rewrite: CoreRewrite | undefined,
  extra: ReadonlyArray<string>
): Promise<Loaded> => {
  const entry = cacheDirectory === undefined ? undefined : path.join(cacheDirectory, key)
  let transpiled = entry === undefined ? undefined : await readCached(entry)
  let early: ReadonlyMap<Uint8Array, Promise<Prepared>> | undefined
  if (transpiled === undefined) {
    const stubbed = stubCores(bytes)
    // The original core modules are rewritten (here, in turn) and compiled (by V8, off this thread)
    // before jco starts: the compiles run while jco transpiles.
    early = stubbed === undefined ? undefined : new Map(stubbed.cores.map((core) => [core, prepare(core, rewrite)]))
    // A failed transpile leaves them unawaited: their failure is the transpile's, not an unhandled one.
    for (const pending of early?.values() ?? []) pending.catch(() => undefined)
    transpiled = await transpileSafely(bytes, stubbed, extra)
    transpileCount++
    if (entry !== undefined) await writeCached(entry, transpiled)
  }
  const { glue } = transpiled
  // The rewritten core modules are kept beside the transpile, per rewrite: a disk hit then reads and
  // compiles them, with no rewriting, hashing or validating of its own (compiling validates).
  const rewritten = entry === undefined || rewrite === undefined
    ? undefined
    : path.join(entry, `rewritten-${sha256(rewrite.key).slice(0, 16)}`)
  // Core modules compile concurrently (V8 compiles off the main thread; the rewrite runs in turn on it),
  // started before the glue is loaded, which then runs beside them.
  const compiling = Promise.all(transpiled.coreModules.map(async (original) => {
    const { name } = original
    const started = early?.get(original.bytes)
    if (rewrite === undefined) return [name, started === undefined ? await WebAssembly.compile(original.bytes as Uint8Array<ArrayBuffer>) : (await started).module] as const
    const file = rewritten === undefined ? undefined : path.join(rewritten, name)
    const cached = started !== undefined || file === undefined ? undefined : await compileCached(file)
    if (cached !== undefined) return [name, cached] as const
    const { core, module } = await (started ?? prepare(original.bytes, rewrite))
    if (file !== undefined) await writeFileAtomically(file, core)
    return [name, module] as const
  }))
  // A failed glue leaves it unawaited: the load fails with the glue's error.
  compiling.catch(() => undefined)
  // From the cache entry's file when there is one (written above if it was not), else from memory.
  const instantiate = entry === undefined
    ? await importGlue(glue, key)
    : await loadGlueFile(entry, glue).catch(() => importGlue(glue, key))
  const modules = new Map<string, WebAssembly.Module>(await compiling)
  return { ...transpiled, instantiate, modules }
}

interface Prepared {
  /** The core module as rewritten. */
  readonly core: Uint8Array
  readonly module: WebAssembly.Module
}

const prepare = async (original: Uint8Array, rewrite: CoreRewrite | undefined): Promise<Prepared> => {
  const core = rewrite === undefined ? original : await rewrite.apply(original)
  return { core, module: await WebAssembly.compile(core as Uint8Array<ArrayBuffer>) }
}

// A missing or damaged file is a miss: rewritten again and rewritten to disk.
const compileCached = async (file: string): Promise<WebAssembly.Module | undefined> => {
  try {
    return await WebAssembly.compile(readFileSync(file))
  } catch {
    return undefined
  }
}

const writeFileAtomically = async (file: string, bytes: Uint8Array): Promise<void> => {
  const staging = `${file}.${process.pid}.${randomUUID()}.tmp`
  try {
    await fs.mkdir(path.dirname(file), { recursive: true })
    await fs.writeFile(staging, bytes)
    await fs.rename(staging, file)
  } catch {
    // Not cached this time (e.g. a read-only directory): the next load rewrites again.
    await fs.rm(staging, { force: true })
  }
}

/**
 * `load`, once per key in `artifacts` (the `ComponentCache`'s): concurrent and later loads of the same
 * bytes share one transpile and compile; a failed one is forgotten.
 */
export const loadOnce = (
  bytes: Uint8Array,
  hash: string,
  cacheDirectory: string | undefined,
  rewrite: CoreRewrite | undefined,
  artifacts: BoundedCache<string, Promise<Loaded>>,
  /** Import functions (`iface#fn`, unversioned) the host implements asynchronously: lowered as suspending too. */
  extra: ReadonlyArray<string> = []
): Promise<Loaded> => {
  // Other suspending imports are other glue: another artifact, another disk cache entry.
  const key = extra.length === 0 ? hash : `${hash}-suspending-${sha256(extra.join(",")).slice(0, 16)}`
  const variant = rewrite === undefined ? key : `${key}/${rewrite.key}`
  let loading = artifacts.get(variant)
  if (loading === undefined) {
    const started = load(bytes, key, cacheDirectory, rewrite, extra)
    loading = started
    artifacts.set(variant, started)
    started.catch(() => artifacts.deleteIf(variant, started))
  }
  return loading
}

/** An instantiated component: jco's export object and the core instances behind it. */
export interface Instantiated {
  /** jco's export object: made on first use when the glue was deferred (see `instantiate`); may throw then. */
  readonly exports: Readonly<Record<string, unknown>>
  readonly cores: ReadonlyArray<WebAssembly.Instance>
  /** The host half of the fuel-metered core modules' `airssys:fuel` import. */
  readonly fuel: FuelHost
}

// Whether a compiled core module was fuel-instrumented (it then imports `airssys:fuel`).
const importsFuel = new WeakMap<WebAssembly.Module, boolean>()
const needsFuelHost = (module: WebAssembly.Module): boolean => {
  let needs = importsFuel.get(module)
  if (needs === undefined) {
    needs = WebAssembly.Module.imports(module).some((entry) => entry.module === fuelImportModule)
    importsFuel.set(module, needs)
  }
  return needs
}

// A component that imports nothing, made of one core module that imports nothing but the fuel host, needs
// nothing from jco's glue to make its core instance (the glue would only hand it an empty imports object).
const standaloneCore = new WeakMap<Loaded, WebAssembly.Module | null>()
const standaloneCoreOf = (loaded: Loaded): WebAssembly.Module | undefined => {
  let module = standaloneCore.get(loaded)
  if (module === undefined) {
    const [only] = loaded.modules.values()
    module = loaded.imports.length === 0 && loaded.modules.size === 1 && only !== undefined &&
        WebAssembly.Module.imports(only).every((entry) => entry.module === fuelImportModule)
      ? only
      : null
    standaloneCore.set(loaded, module)
  }
  return module ?? undefined
}

const preview1 = "wasi_snapshot_preview1"
const procExit = (code: unknown): never => {
  throw new ExitSignal(typeof code === "number" ? code >>> 0 : 1)
}

/**
 * A preview1 program's `proc_exit(code)` ends the call with its code. The preview1 adapter jco ships
 * turns it into `wasi:cli/exit.exit(err)` for every code but 0 (so 33 would become 1); a core module
 * that imports `proc_exit` from the adapter gets this instead, which the calling Instance sees as the
 * same `GuestExit` the adapter's way would give, with the code the program asked for.
 */
const withExactProcExit = (imports: WebAssembly.Imports | undefined): WebAssembly.Imports | undefined => {
  const wasi = imports?.[preview1]
  if (imports === undefined || wasi === undefined || typeof wasi["proc_exit"] !== "function") return imports
  return { ...imports, [preview1]: { ...wasi, proc_exit: procExit } }
}

// Runs the glue: `adopt`, when given, is the core instance it gets instead of making one.
const runGlue = (loaded: Loaded, imports: object, fuel: FuelHost, cores: Array<WebAssembly.Instance>, adopt?: WebAssembly.Instance) => {
  let metered = 0
  const result = loaded.instantiate(
    (name) => {
      const module = loaded.modules.get(name)
      if (module === undefined) throw new Error(`jco glue asked for an unknown core module ${name}`)
      return module
    },
    imports,
    (module, imports) => {
      if (adopt !== undefined && module === standaloneCoreOf(loaded)) {
        const adopted = adopt
        adopt = undefined
        return adopted
      }
      const linked = withExactProcExit(imports)
      // Each metered core instance gets its own refill import, numbered as `fuelMeter` numbers its globals.
      const instance = new WebAssembly.Instance(
        module,
        needsFuelHost(module) ? { ...linked, [fuelImportModule]: fuel.importsFor(metered++) } : linked
      )
      cores.push(instance)
      return instance
    }
  )
  if (result instanceof Promise) throw new Error("jco glue instantiated asynchronously")
  return result as Record<string, unknown>
}

// A core instance made without the glue. jco's glue builds its classes and closures anew on every
// instantiate (~30 KB of heap per instance, against ~1.4 KB for the core instance): they are made only
// when something calls an export through the glue, around the same core instance.
class DeferredGlue implements Instantiated {
  readonly cores: ReadonlyArray<WebAssembly.Instance>
  readonly fuel: FuelHost
  private readonly loaded: Loaded
  private glue: Readonly<Record<string, unknown>> | undefined
  constructor(loaded: Loaded, core: WebAssembly.Instance, fuel: FuelHost) {
    this.loaded = loaded
    this.cores = [core]
    this.fuel = fuel
  }
  get exports(): Readonly<Record<string, unknown>> {
    return this.glue ??= runGlue(this.loaded, {}, this.fuel, [], this.cores[0])
  }
}

/**
 * Instantiates synchronously: core modules are already compiled, and handing jco a synchronous
 * `instantiateCore` lets its generator run to the end without a promise (~60 µs instead of a round of
 * microtasks per core module). A standalone component (no imports, one core module) gets its core
 * instance at once and its glue when first needed.
 *
 * `fuel` is the host half of the metered core modules' fuel import: code that runs now (start functions,
 * `_initialize` called by the glue) draws on its instantiate budget. Throws what the guest or jco throws;
 * `fuel.instantiateStopped()` then says whether the budget stopped it.
 */
export const instantiate = (loaded: Loaded, imports: object, fuel: FuelHost = makeFuelHost()): Instantiated => {
  const standalone = standaloneCoreOf(loaded)
  if (standalone !== undefined) {
    const core = new WebAssembly.Instance(standalone, needsFuelHost(standalone) ? { [fuelImportModule]: fuel.imports } : {})
    fuel.endInstantiate()
    return new DeferredGlue(loaded, core, fuel)
  }
  const cores: Array<WebAssembly.Instance> = []
  const exports = runGlue(loaded, imports, fuel, cores)
  // The start code is done: what it did not use is not handed to the calls.
  fuel.endInstantiate()
  return { exports, cores, fuel }
}

/** A failed call, as the seam sees it. */
export type Failure =
  | { readonly _tag: "GuestErr"; readonly payload: unknown }
  | { readonly _tag: "Exit"; readonly code: number }
  | { readonly _tag: "Trap"; readonly message: string }
  /** V8 refused a wasm memory (a new instance's): not the guest's doing. */
  | { readonly _tag: "Exhausted"; readonly message: string }


export const classify = (thrown: unknown): Failure => {
  if (thrown instanceof GuestErr) return { _tag: "GuestErr", payload: thrown.payload }
  if (thrown instanceof Error && thrown.constructor.name === "ComponentError" && Object.hasOwn(thrown, "payload")) {
    return { _tag: "GuestErr", payload: (thrown as Error & { payload: unknown }).payload }
  }
  if (thrown instanceof ExitSignal) return { _tag: "Exit", code: thrown.code }
  if (thrown instanceof WebAssembly.RuntimeError) return { _tag: "Trap", message: thrown.message }
  if (thrown instanceof RangeError && /call stack/i.test(thrown.message)) return { _tag: "Trap", message: "stack overflow" }
  if (thrown instanceof WasmMemoryExhausted || (thrown instanceof RangeError && outOfWasmMemory.test(thrown.message))) {
    exhaustionSeen = true
    return { _tag: "Exhausted", message: thrown.message }
  }
  if (thrown instanceof Error) return { _tag: "Trap", message: thrown.message }
  // A host refusal (`{ payload }`) from an import without a `result` to carry it: jco lets it through.
  if (typeof thrown === "object" && thrown !== null && "payload" in thrown) {
    const payload = (thrown as { readonly payload: unknown }).payload
    return { _tag: "Trap", message: typeof payload === "string" ? payload : `host refused the call: ${safeJson(payload)}` }
  }
  return { _tag: "Trap", message: String(thrown) }
}

const safeJson = (value: unknown): string => {
  try {
    return JSON.stringify(value, (_key, v: unknown) => typeof v === "bigint" ? v.toString() : v) ?? String(value)
  } catch {
    return String(value)
  }
}

/** Runs `f`, handing any throw to `onFailure` as a classified failure. */
export const attempt = <A, B>(f: () => A, onSuccess: (a: A) => B, onFailure: (failure: Failure) => B): B => {
  let value: A
  try {
    value = f()
  } catch (thrown) {
    return onFailure(classify(thrown))
  }
  return onSuccess(value)
}

/** `attempt` for a guest call that may suspend (JSPI): a promise result settles into the same shapes. */
export const attemptMaybeAsync = <A, B>(
  f: () => A | Promise<A>,
  onSuccess: (a: A) => B,
  onFailure: (failure: Failure) => B
): B | Promise<B> =>
  attempt(
    f,
    (value): B | Promise<B> =>
      value instanceof Promise
        ? value.then(onSuccess, (thrown: unknown) => onFailure(classify(thrown)))
        : onSuccess(value),
    onFailure
  )
