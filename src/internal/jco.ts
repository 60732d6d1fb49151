/**
 * The seam to jco: the only file that imports it, and the only one in `src/` with async/await and
 * try/catch. Everything here may throw or reject; `Component.ts` and `Instance.ts` turn that into typed
 * errors.
 *
 * @internal
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"

type Jco = typeof import("@bytecodealliance/jco")

// Importing jco costs ~100 ms: only pay it when something must actually be transpiled.
let jcoModule: Promise<Jco> | undefined
const jco = (): Promise<Jco> => (jcoModule ??= import("@bytecodealliance/jco"))

/** What the transpile step yields, and what the disk cache stores. */
export interface Transpiled {
  readonly glue: string
  readonly coreModules: ReadonlyArray<{ readonly name: string; readonly bytes: Uint8Array }>
  readonly wit: string
  /** Interfaces the imports object must provide, as jco names them (unversioned). */
  readonly imports: ReadonlyArray<string>
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

export const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

/** jco's version takes part in every cache key: a new jco means new glue. */
export const jcoVersion = "1.35.0"

/** Changes when the way glue is patched changes: part of the disk cache key. */
const gluePatchVersion = 3
const cacheVersion = `jco-${jcoVersion}/patch-${gluePatchVersion}`

const glueName = "component"

// Per-call debug logging reads `process.env` on every call (41% of the glue's call cost).
const debugLogPattern = /const _debugLog = \(\.\.\.args\) => \{\s*if \(!globalThis\?\.process\?\.env\?\.JCO_DEBUG\) \{ return; \}\s*console\.debug\(\.\.\.args\);\s*\};/

/**
 * Host imports that may suspend the guest: `messaging.request` waits for another actor's reply. jco
 * lowers them with JSPI (`WebAssembly.Suspending`), and the exports that can reach them become
 * asynchronous (`WebAssembly.promising`): the guest's stack is parked while the host awaits, with no
 * threads and no busy waiting.
 */
export const suspendingImports: ReadonlyArray<string> = ["airssys:component/messaging#request"]
const suspendingExports = ["airssys:component/handler#handle-message", "airssys:component/lifecycle#init"]

const transpile = async (bytes: Uint8Array): Promise<Transpiled> => {
  const { transpile, componentWit } = await jco()
  const options = { name: glueName, instantiation: "async", noTypescript: true, quiet: true } as const
  let out = await transpile(bytes, options)
  if (out.imports.includes("airssys:component/messaging")) {
    const exported = new Set(out.exports.map(([name]) => unversionedName(name)))
    out = await transpile(bytes, {
      ...options,
      asyncMode: "jspi",
      asyncImports: [...suspendingImports],
      asyncExports: suspendingExports.filter((name) => exported.has(name.slice(0, name.indexOf("#"))))
    })
  }
  const glueBytes = out.files[`${glueName}.js`]
  if (glueBytes === undefined) throw new Error("jco produced no glue module")
  const generated = new TextDecoder().decode(glueBytes)
  const glue = generated.replace(debugLogPattern, "const _debugLog = () => {};")
  // Not fatal if a jco upgrade changes the shape: calls through the glue just stay slower.
  if (glue === generated) process.emitWarning("airssys-wasm: jco's _debugLog was not found; glue calls keep reading process.env")
  const coreModules = Object.entries(out.files)
    .filter(([name]) => name.endsWith(".wasm"))
    .map(([name, bytes]) => ({ name, bytes }))
  return { glue, coreModules, wit: await componentWit(bytes), imports: out.imports }
}

const unversionedName = (name: string): string => {
  const at = name.lastIndexOf("@")
  return at > 0 ? name.slice(0, at) : name
}

/** Counts real transpiles, so tests can show that a cache hit does none. */
export let transpileCount = 0

// Disk cache: one folder per key with the glue, the core modules and the WIT.
const readCached = async (dir: string): Promise<Transpiled | undefined> => {
  try {
    const manifest: { version: string; coreModules: Array<string>; imports: Array<string> } = JSON.parse(
      await fs.readFile(path.join(dir, "manifest.json"), "utf8")
    )
    if (manifest.version !== cacheVersion) return undefined
    const coreModules = await Promise.all(
      manifest.coreModules.map(async (name) => ({ name, bytes: new Uint8Array(await fs.readFile(path.join(dir, name))) }))
    )
    const glue = await fs.readFile(path.join(dir, "glue.js"), "utf8")
    const wit = await fs.readFile(path.join(dir, "world.wit"), "utf8")
    return { glue, coreModules, wit, imports: manifest.imports }
  } catch {
    // A missing or damaged entry is a miss: transpile again and rewrite it.
    return undefined
  }
}

const writeCached = async (dir: string, transpiled: Transpiled): Promise<void> => {
  const staging = `${dir}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  await fs.mkdir(staging, { recursive: true })
  await fs.writeFile(path.join(staging, "glue.js"), transpiled.glue)
  await fs.writeFile(path.join(staging, "world.wit"), transpiled.wit)
  for (const { name, bytes } of transpiled.coreModules) await fs.writeFile(path.join(staging, name), bytes)
  // The manifest goes last: an entry without one is incomplete and is ignored.
  await fs.writeFile(path.join(staging, "manifest.json"), JSON.stringify({
    version: cacheVersion,
    coreModules: transpiled.coreModules.map((m) => m.name),
    imports: transpiled.imports
  }))
  await fs.rm(dir, { recursive: true, force: true })
  await fs.rename(staging, dir).catch(() => fs.rm(staging, { recursive: true, force: true }))
}

export const importGlue = async (glue: string, key: string): Promise<GlueInstantiate> => {
  // Loaded from memory: no temp files. V8 never frees a data: module, which is why callers cache by hash.
  const source = `${glue}\n//# sourceURL=airssys-wasm:component/${key}.js`
  const module: { instantiate?: unknown } = await import(`data:text/javascript;base64,${Buffer.from(source).toString("base64")}`)
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
  rewrite: CoreRewrite | undefined
): Promise<Loaded> => {
  const entry = cacheDirectory === undefined ? undefined : path.join(cacheDirectory, key)
  let transpiled = entry === undefined ? undefined : await readCached(entry)
  if (transpiled === undefined) {
    transpiled = await transpile(bytes)
    transpileCount++
    if (entry !== undefined) await writeCached(entry, transpiled)
  }
  const instantiate = await importGlue(transpiled.glue, key)
  const modules = new Map<string, WebAssembly.Module>()
  for (const { name, bytes } of transpiled.coreModules) {
    const core = rewrite === undefined ? bytes : await rewrite.apply(bytes)
    modules.set(name, await WebAssembly.compile(core as Uint8Array<ArrayBuffer>))
  }
  return { ...transpiled, instantiate, modules }
}

const inFlight = new Map<string, Promise<Loaded>>()

/** `load`, once per key: concurrent and later loads of the same bytes share one transpile and compile. */
export const loadOnce = (
  bytes: Uint8Array,
  key: string,
  cacheDirectory: string | undefined,
  rewrite?: CoreRewrite | undefined
): Promise<Loaded> => {
  const variant = rewrite === undefined ? key : `${key}/${rewrite.key}`
  let loading = inFlight.get(variant)
  if (loading === undefined) {
    loading = load(bytes, key, cacheDirectory, rewrite)
    inFlight.set(variant, loading)
    loading.catch(() => inFlight.delete(variant))
  }
  return loading
}

/** An instantiated component: jco's export object and the core instances behind it. */
export interface Instantiated {
  readonly exports: Readonly<Record<string, unknown>>
  readonly cores: ReadonlyArray<WebAssembly.Instance>
}

/**
 * Instantiates synchronously: core modules are already compiled, and handing jco a synchronous
 * `instantiateCore` lets its generator run to the end without a promise (~60 µs instead of a round of
 * microtasks per core module).
 */
export const instantiate = (loaded: Loaded, imports: object): Instantiated => {
  const cores: Array<WebAssembly.Instance> = []
  const result = loaded.instantiate(
    (name) => {
      const module = loaded.modules.get(name)
      if (module === undefined) throw new Error(`jco glue asked for an unknown core module ${name}`)
      return module
    },
    imports,
    (module, imports) => {
      const instance = new WebAssembly.Instance(module, imports)
      cores.push(instance)
      return instance
    }
  )
  if (result instanceof Promise) throw new Error("jco glue instantiated asynchronously")
  return { exports: result as Record<string, unknown>, cores }
}

/** A failed call, as the seam sees it. */
export type Failure =
  | { readonly _tag: "GuestErr"; readonly payload: unknown }
  | { readonly _tag: "Trap"; readonly message: string }

/** Thrown by fast paths when the guest returns `err`. jco's glue throws its own `ComponentError`. */
class GuestErr {
  readonly payload: unknown
  constructor(payload: unknown) {
    this.payload = payload
  }
}

export const classify = (thrown: unknown): Failure => {
  if (thrown instanceof GuestErr) return { _tag: "GuestErr", payload: thrown.payload }
  if (thrown instanceof Error && thrown.constructor.name === "ComponentError" && Object.hasOwn(thrown, "payload")) {
    return { _tag: "GuestErr", payload: (thrown as Error & { payload: unknown }).payload }
  }
  if (thrown instanceof WebAssembly.RuntimeError) return { _tag: "Trap", message: thrown.message }
  if (thrown instanceof RangeError && /call stack/i.test(thrown.message)) return { _tag: "Trap", message: "stack overflow" }
  if (thrown instanceof Error) return { _tag: "Trap", message: thrown.message }
  return { _tag: "Trap", message: String(thrown) }
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

const utf8 = new TextDecoder()

const findCore = (cores: ReadonlyArray<WebAssembly.Instance>, exportName: string): WebAssembly.Exports | undefined => {
  const matches = cores.filter((core) => typeof core.exports[exportName] === "function")
  const exports = matches.length === 1 ? matches[0]!.exports : undefined
  if (exports === undefined) return undefined
  if (!(exports.memory instanceof WebAssembly.Memory) || typeof exports.cabi_realloc !== "function") return undefined
  return exports
}

/**
 * A direct call of `process: func(input: list<u8>) -> result<list<u8>, string>` by the canonical ABI,
 * without jco's per-call task bookkeeping (~5 µs → ~0.2 µs). Only bound when exactly one core instance
 * exports `process` beside its memory and `cabi_realloc`, which is how wit-component lays out a guest;
 * otherwise callers use jco's glue.
 */
export const bindProcess = (cores: ReadonlyArray<WebAssembly.Instance>): ((input: Uint8Array) => Uint8Array) | undefined => {
  const exports = findCore(cores, "process")
  if (exports === undefined) return undefined
  const memory = exports.memory as WebAssembly.Memory
  const realloc = exports.cabi_realloc as (old: number, oldSize: number, align: number, size: number) => number
  const process = exports.process as (ptr: number, len: number) => number
  const postReturn = typeof exports.cabi_post_process === "function"
    ? exports.cabi_post_process as (ret: number) => void
    : undefined
  let view = new DataView(memory.buffer)
  const currentView = (): DataView => view.buffer === memory.buffer ? view : (view = new DataView(memory.buffer))
  return (input) => {
    const len = input.byteLength
    const ptr = realloc(0, 0, 1, len)
    // `realloc` may have grown memory, detaching the old buffer: read `memory.buffer` after it.
    new Uint8Array(memory.buffer, ptr, len).set(input)
    const ret = process(ptr, len)
    if ((ret & 3) !== 0) throw new WebAssembly.RuntimeError("return pointer is not aligned")
    const dv = currentView()
    const tag = dv.getUint8(ret)
    const outPtr = dv.getUint32(ret + 4, true)
    const outLen = dv.getUint32(ret + 8, true)
    if (outPtr + outLen > memory.buffer.byteLength) throw new WebAssembly.RuntimeError("result list is out of bounds")
    let output: Uint8Array | string
    if (tag === 0) output = new Uint8Array(memory.buffer, outPtr, outLen).slice()
    else if (tag === 1) output = utf8.decode(new Uint8Array(memory.buffer, outPtr, outLen))
    else throw new WebAssembly.RuntimeError(`invalid result discriminant ${tag}`)
    postReturn?.(ret)
    if (typeof output === "string") throw new GuestErr(output)
    return output
  }
}

/** The `types.message` record, as the fast path lowers it. */
export interface MessageFields {
  readonly sender: string
  readonly topic?: string | undefined
  readonly correlationId?: bigint | undefined
  readonly payload: Uint8Array
}

const handlerExport = /^airssys:component\/handler(@[^#]*)?#handle-message$/
const utf8Encoder = new TextEncoder()

/**
 * A direct call of `handler.handle-message: func(msg: message) -> result<option<list<u8>>, string>` by
 * the canonical ABI (see `bindProcess`). The record flattens to 9 core params; the result comes back
 * through a return area: tag u8 @0; ok: option tag u8 @4, list ptr/len @8/@12; err: string ptr/len @4/@8.
 */
export const bindHandleMessage = (
  cores: ReadonlyArray<WebAssembly.Instance>
): ((message: MessageFields) => Uint8Array | undefined) | undefined => {
  const matches = cores.flatMap((core) =>
    Object.keys(core.exports).filter((name) => handlerExport.test(name)).map((name) => ({ core, name }))
  )
  if (matches.length !== 1) return undefined
  const { core, name } = matches[0]!
  const exports = findCore([core], name)
  if (exports === undefined) return undefined
  const memory = exports.memory as WebAssembly.Memory
  const realloc = exports.cabi_realloc as (old: number, oldSize: number, align: number, size: number) => number
  const handle = exports[name] as (...params: Array<number | bigint>) => number
  const postReturn = typeof exports[`cabi_post_${name}`] === "function"
    ? exports[`cabi_post_${name}`] as (ret: number) => void
    : undefined
  // Senders and topics repeat: keep their UTF-8 encodings instead of encoding on every message.
  const encoded = new Map<string, Uint8Array>()
  const encode = (s: string): Uint8Array => {
    let bytes = encoded.get(s)
    if (bytes === undefined) {
      bytes = utf8Encoder.encode(s)
      if (encoded.size >= 1024) encoded.clear()
      encoded.set(s, bytes)
    }
    return bytes
  }
  const lower = (bytes: Uint8Array): number => {
    const ptr = realloc(0, 0, 1, bytes.byteLength)
    new Uint8Array(memory.buffer, ptr, bytes.byteLength).set(bytes)
    return ptr
  }
  return (message) => {
    const sender = encode(message.sender)
    const senderPtr = lower(sender)
    let topicTag = 0
    let topicPtr = 0
    let topicLen = 0
    if (message.topic !== undefined) {
      const topic = encode(message.topic)
      topicTag = 1
      topicPtr = lower(topic)
      topicLen = topic.byteLength
    }
    const payloadPtr = lower(message.payload)
    const ret = handle(
      senderPtr,
      sender.byteLength,
      topicTag,
      topicPtr,
      topicLen,
      message.correlationId === undefined ? 0 : 1,
      message.correlationId ?? 0n,
      payloadPtr,
      message.payload.byteLength
    )
    if ((ret & 3) !== 0) throw new WebAssembly.RuntimeError("return pointer is not aligned")
    const dv = new DataView(memory.buffer)
    const tag = dv.getUint8(ret)
    let reply: Uint8Array | undefined
    let error: string | undefined
    if (tag === 0) {
      const some = dv.getUint8(ret + 4)
      if (some === 1) {
        const ptr = dv.getUint32(ret + 8, true)
        const len = dv.getUint32(ret + 12, true)
        if (ptr + len > memory.buffer.byteLength) throw new WebAssembly.RuntimeError("reply list is out of bounds")
        reply = new Uint8Array(memory.buffer, ptr, len).slice()
      } else if (some !== 0) throw new WebAssembly.RuntimeError(`invalid option discriminant ${some}`)
    } else if (tag === 1) {
      const ptr = dv.getUint32(ret + 4, true)
      const len = dv.getUint32(ret + 8, true)
      if (ptr + len > memory.buffer.byteLength) throw new WebAssembly.RuntimeError("error string is out of bounds")
      error = utf8.decode(new Uint8Array(memory.buffer, ptr, len))
    } else throw new WebAssembly.RuntimeError(`invalid result discriminant ${tag}`)
    postReturn?.(ret)
    if (error !== undefined) throw new GuestErr(error)
    return reply
  }
}

const lifecycleExport = (fn: string) => new RegExp(`^airssys:component/lifecycle(@[^#]*)?#${fn}$`)

/**
 * Direct calls of `lifecycle.init: func(config: list<u8>) -> result<_, string>` and
 * `lifecycle.shutdown: func()` by the canonical ABI (see `bindProcess`). `init`'s result comes back
 * through a return area: tag u8 @0, err string ptr/len @4/@8.
 */
export const bindLifecycle = (
  cores: ReadonlyArray<WebAssembly.Instance>
): { readonly init: (config: Uint8Array) => void; readonly shutdown: () => void } | undefined => {
  const initName = cores.flatMap((core) => Object.keys(core.exports)).find((name) => lifecycleExport("init").test(name))
  const shutdownName = cores.flatMap((core) => Object.keys(core.exports)).find((name) => lifecycleExport("shutdown").test(name))
  if (initName === undefined || shutdownName === undefined) return undefined
  const exports = findCore(cores, initName)
  if (exports === undefined || typeof exports[shutdownName] !== "function") return undefined
  const memory = exports.memory as WebAssembly.Memory
  const realloc = exports.cabi_realloc as (old: number, oldSize: number, align: number, size: number) => number
  const init = exports[initName] as (ptr: number, len: number) => number
  const shutdown = exports[shutdownName] as () => void
  const postInit = exports[`cabi_post_${initName}`] as ((ret: number) => void) | undefined
  return {
    init: (config) => {
      const ptr = realloc(0, 0, 1, config.byteLength)
      new Uint8Array(memory.buffer, ptr, config.byteLength).set(config)
      const ret = init(ptr, config.byteLength)
      if ((ret & 3) !== 0) throw new WebAssembly.RuntimeError("return pointer is not aligned")
      const dv = new DataView(memory.buffer)
      const tag = dv.getUint8(ret)
      let error: string | undefined
      if (tag === 1) {
        const errPtr = dv.getUint32(ret + 4, true)
        const errLen = dv.getUint32(ret + 8, true)
        if (errPtr + errLen > memory.buffer.byteLength) throw new WebAssembly.RuntimeError("error string is out of bounds")
        error = utf8.decode(new Uint8Array(memory.buffer, errPtr, errLen))
      } else if (tag !== 0) throw new WebAssembly.RuntimeError(`invalid result discriminant ${tag}`)
      if (typeof postInit === "function") postInit(ret)
      if (error !== undefined) throw new GuestErr(error)
    },
    shutdown: () => shutdown()
  }
}
