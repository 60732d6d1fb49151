/**
 * Fuel metering in one pass over a core module's bytes, written for speed: no IR, no allocation per
 * instruction. It decodes each function body only far enough to find instruction boundaries, and copies
 * the bytes through, adding:
 *
 * - an import `airssys:fuel.refill (i64) -> i64`, a mutable i64 global exported as `airssys_fuel`, and a
 *   function `airssys_fuel_exhausted` that asks the host for more fuel (`global = refill(global)`) and traps
 *   (`unreachable`) when the answer is still negative: the same interface as binaryen's rewrite in
 *   `fuelInstrument.ts`, so `fuelMeter` runs either;
 * - a charge of one unit at every function entry and every loop head: `if ((f -= 1) < 0) exhausted()`.
 *
 * The fuel left lives in a new i64 local of each function (V8 keeps it in a register): loaded from the
 * global at entry and after every call, written back before every call, `return`, tail call, branch out of
 * the function and the final `end`. Functions that use exception handling (an exception would skip the
 * write-back) charge the global directly instead.
 *
 * The import is a new function index: every function index in the module (calls, `ref.func`, exports,
 * the start function, element segments, the name section) is shifted by one past the imports. DWARF
 * sections are dropped (their code offsets would be wrong).
 *
 * What it does not know — GC (`0xfb`) or stack-switching instructions, GC types, an opcode newer than this
 * file — it reports as `unsupported` with the reason, and the caller falls back to binaryen. Input must
 * already validate (`WebAssembly.validate`): the decoder trusts the structure it reads.
 *
 * @internal
 */

/** Names the scheme in cache keys: bump when the output for the same input changes. */
export const fastFuelVersion = "airssys-fuel-fast/1"

export const fuelExportName = "airssys_fuel"
export const exhaustedName = "airssys_fuel_exhausted"
const refillName = "airssys_fuel_refill"

/** Why the one-pass rewrite declined a module: the caller instruments it another way. */
export interface Unsupported {
  readonly unsupported: string
}

/** Functions metered with a local counter, and through the global (exception handling). */
export interface FastStats {
  readonly local: number
  readonly global: number
}

// --- Bytes in ------------------------------------------------------------------------------------------

/** A read position over the input. Unsigned LEB128 up to 32 bits; signed and 64-bit ones are skipped. */
class Reader {
  readonly bytes: Uint8Array
  pos: number
  constructor(bytes: Uint8Array, pos: number) {
    this.bytes = bytes
    this.pos = pos
  }
  u8(): number {
    return this.bytes[this.pos++]!
  }
  u32(): number {
    let result = 0
    let shift = 0
    for (;;) {
      const byte = this.bytes[this.pos++]!
      result |= (byte & 0x7f) << shift
      if ((byte & 0x80) === 0) return result >>> 0
      shift += 7
    }
  }
  /** Skips a LEB128 of any length (signed or unsigned). */
  skipLeb(): void {
    while ((this.bytes[this.pos++]! & 0x80) !== 0) {
      // continuation bit set
    }
  }
  name(): string {
    const length = this.u32()
    const text = utf8Decoder.decode(this.bytes.subarray(this.pos, this.pos + length))
    this.pos += length
    return text
  }
}

// --- Bytes out -----------------------------------------------------------------------------------------

/** A growable byte buffer. */
class Writer {
  buffer: Uint8Array
  length = 0
  constructor(capacity: number) {
    this.buffer = new Uint8Array(Math.max(64, Math.ceil(capacity)))
  }
  private room(n: number): void {
    if (this.length + n <= this.buffer.length) return
    let size = this.buffer.length * 2
    while (size < this.length + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buffer.subarray(0, this.length))
    this.buffer = next
  }
  byte(b: number): void {
    this.room(1)
    this.buffer[this.length++] = b
  }
  bytes(from: Uint8Array, start: number, end: number): void {
    const n = end - start
    this.room(n)
    if (n <= 32) {
      // Most instructions are a few bytes: a loop beats making a subarray for each.
      const buffer = this.buffer
      let at = this.length
      for (let i = start; i < end; i++) buffer[at++] = from[i]!
      this.length = at
    } else {
      this.buffer.set(from.subarray(start, end), this.length)
      this.length += n
    }
  }
  all(from: Uint8Array | ReadonlyArray<number>): void {
    const n = from.length
    this.room(n)
    if (n > 32 && from instanceof Uint8Array) {
      this.buffer.set(from, this.length)
      this.length += n
      return
    }
    const buffer = this.buffer
    let at = this.length
    for (let i = 0; i < n; i++) buffer[at++] = from[i]!
    this.length = at
  }
  u32(value: number): void {
    let rest = value >>> 0
    do {
      const low = rest & 0x7f
      rest >>>= 7
      this.byte(rest !== 0 ? low | 0x80 : low)
    } while (rest !== 0)
  }
  /** A u32 in five bytes (a valid LEB128), to be patched once the value is known. */
  padded(value: number, at = this.length): void {
    if (at === this.length) this.room(5)
    const buffer = this.buffer
    for (let i = 0; i < 4; i++) buffer[at + i] = ((value >>> (7 * i)) & 0x7f) | 0x80
    buffer[at + 4] = (value >>> 28) & 0x0f
    if (at === this.length) this.length += 5
  }
  name(text: string): void {
    const utf8 = utf8Encoder.encode(text)
    this.u32(utf8.length)
    this.all(utf8)
  }
  view(): Uint8Array {
    return this.buffer.subarray(0, this.length)
  }
}

