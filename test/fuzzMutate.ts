/**
 * Seeded mutations of component binaries, for the fuzzer (test/Fuzz.test.ts): bit flips, truncation,
 * section splicing, LEB128 length fields and core memory limits. Deterministic for a seed.
 */

/** A small seeded PRNG (mulberry32): the same seed, the same mutations. */
export const prng = (seed: number) => {
  let state = seed >>> 0
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (n: number): number => Math.floor(next() * n)
  const pick = <A>(items: ReadonlyArray<A>): A => items[int(items.length)]!
  return { next, int, pick }
}
export type Prng = ReturnType<typeof prng>

/** Unsigned LEB128. */
export const leb = (value: number): Array<number> => {
  const out: Array<number> = []
  let v = value >>> 0
  do {
    let byte = v & 0x7f
    v >>>= 7
    if (v !== 0) byte |= 0x80
    out.push(byte)
  } while (v !== 0)
  return out
}

const readLeb = (bytes: Uint8Array, at: number): { value: number; next: number } | undefined => {
  let value = 0
  let shift = 0
  for (let i = at; i < bytes.length && i < at + 5; i++) {
    value += (bytes[i]! & 0x7f) * 2 ** shift
    shift += 7
    if ((bytes[i]! & 0x80) === 0) return { value, next: i + 1 }
  }
  return undefined
}

/** One section of a (component or core) binary: where its id, size field and payload are. */
export interface Section {
  readonly id: number
  readonly start: number
  readonly sizeAt: number
  readonly payloadAt: number
  readonly end: number
}

/** The sections after the 8-byte header, as far as they parse. */
export const sections = (bytes: Uint8Array): Array<Section> => {
  const out: Array<Section> = []
  let at = 8
  while (at < bytes.length) {
    const size = readLeb(bytes, at + 1)
    if (size === undefined || size.next + size.value > bytes.length) break
    out.push({ id: bytes[at]!, start: at, sizeAt: at + 1, payloadAt: size.next, end: size.next + size.value })
    at = size.next + size.value
  }
  return out
}

const concat = (...parts: ReadonlyArray<ArrayLike<number>>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

const section = (id: number, payload: Uint8Array): Uint8Array => concat([id], leb(payload.length), payload)

/** Interesting u32s for sizes and limits. */
const edges = [0, 1, 0x7f, 0x80, 0x3fff, 0x10000, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff]

const bitFlip = (r: Prng, bytes: Uint8Array): Uint8Array => {
  const out = bytes.slice()
  for (let n = 1 + r.int(8); n > 0; n--) {
    const i = r.int(out.length)
    out[i]! ^= 1 << r.int(8)
  }
  return out
}

const byteSet = (r: Prng, bytes: Uint8Array): Uint8Array => {
  const out = bytes.slice()
  out[r.int(out.length)] = r.pick([0x00, 0x01, 0x7f, 0x80, 0xff])
  return out
}

const truncate = (r: Prng, bytes: Uint8Array): Uint8Array => bytes.slice(0, r.int(bytes.length))

/** Replaces, duplicates, drops or swaps top-level sections, with sections of another seed. */
const splice = (r: Prng, bytes: Uint8Array, other: Uint8Array): Uint8Array => {
  const mine = sections(bytes)
  const theirs = sections(other)
  if (mine.length === 0 || theirs.length === 0) return bitFlip(r, bytes)
  const parts = mine.map((s) => bytes.subarray(s.start, s.end))
  const i = r.int(parts.length)
  const foreign = theirs[r.int(theirs.length)]!
  switch (r.int(4)) {
    case 0:
      parts[i] = other.subarray(foreign.start, foreign.end)
      break
    case 1:
      parts.splice(i, 0, parts[i]!)
      break
    case 2:
      parts.splice(i, 1)
      break
    default: {
      const j = r.int(parts.length)
      const a = parts[i]!
      parts[i] = parts[j]!
      parts[j] = a
    }
  }
  return concat(bytes.subarray(0, 8), ...parts)
}

/** Rewrites a section's size field (top level, or inside an embedded core module) without its payload. */
const lengthField = (r: Prng, bytes: Uint8Array): Uint8Array => {
  const top = sections(bytes)
  if (top.length === 0) return truncate(r, bytes)
  let target = r.pick(top)
  let offset = 0
  // Sometimes a section of an embedded core module (component section id 1).
  const cores = top.filter((s) => s.id === 1)
  if (cores.length > 0 && r.int(2) === 0) {
    const core = r.pick(cores)
    const inner = sections(bytes.subarray(core.payloadAt, core.end))
    if (inner.length > 0) {
      target = r.pick(inner)
      offset = core.payloadAt
    }
  }
  const size = target.end - target.payloadAt
  const value = r.pick([size - 1, size + 1, size * 2, ...edges])
  return concat(
    bytes.subarray(0, offset + target.sizeAt),
    leb(Math.max(0, value)),
    bytes.subarray(offset + target.payloadAt)
  )
}

/** Changes the limits of an embedded core module's memory (flags, minimum, maximum). */
const memoryLimits = (r: Prng, bytes: Uint8Array): Uint8Array => {
  const top = sections(bytes)
  const core = top.find((s) => s.id === 1)
  if (core === undefined) return bitFlip(r, bytes)
  const module = bytes.subarray(core.payloadAt, core.end)
  const memory = sections(module).find((s) => s.id === 5)
  if (memory === undefined) return bitFlip(r, bytes)
  const flags = r.pick([0, 1, 2, 3, 4, 5, 0x80])
  const min = r.pick([0, 1, 2, 0x100, 0x1_0000, 0x10_0000, 0xffff_ffff])
  const max = r.pick([0, 1, min, Math.max(0, min - 1), 0x1_0000, 0xffff_ffff])
  const limits = concat([1, flags], leb(min), (flags & 1) === 1 ? leb(max) : [])
  const newModule = concat(module.subarray(0, memory.start), section(5, limits), module.subarray(memory.end))
  return concat(bytes.subarray(0, core.start), section(1, newModule), bytes.subarray(core.end))
}

export const strategies = ["bit flips", "byte set", "truncation", "section splice", "length field", "memory limits"] as const
export type Strategy = typeof strategies[number]

/** One mutant of `seed` (1-3 mutations), and the strategies used. */
export const mutate = (r: Prng, seed: Uint8Array, others: ReadonlyArray<Uint8Array>): { bytes: Uint8Array; used: Array<Strategy> } => {
  let bytes = seed
  const used: Array<Strategy> = []
  // Mostly one mutation: a mutant that still validates reaches instantiate and the call.
  for (let n = r.int(3) === 0 ? 2 + r.int(2) : 1; n > 0 && bytes.length > 8; n--) {
    const strategy = r.pick(strategies)
    used.push(strategy)
    switch (strategy) {
      case "bit flips":
        bytes = bitFlip(r, bytes)
        break
      case "byte set":
        bytes = byteSet(r, bytes)
        break
      case "truncation":
        bytes = truncate(r, bytes)
        break
      case "section splice":
        bytes = splice(r, bytes, r.pick(others))
        break
      case "length field":
        bytes = lengthField(r, bytes)
        break
      case "memory limits":
        bytes = memoryLimits(r, bytes)
        break
    }
  }
  return { bytes, used }
}
