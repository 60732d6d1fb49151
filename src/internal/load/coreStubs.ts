/**
 * A component with its core modules' code taken out, for jco to transpile.
 *
 * jco reads, validates and translates every function body of every core module it is given, in its own
 * wasm, which V8 compiles lazily and tiers up as it runs: a process's first transpile of a large guest
 * pays for that (QuickJS: ~1 s of a cold load, against ~0.1 s for the same transpile once jco is warm).
 * The glue jco generates depends only on the component's structure (types, imports, exports, how the
 * instances are wired), never on what a function body does. So jco gets the component with each core
 * module's bodies replaced by `unreachable` — the same functions, types, imports, exports, tables,
 * memories, globals and data — and every stub carries its index in a custom section. The core modules
 * jco hands back are matched to the originals by that index, and the originals are what get rewritten
 * and compiled (V8 validates them then).
 *
 * @internal
 */
import { type Cursor, encodeUnsigned, readUnsigned } from "./leb128.ts"

/** Names the custom section that carries a stub's index among the component's core modules. */
export const stubSection = "airssys:core-index"

export interface Stubbed {
  /** The component, with stub core modules. */
  readonly component: Uint8Array
  /** The original core modules, by the index their stubs carry (depth-first, in binary order). */
  readonly cores: ReadonlyArray<Uint8Array>
}

const componentSectionId = { coreModule: 1, component: 4 } as const
const codeSectionId = 10
const customSectionId = 0


interface Section {
  readonly id: number
  readonly start: number
  readonly contents: number
  readonly end: number
}

// The sections after the 8-byte preamble; `undefined` when one runs past the end.
const sections = (bytes: Uint8Array): Array<Section> | undefined => {
  const out: Array<Section> = []
  const cursor: Cursor = { pos: 8 }
  while (cursor.pos < bytes.length) {
    const start = cursor.pos
    const id = bytes[cursor.pos++]!
    const size = readUnsigned(bytes, cursor)
    if (size === undefined || cursor.pos + size > bytes.length) return undefined
    out.push({ id, start, contents: cursor.pos, end: cursor.pos + size })
    cursor.pos += size
  }
  return out
}

const section = (id: number, contents: ReadonlyArray<Uint8Array | ReadonlyArray<number>>): Array<Uint8Array | ReadonlyArray<number>> => {
  const size = contents.reduce((n, part) => n + part.length, 0)
  return [[id, ...encodeUnsigned(size)], ...contents]
}

const concat = (parts: ReadonlyArray<Uint8Array | ReadonlyArray<number>>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

const nameBytes = new TextEncoder().encode(stubSection)

// A function body that only traps: no locals, `unreachable`, `end`. It validates against any type.
const trapBody = [0x03, 0x00, 0x00, 0x0b]

// The module with every body trapping and its custom sections dropped, tagged with `index`.
const stubModule = (module: Uint8Array, index: number): Uint8Array | undefined => {
  const parts = sections(module)
  if (parts === undefined) return undefined
  const out: Array<Uint8Array | ReadonlyArray<number>> = [module.subarray(0, 8)]
  for (const s of parts) {
    if (s.id === customSectionId) continue
    if (s.id !== codeSectionId) {
      out.push(module.subarray(s.start, s.end))
      continue
    }
    const count = readUnsigned(module, { pos: s.contents })
    if (count === undefined) return undefined
    const bodies = new Uint8Array(count * trapBody.length)
    for (let i = 0; i < count; i++) bodies.set(trapBody, i * trapBody.length)
    out.push(...section(codeSectionId, [encodeUnsigned(count), bodies]))
  }
  out.push(...section(customSectionId, [encodeUnsigned(nameBytes.length), nameBytes, encodeUnsigned(index)]))
  return concat(out)
}

const isComponent = (bytes: Uint8Array): boolean =>
  bytes.length >= 8 && bytes[0] === 0 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d &&
  bytes[6] === 1 && bytes[7] === 0

// Rewrites one component (and the components nested in it), appending its core modules to `cores`.
const stubComponent = (component: Uint8Array, cores: Array<Uint8Array>): Uint8Array | undefined => {
  if (!isComponent(component)) return undefined
  const parts = sections(component)
  if (parts === undefined) return undefined
  const out: Array<Uint8Array | ReadonlyArray<number>> = [component.subarray(0, 8)]
  for (const s of parts) {
    const contents = component.subarray(s.contents, s.end)
    if (s.id === componentSectionId.coreModule) {
      const stub = stubModule(contents, cores.length)
      if (stub === undefined) return undefined
      cores.push(contents)
      out.push(...section(s.id, [stub]))
    } else if (s.id === componentSectionId.component) {
      const nested = stubComponent(contents, cores)
      if (nested === undefined) return undefined
      out.push(...section(s.id, [nested]))
    } else {
      out.push(component.subarray(s.start, s.end))
    }
  }
  return concat(out)
}

/** The component with stub core modules, or `undefined` when its binary does not parse as expected. */
export const stubCores = (component: Uint8Array): Stubbed | undefined => {
  const cores: Array<Uint8Array> = []
  const stubbed = stubComponent(component, cores)
  return stubbed === undefined ? undefined : { component: stubbed, cores }
}

/** The index a stub core module carries, or `undefined` when it carries none. */
export const stubIndex = (module: Uint8Array): number | undefined => {
  const parts = sections(module)
  if (parts === undefined) return undefined
  for (const s of parts) {
    if (s.id !== customSectionId) continue
    const cursor: Cursor = { pos: s.contents }
    const length = readUnsigned(module, cursor)
    if (length !== nameBytes.length) continue
    const name = module.subarray(cursor.pos, cursor.pos + length)
    if (!name.every((b, i) => b === nameBytes[i])) continue
    cursor.pos += length
    return readUnsigned(module, cursor)
  }
  return undefined
}

/**
 * Whether a module looks like a stub that lost its index (every function body is `trapBody`): such a
 * module must never be compiled in place of its original.
 */
export const isStub = (module: Uint8Array): boolean => {
  const code = sections(module)?.find((s) => s.id === codeSectionId)
  if (code === undefined) return false
  const cursor: Cursor = { pos: code.contents }
  const count = readUnsigned(module, cursor)
  if (count === undefined || count === 0) return false
  return code.end - cursor.pos === count * trapBody.length &&
    module.subarray(cursor.pos, code.end).every((b, i) => b === trapBody[i % trapBody.length])
}