const utf8Decoder = new TextDecoder()
const utf8Encoder = new TextEncoder()

const u32Bytes = (value: number): Array<number> => {
  const out: Array<number> = []
  let rest = value >>> 0
  do {
    const low = rest & 0x7f
    rest >>>= 7
    out.push(rest !== 0 ? low | 0x80 : low)
  } while (rest !== 0)
  return out
}

// --- Opcodes -------------------------------------------------------------------------------------------

const op = {
  unreachable: 0x00,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  try: 0x06,
  catch: 0x07,
  throw: 0x08,
  rethrow: 0x09,
  throwRef: 0x0a,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  brTable: 0x0e,
  return: 0x0f,
  call: 0x10,
  callIndirect: 0x11,
  returnCall: 0x12,
  returnCallIndirect: 0x13,
  callRef: 0x14,
  returnCallRef: 0x15,
  delegate: 0x18,
  catchAll: 0x19,
  selectTyped: 0x1c,
  tryTable: 0x1f,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  globalGet: 0x23,
  globalSet: 0x24,
  i64Const: 0x42,
  i64LtS: 0x53,
  i64Sub: 0x7d,
  refFunc: 0xd2,
  brOnNull: 0xd5,
  brOnNonNull: 0xd6
} as const

const isExceptionHandling = (code: number): boolean =>
  code === op.try || code === op.catch || code === op.throw || code === op.rethrow || code === op.throwRef ||
  code === op.delegate || code === op.catchAll || code === op.tryTable

/** Skips a value type: one byte, or `ref`/`ref null` and a heap type. */
const skipValType = (r: Reader): void => {
  const b = r.u8()
  if (b === 0x63 || b === 0x64) r.skipLeb()
}

/** Skips a block type: empty, a value type, or a type index (s33). */
const skipBlockType = (r: Reader): void => {
  const b = r.bytes[r.pos]!
  if (b === 0x63 || b === 0x64) {
    r.pos++
    r.skipLeb()
  } else {
    r.skipLeb()
  }
}

/** Skips a memarg: alignment (bit 6: a memory index follows) and offset. */
const skipMemarg = (r: Reader): void => {
  const align = r.u32()
  if ((align & 0x40) !== 0) r.u32()
  r.skipLeb()
}

/** Skips the immediates of a `0xfc` instruction; false when the sub-opcode is unknown. */
const skipMisc = (r: Reader, sub: number): boolean => {
  if (sub <= 7) return true
  switch (sub) {
    case 8: // memory.init data memory
    case 10: // memory.copy memory memory
    case 12: // table.init elem table
    case 14: // table.copy table table
      r.u32()
      r.u32()
      return true
    case 9: // data.drop
    case 11: // memory.fill
    case 13: // elem.drop
    case 15: // table.grow
    case 16: // table.size
    case 17: // table.fill
      r.u32()
      return true
    default:
      return false
  }
}

/** Skips the immediates of a `0xfd` (SIMD, relaxed SIMD) instruction; false when unknown. */
const skipSimd = (r: Reader, sub: number): boolean => {
  if (sub <= 11 || sub === 92 || sub === 93) {
    skipMemarg(r)
    return true
  }
  if (sub === 12 || sub === 13) {
    r.pos += 16 // v128.const, i8x16.shuffle
    return true
  }
  if (sub >= 21 && sub <= 34) {
    r.pos += 1 // lane index
    return true
  }
  if (sub >= 84 && sub <= 91) {
    skipMemarg(r)
    r.pos += 1
    return true
  }
  return sub <= 0x113
}

/** Skips the immediates of a `0xfe` (threads) instruction; false when unknown. */
const skipAtomic = (r: Reader, sub: number): boolean => {
  if (sub === 0x03) {
    r.pos += 1 // atomic.fence 0x00
    return true
  }
  if (sub <= 0x02 || (sub >= 0x10 && sub <= 0x4e)) {
    skipMemarg(r)
    return true
  }
  return false
}

