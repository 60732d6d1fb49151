/**
 * jco's glue as a classic script, for a disk-cache hit to compile with V8's code cache kept beside it.
 *
 * The glue is a module of several hundred KB (~800 KB for the QuickJS guest) whose code is nearly all
 * one function, `instantiate`. Imported as a module, V8 pre-parses all of it on every load of it; Node
 * has no code cache for a module a library imports (`module.enableCompileCache` turns one on for the
 * whole process, the host's own modules included). A script compiled with a code cache skips that parse
 * (`instantiate` is then compiled from its source when first called, as it is after an import). Justified
 * by the bench row `load: disk cache load, QuickJS guest (new process)` (issue 12's ≤ 20 ms).
 *
 * V8 checks a code cache against its version and flags and the source's length only, and release builds
 * do not checksum its payload: each cache file carries CRC-32s of what the script is made from (the glue,
 * its URL, this file's way of wrapping it) and of the cache, and one that does not match is not handed
 * to V8.
 *
 * @internal
 */
import { crc32 } from "node:zlib"

/**
 * The glue module as the source of a function expression returning its `instantiate`: its exported
 * declarations become local ones, `import.meta.url` the module's URL it would have had. A glue of another
 * shape (a static import, another form of export, another use of `import.meta`) leaves module syntax in
 * the script, which then does not compile, and the glue is imported as a module.
 */
export const glueScript = (glue: string, url: string): string => {
  const body = glue
    .replace(/^export (?=(?:async\s+)?function\b|const\b|let\b|class\b)/gm, "")
    .replaceAll("import.meta.url", JSON.stringify(url))
  // A module is strict; its lines keep their numbers.
  return `(function () {"use strict";${body}\nreturn instantiate;\n})`
}

// "AWG1" (the way `glueScript` wraps the glue: a new one needs a new number), then the CRC-32 of the
// script's making and of V8's data.
const magic = 0x41574731
const headerBytes = 12

// Of the glue (a flat string, as read) and its URL rather than of the script built from them: the
// same binding, without encoding a fresh ~800 KB string.
const scriptCrc = (glue: string, url: string): number => crc32(url, crc32(glue))

/** V8's code cache for `glueScript(glue, url)`, with the header `codeCacheFor` checks. */
export const codeCacheFile = (glue: string, url: string, data: Uint8Array): Uint8Array => {
  const file = new Uint8Array(headerBytes + data.byteLength)
  const header = new DataView(file.buffer)
  header.setUint32(0, magic)
  header.setUint32(4, scriptCrc(glue, url))
  header.setUint32(8, crc32(data))
  file.set(data, headerBytes)
  return file
}

/** V8's data in a file written by `codeCacheFile` for this same glue and URL; `undefined` if it is not one. */
export const codeCacheFor = (glue: string, url: string, file: Uint8Array): Uint8Array | undefined => {
  if (file.byteLength <= headerBytes) return undefined
  const header = new DataView(file.buffer, file.byteOffset, headerBytes)
  const data = file.subarray(headerBytes)
  return header.getUint32(0) === magic && header.getUint32(4) === scriptCrc(glue, url) && header.getUint32(8) === crc32(data)
    ? data
    : undefined
}
