/**
 * The memory cap: a byte-exact rewrite of a core module's memory section only. Every memory the module
 * defines gets a maximum of at most `floor(maxBytes / 65536)` pages; V8 then makes `memory.grow` past it
 * return -1. Every other byte is copied as is: no code is decoded or re-encoded, so it costs a copy of the
 * module (milliseconds for 12 MB) and cannot change what the guest computes. Imported memories are left
 * alone: the module that defines a memory is the one to cap.
 *
 * @internal
 */
import { Result } from "effect"
import { failure, memorySectionId, readSections, type Section, WasmRewriteError } from "./coreSections.ts"
import { type Cursor, encodeUnsigned, readUnsigned } from "./leb128.ts"

export const pageSize = 65536


/**
 * A memory defined by the module, as its memory section declares it. Sizes are in 64 KiB pages.
 */
export interface DefinedMemory {
  /** Position in the memory section (imported memories are not counted). */
  readonly index: number
  readonly initialPages: number
  readonly maximumPages: number | undefined
  readonly shared: boolean
  readonly memory64: boolean
}

// limits flags: bit 0 = has maximum, bit 1 = shared (threads), bit 2 = 64-bit index (memory64),
// bit 3 = custom page size (custom-page-sizes proposal).
const hasMaximumFlag = 0x01
const sharedFlag = 0x02
const memory64Flag = 0x04
const customPageSizeFlag = 0x08

interface ParsedMemory extends DefinedMemory {
  readonly flags: number
  /** The initial size exactly as encoded, so that a rewrite copies it byte for byte. */
  readonly initialBytes: Uint8Array
}

const parseMemorySection = (bytes: Uint8Array, section: Section): Result.Result<Array<ParsedMemory>, WasmRewriteError> => {
  const malformed = (what: string) => Result.fail(failure("Malformed", `memory section: ${what}`))
  const cursor: Cursor = { pos: section.contents }
  const count = readUnsigned(bytes, cursor, 32)
  if (count === undefined) return malformed("bad memory count")
  const memories: Array<ParsedMemory> = []
  for (let index = 0; index < count; index++) {
    if (cursor.pos >= section.end) return malformed(`memory ${index} is cut off`)
    const flags = bytes[cursor.pos++]!
    if ((flags & ~0x0f) !== 0) return malformed(`memory ${index} has unknown limits flags 0x${flags.toString(16)}`)
    if ((flags & customPageSizeFlag) !== 0) {
      return Result.fail(failure("Unsupported", `memory ${index} uses a custom page size (custom-page-sizes proposal)`))
    }
    const shared = (flags & sharedFlag) !== 0
    const memory64 = (flags & memory64Flag) !== 0
    const bits = memory64 ? 64 : 32
    const initialStart = cursor.pos
    const initialPages = readUnsigned(bytes, cursor, bits)
    if (initialPages === undefined) return malformed(`memory ${index} has a bad initial size`)
    const initialBytes = bytes.subarray(initialStart, cursor.pos)
    let maximumPages: number | undefined
    if ((flags & hasMaximumFlag) !== 0) {
      maximumPages = readUnsigned(bytes, cursor, bits)
      if (maximumPages === undefined) return malformed(`memory ${index} has a bad maximum size`)
    } else if (shared) {
      return malformed(`memory ${index} is shared without a maximum`)
    }
    if (cursor.pos > section.end) return malformed(`memory ${index} runs past the section`)
    memories.push({ index, flags, initialPages, initialBytes, maximumPages, shared, memory64 })
  }
  if (cursor.pos !== section.end) return malformed("trailing bytes after the last memory")
  return Result.succeed(memories)
}

const findMemorySection = (sections: ReadonlyArray<Section>): Result.Result<Section | undefined, WasmRewriteError> => {
  const found = sections.filter((section) => section.id === memorySectionId)
  return found.length > 1
    ? Result.fail(failure("Malformed", "more than one memory section"))
    : Result.succeed(found[0])
}

const toPublic = ({ index, initialPages, maximumPages, shared, memory64 }: ParsedMemory): DefinedMemory => ({
  index,
  initialPages,
  maximumPages,
  shared,
  memory64
})

/**
 * The memories a core module defines (its memory section), without changing anything.
 */
export const definedMemories = (bytes: Uint8Array): Result.Result<ReadonlyArray<DefinedMemory>, WasmRewriteError> =>
  Result.flatMap(readSections(bytes), (sections) =>
    Result.flatMap(findMemorySection(sections), (section) =>
      section === undefined
        ? Result.succeed([])
        : Result.map(parseMemorySection(bytes, section), (memories) => memories.map(toPublic))))

// The largest maximum a memory may declare: 4 GiB for 32-bit memories, 2^48 pages for memory64.
const maxPages32 = 65536
const maxPages64 = 2 ** 48

/**
 * Caps every memory the module defines at `floor(maxBytes / 65536)` pages: a memory without a maximum
 * gets the cap as its maximum, one with a higher maximum is lowered to it, one with a lower maximum
 * keeps its own. Shared and 64-bit memories are handled (their flags are kept); custom page sizes are
 * rejected. Fails with `InitialExceedsCap` when a memory's initial size is already above the cap: it
 * could never be instantiated within the limit.
 *
 * Only the memory section is rebuilt; everything before and after it is copied unchanged. A module that
 * defines no memory is returned as is (its memory, if any, is imported and capped where it is defined).
 */
export const capMemory = (bytes: Uint8Array, maxBytes: number): Result.Result<Uint8Array, WasmRewriteError> => {
  if (!Number.isFinite(maxBytes) || maxBytes < 0) {
    return Result.fail(failure("InvalidCap", `memory cap must be a non-negative number of bytes, got ${maxBytes}`))
  }
  const capPages = Math.floor(maxBytes / pageSize)
  return Result.flatMap(readSections(bytes), (sections) =>
    Result.flatMap(findMemorySection(sections), (section) => {
      if (section === undefined) return Result.succeed(bytes)
      return Result.flatMap(parseMemorySection(bytes, section), (memories) => {
        const contents: Array<number> = encodeUnsigned(memories.length)
        for (const memory of memories) {
          const cap = Math.min(capPages, memory.memory64 ? maxPages64 : maxPages32)
          if (memory.initialPages > cap) {
            return Result.fail(
              new WasmRewriteError({
                reason: "InitialExceedsCap",
                message: `memory ${memory.index} starts at ${memory.initialPages} pages (${
                  memory.initialPages * pageSize
                } bytes), above the cap of ${cap} pages (${cap * pageSize} bytes)`,
                memory: memory.index,
                initialPages: memory.initialPages,
                capPages: cap
              })
            )
          }
          const maximum = memory.maximumPages === undefined ? cap : Math.min(memory.maximumPages, cap)
          contents.push(memory.flags | hasMaximumFlag, ...memory.initialBytes, ...encodeUnsigned(maximum))
        }
        const header = [memorySectionId, ...encodeUnsigned(contents.length)]
        const out = new Uint8Array(bytes.length - (section.end - section.start) + header.length + contents.length)
        out.set(bytes.subarray(0, section.start), 0)
        out.set(header, section.start)
        out.set(contents, section.start + header.length)
        out.set(bytes.subarray(section.end), section.start + header.length + contents.length)
        return Result.succeed(out)
      })
    }))
}