// --- Module structure ----------------------------------------------------------------------------------

interface Section {
  readonly id: number
  readonly start: number
  readonly contents: number
  readonly end: number
}

const sectionsOf = (bytes: Uint8Array): Array<Section> => {
  const out: Array<Section> = []
  const r = new Reader(bytes, 8)
  while (r.pos < bytes.length) {
    const start = r.pos
    const id = r.u8()
    const size = r.u32()
    out.push({ id, start, contents: r.pos, end: r.pos + size })
    r.pos += size
  }
  return out
}

// Where each known section goes, so a section that did not exist is added in its place.
const sectionOrder = [1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11]

const customName = (bytes: Uint8Array, section: Section): string => new Reader(bytes, section.contents).name()

/**
 * Rewrites a section holding only expressions and indices we must shift (`ref.func`): const expressions
 * are copied instruction by instruction, with function indices remapped.
 */
interface Rewriter {
  readonly bytes: Uint8Array
  readonly out: Writer
  readonly shift: (index: number) => number
}

/** Copies a constant expression up to and including its `end`, shifting `ref.func`; false if unknown. */
const copyConstExpr = (rw: Rewriter, r: Reader): boolean => {
  for (;;) {
    const at = r.pos
    const code = r.u8()
    if (code === op.end) {
      rw.out.byte(op.end)
      return true
    }
    if (code === op.refFunc) {
      rw.out.byte(op.refFunc)
      rw.out.u32(rw.shift(r.u32()))
      continue
    }
    if (code === 0x41 || code === 0x42 || code === op.globalGet || code === 0xd0) r.skipLeb()
    else if (code === 0x43) r.pos += 4
    else if (code === 0x44) r.pos += 8
    else if (code === 0xfd) {
      if (r.u32() !== 12) return false
      r.pos += 16
    } else if (!(code >= 0x6a && code <= 0x6c) && !(code >= 0x7c && code <= 0x7e)) return false // extended const
    rw.out.bytes(rw.bytes, at, r.pos)
  }
}

/** Counts the imports by kind (functions, globals), checking each can be skipped. */
const readImports = (bytes: Uint8Array, section: Section | undefined) => {
  const funcTypes: Array<number> = []
  let globals = 0
  if (section === undefined) return { funcTypes, globals }
  const r = new Reader(bytes, section.contents)
  const count = r.u32()
  for (let i = 0; i < count; i++) {
    r.name()
    r.name()
    const kind = r.u8()
    if (kind === 0) funcTypes.push(r.u32())
    else if (kind === 1) {
      skipValType(r)
      skipLimits(r)
    } else if (kind === 2) skipLimits(r)
    else if (kind === 3) {
      skipValType(r)
      r.u8()
      globals++
    } else if (kind === 4) {
      r.u8()
      r.u32()
    }
  }
  return { funcTypes, globals }
}

const skipLimits = (r: Reader): void => {
  const flags = r.u8()
  r.skipLeb()
  if ((flags & 0x01) !== 0) r.skipLeb()
  if ((flags & 0x08) !== 0) r.skipLeb()
}

/** Parameter counts of the function types; `undefined` when a type is not a plain function type (GC). */
const readTypes = (bytes: Uint8Array, section: Section | undefined): Array<number> | undefined => {
  const params: Array<number> = []
  if (section === undefined) return params
  const r = new Reader(bytes, section.contents)
  const count = r.u32()
  for (let i = 0; i < count; i++) {
    if (r.u8() !== 0x60) return undefined
    const n = r.u32()
    for (let j = 0; j < n; j++) skipValType(r)
    const results = r.u32()
    for (let j = 0; j < results; j++) skipValType(r)
    params.push(n)
  }
  return params
}

// --- Function bodies -----------------------------------------------------------------------------------

/**
 * Rewrites one function body (`start`..`end`: locals, then code). `local` chooses the scheme: a counter
 * in a new local (index `fuelLocal`), or charges on the global. Returns `"eh"` when the body uses
 * exception handling and `local` was asked (the caller redoes it on the global), `false` on an unknown
 * instruction.
 */
