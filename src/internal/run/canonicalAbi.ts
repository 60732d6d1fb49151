/**
 * Direct calls of the exports our WIT defines, by the canonical ABI, without jco's per-call task
 * bookkeeping (~5 µs → ~0.2 µs per call). Bound only when exactly one core instance exports the function
 * beside its memory and `cabi_realloc`, which is how wit-component lays out a guest; otherwise callers use
 * jco's glue. A guest that imports host functions must go through the glue (see `Instance.ts`).
 *
 * Everything the ABI calls a trap (a misaligned return area, a list or string outside linear memory, a
 * bad discriminant) throws `WebAssembly.RuntimeError`; a guest's `err` throws `GuestErr`.
 *
 * @internal
 */
import { isUtf8 } from "node:buffer"

/** Thrown when the guest returns `err`. jco's glue throws its own `ComponentError`. */
export class GuestErr {
  readonly payload: unknown
  constructor(payload: unknown) {
    this.payload = payload
  }
}

/** The `types.message` record, as `bindHandleMessage` lowers it. */
export interface MessageFields {
  readonly sender: string
  readonly topic?: string | undefined
  readonly correlationId?: bigint | undefined
  readonly payload: Uint8Array
  /**
   * Nobody will read the reply (a fire-and-forget message): it is checked as always (a bad one still traps)
   * but not copied out of guest memory, and the call answers `undefined`.
   */
  readonly replyUnread?: boolean | undefined
}

const utf8 = new TextDecoder()
const utf8Encoder = new TextEncoder()
const trap = (message: string) => new WebAssembly.RuntimeError(message)

/** One guest's linear memory and allocator, as the canonical ABI uses them. */
interface GuestMemory {
  readonly exports: WebAssembly.Exports
  /** Copies bytes into guest memory (allocated by `cabi_realloc`); returns the pointer. */
  lower(bytes: Uint8Array): number
  /** A view of memory now (`memory.grow` detaches the old buffer). */
  view(): DataView
  /** Checks a return area's alignment (4 for every result here) and extent; returns it as unsigned. */
  returnArea(ret: number, size: number): number
  bytes(ptr: number, len: number, what: string): Uint8Array
  /** Traps when `ptr`/`len` lie outside memory. */
  check(ptr: number, len: number, what: string): void
  string(ptr: number, len: number, what: string): string
}

// Senders and topics repeat: keep their UTF-8 encodings instead of encoding on every message. One cache
// for every instance (they are only read, copied into guest memory), so it stays warm with many actors.
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

const guestMemory = (exports: WebAssembly.Exports): GuestMemory => {
  const memory = exports.memory as WebAssembly.Memory
  const realloc = exports.cabi_realloc as (old: number, oldSize: number, align: number, size: number) => number
  // Views of the whole memory, kept across calls: `memory.grow` detaches the buffer, and a view of a
  // detached buffer has length 0, which is when they are made again (as for an empty memory, cheaply).
  let bytes = new Uint8Array(memory.buffer)
  let view = new DataView(memory.buffer)
  const current = (): Uint8Array => {
    if (bytes.byteLength === 0) {
      bytes = new Uint8Array(memory.buffer)
      view = new DataView(memory.buffer)
    }
    return bytes
  }
  const inBounds = (ptr: number, len: number, what: string) => {
    if (ptr + len > current().byteLength) {
      throw trap(`${what} at ${ptr} (${len} bytes) is outside linear memory (${bytes.byteLength} bytes)`)
    }
  }
  return {
    exports,
    lower: (input) => {
      const ptr = realloc(0, 0, 1, input.byteLength)
      current().set(input, ptr)
      return ptr
    },
    view: () => {
      current()
      return view
    },
    returnArea: (ret, size) => {
      // An i32 result: a pointer above 2^31 arrives negative.
      const ptr = ret >>> 0
      if ((ptr & 3) !== 0) throw trap(`return area ${ptr} is not aligned to 4`)
      inBounds(ptr, size, "return area")
      return ptr
    },
    check: inBounds,
    bytes: (ptr, len, what) => {
      inBounds(ptr, len, what)
      return bytes.slice(ptr, ptr + len)
    },
    string: (ptr, len, what) => {
      inBounds(ptr, len, what)
      const view = bytes.subarray(ptr, ptr + len)
      // Lifting a string that is not UTF-8 traps (the component model), rather than changing what the
      // guest said with U+FFFD.
      if (!isUtf8(view)) throw trap(`${what} is not valid UTF-8`)
      return utf8.decode(view)
    }
  }
}

/** The core instance that exports `name` (exactly one), with its memory and allocator. */
const findGuest = (cores: ReadonlyArray<WebAssembly.Instance>, name: string): GuestMemory | undefined => {
  const matches = cores.filter((core) => typeof core.exports[name] === "function")
  if (matches.length !== 1) return undefined
  const exports = matches[0]!.exports
  if (!(exports.memory instanceof WebAssembly.Memory) || typeof exports.cabi_realloc !== "function") return undefined
  return guestMemory(exports)
}

