/**
 * Unsigned LEB128, the integer encoding of the WebAssembly binary format: what the memory-cap,
 * fuel and stub rewriters read and write section sizes, counts and indices with.
 *
 * @internal
 */

/** A read position; readers move it past what they read. */
export interface Cursor {
  pos: number
}

/**
 * Reads an unsigned LEB128 of at most `bits` (32 or 64), up to 2^53 (exact in a double); `undefined` when
 * the bytes run out or the value is out of range.
 */
export const readUnsigned = (bytes: Uint8Array, cursor: Cursor, bits: 32 | 64 = 32): number | undefined => {
  const maxLength = Math.ceil(bits / 7)
  let result = 0
  let scale = 1
  for (let i = 0; i < maxLength; i++) {
    if (cursor.pos >= bytes.length) return undefined
    const byte = bytes[cursor.pos++]!
    result += (byte & 0x7f) * scale
    if ((byte & 0x80) === 0) {
      if (bits === 32 && result > 0xffff_ffff) return undefined
      return result > Number.MAX_SAFE_INTEGER ? undefined : result
    }
    scale *= 128
  }
  return undefined
}

/** The shortest unsigned LEB128 encoding of `value` (a non-negative integer up to 2^53). */
export const encodeUnsigned = (value: number): Array<number> => {
  const out: Array<number> = []
  let rest = value
  do {
    const low = rest % 128
    rest = Math.floor(rest / 128)
    out.push(rest > 0 ? low | 0x80 : low)
  } while (rest > 0)
  return out
}