const rewriteBody = (
  rw: Rewriter,
  start: number,
  end: number,
  params: number,
  local: boolean,
  fuelGlobal: number,
  exhausted: number,
  out: Writer
): true | false | "eh" => {
  const { bytes, shift } = rw
  const r = new Reader(bytes, start)
  // Locals: the original declarations, plus one i64 for the counter.
  const groups = r.u32()
  let declared = 0
  const localsStart = r.pos
  for (let i = 0; i < groups; i++) {
    declared += r.u32()
    skipValType(r)
  }
  const fuelLocal = params + declared
  if (local) {
    out.u32(groups + 1)
    out.bytes(bytes, localsStart, r.pos)
    out.all([1, 0x7e])
  } else {
    out.bytes(bytes, start, r.pos)
  }
  const g = u32Bytes(fuelGlobal)
  const f = u32Bytes(fuelLocal)
  const x = u32Bytes(exhausted)
  // local = global
  const reload = [op.globalGet, ...g, op.localSet, ...f]
  // global = local
  const spill = [op.localGet, ...f, op.globalSet, ...g]
  // if ((local -= 1) < 0) { global = local; exhausted(); local = global }
  const localCharge = [
    op.localGet, ...f, op.i64Const, 1, op.i64Sub, op.localTee, ...f, op.i64Const, 0, op.i64LtS,
    op.if, 0x40, ...spill, op.call, ...x, ...reload, op.end
  ]
  // global -= 1; if (global < 0) exhausted()
  const globalCharge = [
    op.globalGet, ...g, op.i64Const, 1, op.i64Sub, op.globalSet, ...g,
    op.globalGet, ...g, op.i64Const, 0, op.i64LtS, op.if, 0x40, op.call, ...x, op.end
  ]
  const charge = local ? localCharge : globalCharge
  if (local) out.all(reload)
  out.all(charge)
  // A void loop (most loops) keeps the call to `exhausted` out of its body: with a call inside the loop V8
  // keeps the loop's values on the stack across it, in the hot path too (+25–35% on a tight loop instead
  // of ~10%). The loop is wrapped, and its charge branches out to the refill:
  //
  //   block $exit (loop $retry (block $out (loop $L  (br_if $out charge)  body  end) (br $exit) end)
  //     spill; exhausted(); reload; f += 1 (the retry charges the head again); (br $retry) end) end
  //
  // Branches from inside $L to labels outside it cross three more labels: their indices grow by 3 per
  // wrapped loop crossed.
  const loopCharge = [op.localGet, ...f, op.i64Const, 1, op.i64Sub, op.localTee, ...f, op.i64Const, 0, op.i64LtS, op.brIf, 1]
  const loopOpen = [op.block, 0x40, op.loop, 0x40, op.block, 0x40]
  const loopClose = [
    op.br, 2, op.end, ...spill, op.call, ...x, ...reload,
    op.localGet, ...f, op.i64Const, 1, 0x7c /* i64.add */, op.localSet, ...f, op.br, 0, op.end, op.end
  ]
  // Per open block, innermost last: 1 for a wrapped loop.
  const wrapped: Array<number> = []
  let anyWrapped = 0
  const remap = (label: number): number => {
    if (anyWrapped === 0) return label
    let extra = 0
    for (let i = 0; i < label && i < wrapped.length; i++) extra += wrapped[wrapped.length - 1 - i]!
    return label + 3 * extra
  }

  // The hot loop: written for V8's first tiers too (a cold load runs it once), with the position in a
  // local, LEBs skipped inline, and bytes copied in spans: only where something is inserted or changed is
  // the span up to there flushed (`from` marks the first byte not yet copied).
  let pos = r.pos
  let from = pos
  // Open blocks inside the body: a branch to label `depth` leaves the function.
  let depth = 0
  while (pos < end) {
    const at = pos
    const code = bytes[pos++]!
    if (code >= 0x20 && code <= 0x26) {
      // local.get/set/tee, global.get/set, table.get/set: one index.
      while ((bytes[pos++]! & 0x80) !== 0) {
        // skip
      }
      continue
    }
    if (code >= 0x28 && code <= 0x3e) {
      // loads and stores: a memarg.
      pos = skipMemargAt(bytes, pos)
      continue
    }
    if (code >= 0x45 && code <= 0xc4) continue // numeric, no immediates
    if (local && isExceptionHandling(code)) return "eh"
    switch (code) {
      case op.unreachable:
      case 0x01: // nop
      case op.else:
      case op.throwRef:
      case op.catchAll:
      case 0x1a: // drop
      case 0x1b: // select
      case 0xd1: // ref.is_null
      case 0xd3: // ref.eq
      case 0xd4: // ref.as_non_null
        continue
      case 0x41: // i32.const
      case 0x42: // i64.const
      case 0xd0: // ref.null heap type
      case 0x3f: // memory.size
      case 0x40: // memory.grow
        while ((bytes[pos++]! & 0x80) !== 0) {
          // skip
        }
        continue
      case 0x43:
        pos += 4
        continue
      case 0x44:
        pos += 8
        continue
      case op.block:
      case op.if:
      case op.try:
        pos = skipBlockTypeAt(bytes, pos)
        depth++
        wrapped.push(0)
        continue
      case op.loop:
        pos = skipBlockTypeAt(bytes, pos)
        depth++
        if (local && bytes[at + 1] === 0x40) {
          out.bytes(bytes, from, at)
          out.all(loopOpen)
          out.bytes(bytes, at, pos)
          out.all(loopCharge)
          wrapped.push(1)
          anyWrapped++
        } else {
          out.bytes(bytes, from, pos)
          out.all(charge)
          wrapped.push(0)
        }
        from = pos
        continue
      case op.tryTable: {
        r.pos = skipBlockTypeAt(bytes, pos)
        const catches = r.u32()
        for (let i = 0; i < catches; i++) {
          const kind = r.u8()
          if (kind === 0x00 || kind === 0x01) r.u32()
          r.u32()
        }
        pos = r.pos
        depth++
        wrapped.push(0)
        continue
      }
      case op.end:
        if (depth === 0) {
          // The function's own end: write the counter back on the way out.
          out.bytes(bytes, from, at)
          if (local) out.all(spill)
          out.byte(op.end)
          return pos === end
        }
        depth--
        if (wrapped.pop() === 1) {
          anyWrapped--
          out.bytes(bytes, from, pos)
          out.all(loopClose)
          from = pos
        }
        continue
      case op.delegate:
        r.pos = pos
        r.u32()
        pos = r.pos
        depth--
        wrapped.pop()
        continue
      case op.br:
      case op.brIf:
      case op.brOnNull:
      case op.brOnNonNull: {
        r.pos = pos
        const label = r.u32()
        pos = r.pos
        const leaves = local && label === depth
        const moved = remap(label)
        if (leaves || moved !== label) {
          out.bytes(bytes, from, at)
          if (leaves) out.all(spill)
          if (moved === label) from = at
          else {
            out.byte(code)
            out.u32(moved)
            from = pos
          }
        }
        continue
      }
      case op.brTable: {
        r.pos = pos
        const n = r.u32()
        let leaves = false
        let moves = false
        const labels: Array<number> = []
        for (let i = 0; i <= n; i++) {
          const label = r.u32()
          if (label === depth) leaves = true
          const moved = remap(label)
          if (moved !== label) moves = true
          labels.push(moved)
        }
        pos = r.pos
        if ((local && leaves) || moves) {
          out.bytes(bytes, from, at)
          if (local && leaves) out.all(spill)
          if (!moves) from = at
          else {
            out.byte(op.brTable)
            out.u32(n)
            for (const label of labels) out.u32(label)
            from = pos
          }
        }
        continue
      }
      case op.return:
        if (local) {
          out.bytes(bytes, from, at)
          out.all(spill)
          from = at
        }
        continue
      case op.call:
      case op.returnCall: {
        r.pos = pos
        const target = shift(r.u32())
        pos = r.pos
        out.bytes(bytes, from, at)
        if (local) out.all(spill)
        out.byte(code)
        out.u32(target)
        if (local && code === op.call) out.all(reload)
        from = pos
        continue
      }
      case op.callIndirect:
      case op.returnCallIndirect:
      case op.callRef:
      case op.returnCallRef:
        r.pos = pos
        r.u32()
        if (code === op.callIndirect || code === op.returnCallIndirect) r.u32()
        pos = r.pos
        if (local) {
          out.bytes(bytes, from, at)
          out.all(spill)
          out.bytes(bytes, at, pos)
          if (code === op.callIndirect || code === op.callRef) out.all(reload)
          from = pos
        }
        continue
      case op.refFunc: {
        r.pos = pos
        const target = shift(r.u32())
        pos = r.pos
        out.bytes(bytes, from, at)
        out.byte(op.refFunc)
        out.u32(target)
        from = pos
        continue
      }
      case op.catch:
      case op.throw:
      case op.rethrow:
        while ((bytes[pos++]! & 0x80) !== 0) {
          // skip
        }
        continue
      case op.selectTyped: {
        r.pos = pos
        const n = r.u32()
        for (let i = 0; i < n; i++) skipValType(r)
        pos = r.pos
        continue
      }
      default:
        break
    }
    r.pos = pos
    const known = code === 0xfc
      ? skipMisc(r, r.u32())
      : code === 0xfd
      ? skipSimd(r, r.u32())
      : code === 0xfe
      ? skipAtomic(r, r.u32())
      : false // GC (0xfb), stack switching, or newer
    if (!known) return false
    pos = r.pos
  }
  return false
}