const exportNamed = (cores: ReadonlyArray<WebAssembly.Instance>, pattern: RegExp): string | undefined => {
  const names = cores.flatMap((core) => Object.keys(core.exports).filter((name) => pattern.test(name)))
  return names.length === 1 ? names[0] : undefined
}

const postReturnOf = (guest: GuestMemory, name: string) => {
  const fn = guest.exports[`cabi_post_${name}`]
  return typeof fn === "function" ? (fn as (ret: number) => void) : undefined
}

/** `result<_, string>` or the `err` arm of any result whose `err` is a string, from a return area. */
const failIfErr = (guest: GuestMemory, ret: number, tag: number): void => {
  if (tag === 1) {
    const dv = guest.view()
    throw new GuestErr(guest.string(dv.getUint32(ret + 4, true), dv.getUint32(ret + 8, true), "error string"))
  }
  if (tag !== 0) throw trap(`invalid result discriminant ${tag}`)
}

/** `process: func(input: list<u8>) -> result<list<u8>, string>`; return area: tag @0, ptr/len @4/@8. */
export const bindProcess = (cores: ReadonlyArray<WebAssembly.Instance>): ((input: Uint8Array) => Uint8Array) | undefined => {
  const guest = findGuest(cores, "process")
  if (guest === undefined) return undefined
  const process = guest.exports.process as (ptr: number, len: number) => number
  const postReturn = postReturnOf(guest, "process")
  return (input) => {
    const ret = guest.returnArea(process(guest.lower(input), input.byteLength), 12)
    // Results are copied out before post-return lets the guest free them.
    try {
      const dv = guest.view()
      const tag = dv.getUint8(ret)
      failIfErr(guest, ret, tag)
      return guest.bytes(dv.getUint32(ret + 4, true), dv.getUint32(ret + 8, true), "result list")
    } finally {
      postReturn?.(ret)
    }
  }
}

const handlerExport = /^airssys:component\/handler(@[^#]*)?#handle-message$/

/**
 * `handler.handle-message: func(msg: message) -> result<option<list<u8>>, string>`. The record flattens
 * to 9 core params; return area: tag @0; ok: option tag @4, list ptr/len @8/@12; err: string ptr/len @4/@8.
 */
export const bindHandleMessage = (
  cores: ReadonlyArray<WebAssembly.Instance>
): ((message: MessageFields) => Uint8Array | undefined) | undefined => {
  const name = exportNamed(cores, handlerExport)
  const guest = name === undefined ? undefined : findGuest(cores, name)
  if (name === undefined || guest === undefined) return undefined
  const handle = guest.exports[name] as (...params: Array<number | bigint>) => number
  const postReturn = postReturnOf(guest, name)
  return (message) => {
    const sender = encode(message.sender)
    const topic = message.topic === undefined ? undefined : encode(message.topic)
    const ret = guest.returnArea(handle(
      guest.lower(sender),
      sender.byteLength,
      topic === undefined ? 0 : 1,
      topic === undefined ? 0 : guest.lower(topic),
      topic?.byteLength ?? 0,
      message.correlationId === undefined ? 0 : 1,
      message.correlationId ?? 0n,
      guest.lower(message.payload),
      message.payload.byteLength
    ), 16)
    try {
      const dv = guest.view()
      const tag = dv.getUint8(ret)
      if (tag !== 0) {
        failIfErr(guest, ret, tag)
        return undefined
      }
      const some = dv.getUint8(ret + 4)
      if (some === 0) return undefined
      if (some !== 1) throw trap(`invalid option discriminant ${some}`)
      const ptr = dv.getUint32(ret + 8, true)
      const len = dv.getUint32(ret + 12, true)
      if (message.replyUnread !== true) return guest.bytes(ptr, len, "reply list")
      guest.check(ptr, len, "reply list")
      return undefined
    } finally {
      postReturn?.(ret)
    }
  }
}

const lifecycleExport = (fn: string) => new RegExp(`^airssys:component/lifecycle(@[^#]*)?#${fn}$`)
const initExport = lifecycleExport("init")
const shutdownExport = lifecycleExport("shutdown")

/**
 * `lifecycle.init: func(config: list<u8>) -> result<_, string>` (return area: tag @0, err string
 * ptr/len @4/@8) and `lifecycle.shutdown: func()`.
 */
export const bindLifecycle = (
  cores: ReadonlyArray<WebAssembly.Instance>
): { readonly init: (config: Uint8Array) => void; readonly shutdown: () => void } | undefined => {
  const initName = exportNamed(cores, initExport)
  const shutdownName = exportNamed(cores, shutdownExport)
  const guest = initName === undefined ? undefined : findGuest(cores, initName)
  if (initName === undefined || shutdownName === undefined || guest === undefined) return undefined
  const init = guest.exports[initName] as (ptr: number, len: number) => number
  const shutdown = guest.exports[shutdownName]
  if (typeof shutdown !== "function") return undefined
  const postReturn = postReturnOf(guest, initName)
  return {
    init: (config) => {
      const ret = guest.returnArea(init(guest.lower(config), config.byteLength), 12)
      try {
        failIfErr(guest, ret, guest.view().getUint8(ret))
      } finally {
        postReturn?.(ret)
      }
    },
    shutdown: () => void (shutdown as () => void)()
  }
}
