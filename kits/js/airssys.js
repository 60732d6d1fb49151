// airssys.js: helpers for airssys-wasm guests in JavaScript, for componentize-js (SpiderMonkey) and
// componentize-qjs (QuickJS) alike. Types for the host's interfaces are in airssys.d.ts.

/** UTF-8 bytes of a string. QuickJS has no TextEncoder, so the kit carries its own. */
export function encode(text) {
  const bytes = []
  for (const ch of text) {
    const c = ch.codePointAt(0)
    if (c < 0x80) bytes.push(c)
    else if (c < 0x800) bytes.push(0xc0 | (c >> 6), 0x80 | (c & 63))
    else if (c < 0x10000) bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
    else bytes.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63))
  }
  return new Uint8Array(bytes)
}

/** The string of UTF-8 bytes (invalid sequences become U+FFFD). */
export function decode(bytes) {
  let text = ""
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]
    const n = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0
    if (n === 0 || i + n > bytes.length) {
      text += "\ufffd"
      i++
      continue
    }
    let c = n === 1 ? b : b & (0xff >> (n + 1))
    for (let k = 1; k < n; k++) c = (c << 6) | (bytes[i + k] & 63)
    text += String.fromCodePoint(c)
    i += n
  }
  return text
}

/**
 * The message of a host import's `err` (both engines throw it: componentize-js as an Error carrying
 * `payload`, componentize-qjs as the string itself), or of anything else thrown.
 */
export function errorMessage(error) {
  if (typeof error === "string") return error
  if (typeof error?.payload === "string") return error.payload
  return String(error?.message ?? error)
}

/**
 * Runs `f`; whatever it throws becomes the export's `err(message)` (a thrown string is `err` in both
 * engines). Without it, componentize-js traps on a thrown Error.
 */
export function result(f) {
  try {
    return f()
  } catch (error) {
    throw errorMessage(error)
  }
}