/** `skipMemarg` on a bare position: alignment (bit 6: a memory index follows), offset. */
const skipMemargAt = (bytes: Uint8Array, pos: number): number => {
  const align = bytes[pos]!
  let p = pos
  while ((bytes[p++]! & 0x80) !== 0) {
    // skip
  }
  // Multi-memory sets bit 6 of the alignment, which fits the first byte.
  if ((align & 0x40) !== 0) {
    while ((bytes[p++]! & 0x80) !== 0) {
      // skip
    }
  }
  while ((bytes[p++]! & 0x80) !== 0) {
    // skip
  }
  return p
}

/** `skipBlockType` on a bare position. */
const skipBlockTypeAt = (bytes: Uint8Array, pos: number): number => {
  let p = pos
  const b = bytes[p]!
  if (b === 0x63 || b === 0x64) p++
  while ((bytes[p++]! & 0x80) !== 0) {
    // skip
  }
  return p
}

// --- The module ----------------------------------------------------------------------------------------

/**
 * Meters a core module for fuel in one pass (see the module documentation). `bytes` must validate.
 * Returns the new module and how its functions were metered, or why it declined.
 */
export const meterFuel = (bytes: Uint8Array): { readonly bytes: Uint8Array; readonly stats: FastStats } | Unsupported => {
  const sections = sectionsOf(bytes)
  const find = (id: number) => sections.find((s) => s.id === id)
  const typeParams = readTypes(bytes, find(1))
  if (typeParams === undefined) return { unsupported: "GC types" }
  const imports = readImports(bytes, find(2))
  const importedFunctions = imports.funcTypes.length
  const shift = (index: number) => (index < importedFunctions ? index : index + 1)
  const rw: Rewriter = { bytes, out: new Writer(0), shift }

  // The defined functions' types.
  const definedTypes: Array<number> = []
  const functionSection = find(3)
  if (functionSection !== undefined) {
    const r = new Reader(bytes, functionSection.contents)
    const n = r.u32()
    for (let i = 0; i < n; i++) definedTypes.push(r.u32())
  }
  const refillType = typeParams.length
  const exhaustedType = typeParams.length + 1
  const refillIndex = importedFunctions
  const exhaustedIndex = importedFunctions + 1 + definedTypes.length
  let definedGlobals = 0
  const globalSection = find(6)
  if (globalSection !== undefined) definedGlobals = new Reader(bytes, globalSection.contents).u32()
  const fuelGlobal = imports.globals + definedGlobals

  const out = new Writer(Math.ceil(bytes.length * 1.15) + 256)
  out.bytes(bytes, 0, 8)
  let stats = { local: 0, global: 0 }
  let failed: string | undefined

  /** Writes a section: id, size, contents. */
  const emit = (id: number, contents: Uint8Array) => {
    out.byte(id)
    out.u32(contents.length)
    out.all(contents)
  }

  const build: Record<number, (section: Section | undefined) => Uint8Array | undefined> = {
    4: (section) => {
      if (section === undefined) return undefined
      // A table with an initializer expression (0x40 0x00 ...) could hold a `ref.func`: not handled.
      const r = new Reader(bytes, section.contents)
      const count = r.u32()
      for (let i = 0; i < count; i++) {
        if (bytes[r.pos] === 0x40) {
          failed = "a table initializer"
          return undefined
        }
        skipValType(r)
        skipLimits(r)
      }
      return bytes.subarray(section.contents, section.end)
    },
    1: (section) => {
      const w = new Writer(section === undefined ? 16 : section.end - section.contents + 16)
      w.u32(typeParams.length + 2)
      if (section !== undefined) {
        const r = new Reader(bytes, section.contents)
        r.u32()
        w.bytes(bytes, r.pos, section.end)
      }
      w.all([0x60, 1, 0x7e, 1, 0x7e]) // (i64) -> i64
      w.all([0x60, 0, 0]) // () -> ()
      return w.view()
    },
    2: (section) => {
      const w = new Writer(section === undefined ? 32 : section.end - section.contents + 32)
      const r = section === undefined ? undefined : new Reader(bytes, section.contents)
      const count = r === undefined ? 0 : r.u32()
      w.u32(count + 1)
      if (r !== undefined) w.bytes(bytes, r.pos, section!.end)
      // Last import: index `importedFunctions`, after every imported function.
      w.name("airssys:fuel")
      w.name("refill")
      w.byte(0)
      w.u32(refillType)
      return w.view()
    },
    3: () => {
      const w = new Writer(definedTypes.length * 2 + 8)
      w.u32(definedTypes.length + 1)
      for (const t of definedTypes) w.u32(t)
      w.u32(exhaustedType)
      return w.view()
    },
    6: (section) => {
      const w = new Writer(section === undefined ? 16 : section.end - section.contents + 16)
      w.u32(definedGlobals + 1)
      if (section !== undefined) {
        const r = new Reader(bytes, section.contents)
        r.u32()
        const sub: Rewriter = { bytes, out: w, shift }
        for (let i = 0; i < definedGlobals; i++) {
          const at = r.pos
          skipValType(r)
          r.u8()
          w.bytes(bytes, at, r.pos)
          if (!copyConstExpr(sub, r)) {
            failed = "a global initializer this rewrite does not know"
            return undefined
          }
        }
      }
      w.all([0x7e, 1, op.i64Const, 0, op.end]) // (mut i64) (i64.const 0)
      return w.view()
    },
    7: (section) => {
      const w = new Writer(section === undefined ? 32 : section.end - section.contents + 32)
      const r = section === undefined ? undefined : new Reader(bytes, section.contents)
      const count = r === undefined ? 0 : r.u32()
      w.u32(count + 1)
      for (let i = 0; i < count; i++) {
        const at = r!.pos
        r!.name()
        const kind = r!.u8()
        w.bytes(bytes, at, r!.pos)
        const index = r!.u32()
        w.u32(kind === 0 ? shift(index) : index)
      }
      w.name(fuelExportName)
      w.byte(3)
      w.u32(fuelGlobal)
      return w.view()
    },
    8: (section) => {
      if (section === undefined) return undefined
      const w = new Writer(8)
      w.u32(shift(new Reader(bytes, section.contents).u32()))
      return w.view()
    },
    9: (section) => {
      if (section === undefined) return undefined
      const w = new Writer(section.end - section.contents + 64)
      const r = new Reader(bytes, section.contents)
      const sub: Rewriter = { bytes, out: w, shift }
      const count = r.u32()
      w.u32(count)
      for (let i = 0; i < count; i++) {
        const flags = r.u32()
        w.u32(flags)
        if ((flags & 0x02) !== 0 && (flags & 0x01) === 0) w.u32(r.u32()) // table index
        if ((flags & 0x01) === 0 && !copyConstExpr(sub, r)) {
          failed = "an element offset this rewrite does not know"
          return undefined
        }
        if ((flags & 0x03) !== 0) {
          // elemkind (0x00) or a reference type
          const at = r.pos
          if ((flags & 0x04) === 0) r.u8()
          else skipValType(r)
          w.bytes(bytes, at, r.pos)
        }
        const n = r.u32()
        w.u32(n)
        for (let j = 0; j < n; j++) {
          if ((flags & 0x04) === 0) w.u32(shift(r.u32()))
          else if (!copyConstExpr(sub, r)) {
            failed = "an element expression this rewrite does not know"
            return undefined
          }
        }
      }
      return w.view()
    },
  }

  // The code section is written straight into the output (sizes patched afterwards): it is most of the
  // module, and copying it once more costs as much as rewriting it.
  const writeCode = (section: Section | undefined) => {
    out.byte(10)
    const sectionSize = out.length
    out.padded(0)
    const count = definedTypes.length
    out.u32(count + 1)
    if (section !== undefined) {
      const r = new Reader(bytes, section.contents)
      r.u32()
      let local = 0
      let global = 0
      for (let i = 0; i < count; i++) {
        const size = r.u32()
        const start = r.pos
        const end = start + size
        const params = typeParams[definedTypes[i]!]!
        const bodySize = out.length
        out.padded(0)
        let done = rewriteBody(rw, start, end, params, true, fuelGlobal, exhaustedIndex, out)
        if (done === "eh") {
          out.length = bodySize + 5
          done = rewriteBody(rw, start, end, params, false, fuelGlobal, exhaustedIndex, out)
          global++
        } else local++
        if (done !== true) {
          failed = `function ${importedFunctions + i}: an instruction this rewrite does not know`
          return
        }
        out.padded(out.length - bodySize - 5, bodySize)
        r.pos = end
      }
      stats = { local, global }
    }
    // airssys_fuel_exhausted: global = refill(global); if (global < 0) unreachable
    const g = u32Bytes(fuelGlobal)
    const exhaustedBody = [
      0, op.globalGet, ...g, op.call, ...u32Bytes(refillIndex), op.globalSet, ...g,
      op.globalGet, ...g, op.i64Const, 0, op.i64LtS, op.if, 0x40, op.unreachable, op.end, op.end
    ]
    out.u32(exhaustedBody.length)
    out.all(exhaustedBody)
    out.padded(out.length - sectionSize - 5, sectionSize)
  }

  let nameWritten = false
  const writeNames = (section: Section | undefined) => {
    nameWritten = true
    const contents = rewriteNames(bytes, section, shift, refillIndex, exhaustedIndex)
    if (typeof contents === "string") {
      failed = contents
      return
    }
    emit(0, contents)
  }

  // Walk the sections in order, adding the ones that did not exist in their place.
  let next = 0
  const addMissingBefore = (id: number | undefined) => {
    const limit = id === undefined ? sectionOrder.length : sectionOrder.indexOf(id)
    for (; next < limit; next++) {
      const missing = sectionOrder[next]!
      if (find(missing) !== undefined) continue
      if (missing === 10) {
        writeCode(undefined)
        continue
      }
      const make = build[missing]
      const contents = make?.(undefined)
      if (contents !== undefined) emit(missing, contents)
    }
    if (id !== undefined && limit >= 0) next = Math.max(next, limit + 1)
  }
  for (const section of sections) {
    if (failed !== undefined) break
    if (section.id === 0) {
      const name = customName(bytes, section)
      if (name === "name") writeNames(section)
      else if (!name.startsWith(".debug")) out.bytes(bytes, section.start, section.end)
      continue
    }
    addMissingBefore(section.id)
    if (section.id === 10) {
      writeCode(section)
      continue
    }
    const make = build[section.id]
    if (make === undefined) {
      out.bytes(bytes, section.start, section.end)
      continue
    }
    const contents = make(section)
    if (contents !== undefined) emit(section.id, contents)
  }
  if (failed === undefined) addMissingBefore(undefined)
  if (failed === undefined && !nameWritten) writeNames(undefined)
  if (failed !== undefined) return { unsupported: failed }
  return { bytes: out.view(), stats }
}

