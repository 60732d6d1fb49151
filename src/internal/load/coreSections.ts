/**
 * Reading a core WebAssembly module's sections, and the error every limit rewrite fails with. The byte
 * reader the memory cap and the fuel rewrite's checks share: sections by id and extent, the export names.
 *
 * @internal
 */
import { Data, Result } from "effect"
import { type Cursor, readUnsigned } from "./leb128.ts"

// -----------------------------------------------------------------------------
// Errors
// -----------------------------------------------------------------------------

/**
 * Why a module could not be rewritten.
 *
 * - `NotCoreModule`: not a core module (a component, or not WebAssembly at all).
 * - `Malformed`: the sections do not parse, or the module does not validate.
 * - `Unsupported`: valid, but uses something the rewrite does not handle (custom page sizes).
 * - `InvalidCap`: the cap is not a non-negative finite number of bytes.
 * - `InitialExceedsCap`: a memory's initial size is already above the cap.
 * - `AlreadyInstrumented` / `NameClash`: the module already uses the names the fuel rewrite adds.
 * - `InstrumentFailed`: binaryen (or the worker running it) failed.
 */
export type RewriteFailure =
  | "NotCoreModule"
  | "Malformed"
  | "Unsupported"
  | "InvalidCap"
  | "InitialExceedsCap"
  | "AlreadyInstrumented"
  | "NameClash"
  | "InstrumentFailed"

export class WasmRewriteError extends Data.TaggedError("WasmRewriteError")<{
  readonly reason: RewriteFailure
  readonly message: string
  /** For `InitialExceedsCap`: which defined memory (0 = the first in the memory section). */
  readonly memory?: number
  /** For `InitialExceedsCap`: the memory's initial size, in 64 KiB pages. */
  readonly initialPages?: number
  /** For `InitialExceedsCap`: the cap, in 64 KiB pages. */
  readonly capPages?: number
}> {}

export const failure = (reason: RewriteFailure, message: string) => new WasmRewriteError({ reason, message })

// -----------------------------------------------------------------------------
// Binary reading
// -----------------------------------------------------------------------------

const magic = [0x00, 0x61, 0x73, 0x6d]
export const memorySectionId = 5
const exportSectionId = 7

export interface Section {
  readonly id: number
  /** Offset of the section's id byte. */
  readonly start: number
  /** Offset of the section's contents (after the size). */
  readonly contents: number
  /** Offset one past the section's last byte. */
  readonly end: number
}

const checkCoreHeader = (bytes: Uint8Array): WasmRewriteError | undefined => {
  if (bytes.length < 8 || magic.some((b, i) => bytes[i] !== b)) {
    return failure("NotCoreModule", "not WebAssembly: the bytes do not start with \\0asm")
  }
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) {
    return failure("NotCoreModule", "not a core module (version 1): a component must be split into its core modules first")
  }
  return undefined
}

export const readSections = (bytes: Uint8Array): Result.Result<ReadonlyArray<Section>, WasmRewriteError> => {
  const invalid = checkCoreHeader(bytes)
  if (invalid !== undefined) return Result.fail(invalid)
  const sections: Array<Section> = []
  const cursor: Cursor = { pos: 8 }
  while (cursor.pos < bytes.length) {
    const start = cursor.pos
    const id = bytes[cursor.pos++]!
    const size = readUnsigned(bytes, cursor, 32)
    if (size === undefined || cursor.pos + size > bytes.length) {
      return Result.fail(failure("Malformed", `section ${id} at offset ${start} runs past the end of the module`))
    }
    sections.push({ id, start, contents: cursor.pos, end: cursor.pos + size })
    cursor.pos += size
  }
  return Result.succeed(sections)
}

/** The names of the module's exports, read from its export section. */
export const exportNames = (bytes: Uint8Array, sections: ReadonlyArray<Section>): Array<string> | undefined => {
  const section = sections.find((s) => s.id === exportSectionId)
  if (section === undefined) return []
  const cursor: Cursor = { pos: section.contents }
  const count = readUnsigned(bytes, cursor, 32)
  if (count === undefined) return undefined
  const names: Array<string> = []
  const utf8 = new TextDecoder()
  for (let i = 0; i < count; i++) {
    const length = readUnsigned(bytes, cursor, 32)
    if (length === undefined || cursor.pos + length > section.end) return undefined
    names.push(utf8.decode(bytes.subarray(cursor.pos, cursor.pos + length)))
    cursor.pos += length + 1 // name, kind byte
    if (readUnsigned(bytes, cursor, 32) === undefined) return undefined // index
  }
  return names
}