/**
 * The name section with function indices shifted, and names for the added import and function (so a
 * fuel trap's stack names `airssys_fuel_exhausted`). Subsections that name function-indexed things
 * (functions 1, locals 2, labels 3) are rewritten; the others are copied.
 */
const rewriteNames = (
  bytes: Uint8Array,
  section: Section | undefined,
  shift: (index: number) => number,
  refillIndex: number,
  exhaustedIndex: number
): Uint8Array | string => {
  const w = new Writer(section === undefined ? 64 : section.end - section.contents + 64)
  w.name("name")
  let functionNames = false
  const writeFunctionNames = (entries: Array<[number, Uint8Array]>) => {
    entries.push([refillIndex, utf8Encoder.encode(refillName)], [exhaustedIndex, utf8Encoder.encode(exhaustedName)])
    entries.sort((a, b) => a[0] - b[0])
    const sub = new Writer(64)
    sub.u32(entries.length)
    for (const [index, name] of entries) {
      sub.u32(index)
      sub.u32(name.length)
      sub.all(name)
    }
    w.byte(1)
    w.u32(sub.length)
    w.all(sub.view())
    functionNames = true
  }
  if (section !== undefined) {
    const r = new Reader(bytes, section.contents)
    r.name()
    while (r.pos < section.end) {
      const id = r.u8()
      const size = r.u32()
      const end = r.pos + size
      if (id === 1) {
        const entries: Array<[number, Uint8Array]> = []
        const n = r.u32()
        for (let i = 0; i < n; i++) {
          const index = r.u32()
          const length = r.u32()
          const name = bytes.subarray(r.pos, r.pos + length)
          r.pos += length
          // Only names as long as ours can clash: most are never decoded.
          if (length === exhaustedName.length || length === refillName.length) {
            const text = utf8Decoder.decode(name)
            if (text === exhaustedName || text === refillName) return `the module already has a function named ${text}`
          }
          entries.push([shift(index), name])
        }
        writeFunctionNames(entries)
      } else if (id === 2 || id === 3) {
        if (!functionNames) writeFunctionNames([])
        // An indirect name map: function index, then a name map of its locals or labels.
        const sub = new Writer(size + 16)
        const n = r.u32()
        sub.u32(n)
        for (let i = 0; i < n; i++) {
          sub.u32(shift(r.u32()))
          const at = r.pos
          const m = r.u32()
          for (let j = 0; j < m; j++) {
            r.u32()
            r.pos += r.u32()
          }
          sub.bytes(bytes, at, r.pos)
        }
        w.byte(id)
        w.u32(sub.length)
        w.all(sub.view())
      } else {
        if (!functionNames && id > 1) writeFunctionNames([])
        w.byte(id)
        w.u32(size)
        w.bytes(bytes, r.pos, end)
      }
      r.pos = end
    }
  }
  if (!functionNames) writeFunctionNames([])
  return w.view()
}
