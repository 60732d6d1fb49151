/**
 * `wasi:filesystem` 0.2 on the host: the backends (real `node:fs`, an in-memory tree), how a guest's
 * path becomes the real path to check and touch, and the `descriptor` and `directory-entry-stream`
 * resources.
 *
 * Every path a guest names goes through `Session.authorize` (lexical canonicalization, then the real
 * path of what exists, then containment and the FileRead / FileWrite globs, then an audit event)
 * before the backend sees it; the backend is then handed the real path, and the last component is
 * never followed again (`O_NOFOLLOW`, `lstat`), so a symlink swapped in after the check fails with
 * `loop` instead of leading outside.
 *
 * @internal
 */
import { Effect, Result } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { HostRefusal } from "../ComponentError.ts"
import { type HostResource, resource } from "./hostBridge.ts"
import * as WasiIo from "./wasiIo.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/** The WASI `error-code` cases, in WIT order. */
export const errorCodes = [
  "access", "would-block", "already", "bad-descriptor", "busy", "deadlock", "quota", "exist", "file-too-large",
  "illegal-byte-sequence", "in-progress", "interrupted", "invalid", "io", "is-directory", "loop", "too-many-links",
  "message-size", "name-too-long", "no-device", "no-entry", "no-lock", "insufficient-memory", "insufficient-space",
  "not-directory", "not-empty", "not-recoverable", "unsupported", "no-tty", "no-such-device", "overflow",
  "not-permitted", "pipe", "read-only", "invalid-seek", "text-file-busy", "cross-device"
] as const

export type ErrorCode = typeof errorCodes[number]

export type DescriptorType =
  | "unknown"
  | "block-device"
  | "character-device"
  | "directory"
  | "fifo"
  | "symbolic-link"
  | "regular-file"
  | "socket"

export interface Datetime {
  readonly seconds: bigint
  readonly nanoseconds: number
}

export interface Stat {
  readonly type: DescriptorType
  readonly linkCount: bigint
  readonly size: bigint
  readonly dataAccessTimestamp: Datetime | undefined
  readonly dataModificationTimestamp: Datetime | undefined
  readonly statusChangeTimestamp: Datetime | undefined
  /** Identity of the object: device and inode (for `metadata-hash`, `is-same-object`). */
  readonly device: bigint
  readonly inode: bigint
}

export interface OpenOptions {
  readonly read: boolean
  readonly write: boolean
  readonly create: boolean
  readonly exclusive: boolean
  readonly truncate: boolean
}

/**
 * A filesystem the host serves guests from. Plain synchronous operations (a guest's call cannot wait
 * for a promise) on absolute, already-checked paths; failures are thrown as errors with a POSIX
 * `code` (`ENOENT`, ...). `open` must not follow a symlink in the last component.
 */
export interface Backend {
  readonly realpath: (path: string) => string
  /** Like `lstat`: the last component is not followed. */
  readonly stat: (path: string) => Stat
  readonly open: (path: string, options: OpenOptions) => number
  readonly fstat: (fd: number) => Stat
  readonly read: (fd: number, length: number, position: number) => Uint8Array
  readonly write: (fd: number, bytes: Uint8Array, position: number) => number
  readonly truncate: (fd: number, size: number) => void
  readonly sync: (fd: number) => void
  readonly close: (fd: number) => void
  readonly readdir: (path: string) => ReadonlyArray<{ readonly name: string; readonly type: DescriptorType }>
  readonly mkdir: (path: string) => void
  readonly rmdir: (path: string) => void
  readonly unlink: (path: string) => void
  readonly rename: (from: string, to: string) => void
}

/** The errno a backend throws, as a WASI error-code. */
export const errorCodeOf = (thrown: unknown): ErrorCode => {
  const code = typeof thrown === "object" && thrown !== null ? (thrown as { code?: unknown }).code : undefined
  switch (code) {
    case "ENOENT":
      return "no-entry"
    case "EACCES":
      return "access"
    case "EPERM":
      return "not-permitted"
    case "EEXIST":
      return "exist"
    case "ENOTDIR":
      return "not-directory"
    case "EISDIR":
      return "is-directory"
    case "ENOTEMPTY":
      return "not-empty"
    case "ELOOP":
      return "loop"
    case "ENAMETOOLONG":
      return "name-too-long"
    case "EBADF":
      return "bad-descriptor"
    case "EINVAL":
      return "invalid"
    case "ENOSPC":
      return "insufficient-space"
    case "EDQUOT":
      return "quota"
    case "EROFS":
      return "read-only"
    case "EXDEV":
      return "cross-device"
    case "EBUSY":
      return "busy"
    case "EMLINK":
      return "too-many-links"
    case "EFBIG":
      return "file-too-large"
    case "ESPIPE":
      return "invalid-seek"
    case "ETXTBSY":
      return "text-file-busy"
    case "ENOMEM":
      return "insufficient-memory"
    default:
      return "io"
  }
}

// -----------------------------------------------------------------------------
// node:fs
// -----------------------------------------------------------------------------

interface Typed {
  isFile(): boolean
  isDirectory(): boolean
  isSymbolicLink(): boolean
  isFIFO(): boolean
  isSocket(): boolean
  isBlockDevice(): boolean
  isCharacterDevice(): boolean
}

const typeOf = (stats: Typed): DescriptorType =>
  stats.isFile()
    ? "regular-file"
    : stats.isDirectory()
    ? "directory"
    : stats.isSymbolicLink()
    ? "symbolic-link"
    : stats.isFIFO()
    ? "fifo"
    : stats.isSocket()
    ? "socket"
    : stats.isBlockDevice()
    ? "block-device"
    : stats.isCharacterDevice()
    ? "character-device"
    : "unknown"

const datetime = (ns: bigint): Datetime => ({ seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) })

const fromStats = (stats: fs.BigIntStats): Stat => ({
  type: typeOf(stats),
  linkCount: stats.nlink,
  size: stats.size,
  dataAccessTimestamp: datetime(stats.atimeNs),
  dataModificationTimestamp: datetime(stats.mtimeNs),
  statusChangeTimestamp: datetime(stats.ctimeNs),
  device: stats.dev,
  inode: stats.ino
})

const direntType = (entry: fs.Dirent): DescriptorType => typeOf(entry)

/** The real filesystem, through `node:fs`'s synchronous calls. */
export const nodeBackend: Backend = {
  realpath: (path) => fs.realpathSync.native(path),
  stat: (path) => fromStats(fs.lstatSync(path, { bigint: true })),
  open: (path, options) => {
    const { constants } = fs
    let flags = constants.O_NOFOLLOW
    flags |= options.read && options.write
      ? constants.O_RDWR
      : options.write
      ? constants.O_WRONLY
      : constants.O_RDONLY
    if (options.create) flags |= constants.O_CREAT
    if (options.exclusive) flags |= constants.O_EXCL
    if (options.truncate) flags |= constants.O_TRUNC
    return fs.openSync(path, flags, 0o666)
  },
  fstat: (fd) => fromStats(fs.fstatSync(fd, { bigint: true })),
  read: (fd, length, position) => {
    const buffer = new Uint8Array(length)
    const n = fs.readSync(fd, buffer, 0, length, position)
    return n === length ? buffer : buffer.slice(0, n)
  },
  write: (fd, bytes, position) => fs.writeSync(fd, bytes, 0, bytes.byteLength, position),
  truncate: (fd, size) => fs.ftruncateSync(fd, size),
  sync: (fd) => fs.fsyncSync(fd),
  close: (fd) => fs.closeSync(fd),
  readdir: (path) => fs.readdirSync(path, { withFileTypes: true }).map((entry) => ({ name: entry.name, type: direntType(entry) })),
  mkdir: (path) => fs.mkdirSync(path),
  rmdir: (path) => fs.rmdirSync(path),
  unlink: (path) => fs.unlinkSync(path),
  rename: (from, to) => fs.renameSync(from, to)
}

// -----------------------------------------------------------------------------
// in memory
// -----------------------------------------------------------------------------

type MemoryNode =
  | { readonly kind: "directory"; readonly entries: Map<string, MemoryNode>; readonly inode: bigint }
  | { readonly kind: "file"; data: Uint8Array; readonly inode: bigint }

const errno = (code: string, path: string): Error => Object.assign(new Error(`${code}: ${path}`), { code })

/** A tree in memory, seeded with `files` (absolute path → contents; parents are created). No symlinks. */
export const memoryBackend = (files: Readonly<Record<string, string | Uint8Array>>): Backend => {
  let inodes = 1n
  const root: MemoryNode = { kind: "directory", entries: new Map(), inode: inodes++ }
  const segments = (path: string) => path.split("/").filter((s) => s.length > 0)
  const lookup = (path: string): MemoryNode => {
    let node: MemoryNode = root
    for (const name of segments(path)) {
      if (node.kind !== "directory") throw errno("ENOTDIR", path)
      const next = node.entries.get(name)
      if (next === undefined) throw errno("ENOENT", path)
      node = next
    }
    return node
  }
  const parentOf = (path: string): { readonly dir: Map<string, MemoryNode>; readonly name: string } => {
    const parts = segments(path)
    const name = parts.pop()
    if (name === undefined) throw errno("EBUSY", path)
    const parent = lookup(`/${parts.join("/")}`)
    if (parent.kind !== "directory") throw errno("ENOTDIR", path)
    return { dir: parent.entries, name }
  }
  const encoder = new TextEncoder()
  for (const [path, contents] of Object.entries(files)) {
    let dir = root.entries
    const parts = segments(path)
    const name = parts.pop()!
    for (const part of parts) {
      let next = dir.get(part)
      if (next === undefined) dir.set(part, next = { kind: "directory", entries: new Map(), inode: inodes++ })
      if (next.kind !== "directory") throw errno("ENOTDIR", path)
      dir = next.entries
    }
    if (path.endsWith("/")) dir.set(name, { kind: "directory", entries: new Map(), inode: inodes++ })
    else dir.set(name, { kind: "file", data: typeof contents === "string" ? encoder.encode(contents) : contents.slice(), inode: inodes++ })
  }
  const stat = (node: MemoryNode): Stat => ({
    type: node.kind === "file" ? "regular-file" : "directory",
    linkCount: 1n,
    size: node.kind === "file" ? BigInt(node.data.byteLength) : 0n,
    dataAccessTimestamp: undefined,
    dataModificationTimestamp: undefined,
    statusChangeTimestamp: undefined,
    device: 0n,
    inode: node.inode
  })
  const open = new Map<number, MemoryNode & { kind: "file" }>()
  let nextFd = 3
  const file = (fd: number) => {
    const node = open.get(fd)
    if (node === undefined) throw errno("EBADF", String(fd))
    return node
  }
  return {
    realpath: (path) => {
      lookup(path)
      return `/${segments(path).join("/")}`
    },
    stat: (path) => stat(lookup(path)),
    open: (path, options) => {
      const { dir, name } = parentOf(path)
      let node = dir.get(name)
      if (node !== undefined && options.create && options.exclusive) throw errno("EEXIST", path)
      if (node === undefined) {
        if (!options.create) throw errno("ENOENT", path)
        node = { kind: "file", data: new Uint8Array(), inode: inodes++ }
        dir.set(name, node)
      }
      if (node.kind !== "file") throw errno("EISDIR", path)
      if (options.truncate) node.data = new Uint8Array()
      const fd = nextFd++
      open.set(fd, node)
      return fd
    },
    fstat: (fd) => stat(file(fd)),
    read: (fd, length, position) => file(fd).data.slice(position, position + length),
    write: (fd, bytes, position) => {
      const node = file(fd)
      const end = position + bytes.byteLength
      if (end > node.data.byteLength) {
        const grown = new Uint8Array(end)
        grown.set(node.data)
        node.data = grown
      }
      node.data.set(bytes, position)
      return bytes.byteLength
    },
    truncate: (fd, size) => {
      const node = file(fd)
      const resized = new Uint8Array(size)
      resized.set(node.data.subarray(0, size))
      node.data = resized
    },
    sync: (fd) => void file(fd),
    close: (fd) => void open.delete(fd),
    readdir: (path) => {
      const node = lookup(path)
      if (node.kind !== "directory") throw errno("ENOTDIR", path)
      return Array.from(node.entries, ([name, entry]) => ({ name, type: entry.kind === "file" ? "regular-file" : "directory" }))
    },
    mkdir: (path) => {
      const { dir, name } = parentOf(path)
      if (dir.has(name)) throw errno("EEXIST", path)
      dir.set(name, { kind: "directory", entries: new Map(), inode: inodes++ })
    },
    rmdir: (path) => {
      const { dir, name } = parentOf(path)
      const node = dir.get(name)
      if (node === undefined) throw errno("ENOENT", path)
      if (node.kind !== "directory") throw errno("ENOTDIR", path)
      if (node.entries.size > 0) throw errno("ENOTEMPTY", path)
      dir.delete(name)
    },
    unlink: (path) => {
      const { dir, name } = parentOf(path)
      const node = dir.get(name)
      if (node === undefined) throw errno("ENOENT", path)
      if (node.kind !== "file") throw errno("EISDIR", path)
      dir.delete(name)
    },
    rename: (from, to) => {
      const source = parentOf(from)
      const node = source.dir.get(source.name)
      if (node === undefined) throw errno("ENOENT", from)
      const target = parentOf(to)
      source.dir.delete(source.name)
      target.dir.set(target.name, node)
    }
  }
}

/** Refuses everything (`layerDeny`). */
export const denyBackend: Backend = (() => {
  const deny = (): never => {
    throw errno("EACCES", "filesystem")
  }
  return {
    realpath: deny,
    stat: deny,
    open: deny,
    fstat: deny,
    read: deny,
    write: deny,
    truncate: deny,
    sync: deny,
    close: () => undefined,
    readdir: deny,
    mkdir: deny,
    rmdir: deny,
    unlink: deny,
    rename: deny
  }
})()

// -----------------------------------------------------------------------------
// paths
// -----------------------------------------------------------------------------

/**
 * The real path of `path`: its longest existing prefix with symlinks resolved, then the rest. A
 * dangling symlink counts as missing (and is refused later, when it is opened without following).
 */
export const realPathOf = (backend: Backend, path: string): Result.Result<string, unknown> => {
  const real = Result.try(() => backend.realpath(path))
  if (Result.isSuccess(real)) return real
  const code = (real.failure as { code?: unknown } | undefined)?.code
  const parent = nodePath.posix.dirname(path)
  if ((code !== "ENOENT" && code !== "ENOTDIR") || parent === path) return real
  return Result.map(
    realPathOf(backend, parent),
    (realParent) => `${realParent === "/" ? "" : realParent}/${nodePath.posix.basename(path)}`
  )
}

/** Is `path` `root` or under it? Both canonical. */
export const isInside = (root: string, path: string): boolean =>
  path === root || root === "/" || path.startsWith(`${root}/`)

// -----------------------------------------------------------------------------
// descriptors
// -----------------------------------------------------------------------------

/** What a checked path may be used for. */
export type Access = "read" | "write"

/** A path check's failure: the error-code for the guest. */
export interface Denial {
  readonly code: ErrorCode
}

/**
 * One linked component's filesystem: the checks (`authorize` canonicalizes, resolves, checks the
 * grants, audits, and answers with the real path or the error-code for the guest) and the backend.
 */
export interface Session {
  readonly backend: Backend
  /**
   * Resolves `path` against the directory `directory` (a real path), for `accesses`, following a
   * symlink in the last component when `follow`. `operation` names the WASI function, for the audit.
   */
  readonly authorize: (
    directory: string,
    path: string,
    accesses: ReadonlyArray<Access>,
    follow: boolean,
    operation: string
  ) => Effect.Effect<string, Denial>
  /** Records a request refused outright (symlink-at, link-at) as denied. */
  readonly refuse: (directory: string, path: string, access: Access, operation: string) => Effect.Effect<never, Denial>
}

export interface DescriptorState {
  readonly session: Session
  /** The real host path. */
  readonly path: string
  readonly type: "directory" | "regular-file"
  /** An open file; directories are used by path. */
  readonly fd: number | undefined
  /** What was granted when the descriptor was opened; a preopen was not checked as a whole. */
  readonly read: boolean
  readonly write: boolean
  readonly preopen: boolean
  closed: boolean
}

interface EntriesState {
  readonly entries: ReadonlyArray<{ readonly name: string; readonly type: DescriptorType }>
  next: number
}

const refuse = (code: ErrorCode): Effect.Effect<never, HostRefusal> => Effect.fail(new HostRefusal({ payload: code }))

const toRefusal = (denial: Denial): HostRefusal => new HostRefusal({ payload: denial.code })

/** A backend call; what it throws becomes the error-code for the guest. */
const attempt = <A>(f: () => A): Effect.Effect<A, HostRefusal> =>
  Effect.try({ try: f, catch: (thrown) => new HostRefusal({ payload: errorCodeOf(thrown) }) })

/** The same for a stream: a failure is a `stream-error` carrying the error-code. */
const attemptStream = <A>(f: () => A): Effect.Effect<A, WasiIo.StreamFailure> =>
  Effect.try({ try: f, catch: (thrown) => ({ message: String(thrown), code: errorCodeOf(thrown) }) })

const guarded = <A>(
  effect: Effect.Effect<A, Denial>
): Effect.Effect<A, HostRefusal> => Effect.mapError(effect, toRefusal)

const maxRead = 1024 * 1024

const toNumber = (value: unknown): number => {
  const n = typeof value === "bigint" ? value : BigInt(Number(value) || 0)
  return n <= 0n ? 0 : n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n)
}

// A descriptor-level look (stat, read-directory) at a preopen is checked now; any other descriptor
// was checked when it was opened (a directory always for reading).
const checkRead = (state: DescriptorState, operation: string): Effect.Effect<void, HostRefusal> => {
  if (state.closed) return refuse("bad-descriptor")
  if (state.preopen) return Effect.asVoid(guarded(state.session.authorize(state.path, ".", ["read"], true, operation)))
  return Effect.void
}

const fileFd = (state: DescriptorState, write: boolean): Effect.Effect<number, HostRefusal> => {
  if (state.closed) return refuse("bad-descriptor")
  if (state.fd === undefined) return refuse("is-directory")
  if (write ? !state.write : !state.read) return refuse("bad-descriptor")
  return Effect.succeed(state.fd)
}

const dirOf = (state: DescriptorState): Effect.Effect<string, HostRefusal> =>
  state.closed ? refuse("bad-descriptor") : state.type !== "directory" ? refuse("not-directory") : Effect.succeed(state.path)

interface OpenFlags {
  readonly create?: boolean
  readonly directory?: boolean
  readonly exclusive?: boolean
  readonly truncate?: boolean
}

interface DescriptorFlags {
  readonly read?: boolean
  readonly write?: boolean
  readonly mutateDirectory?: boolean
}

interface PathFlags {
  readonly symlinkFollow?: boolean
}

const follows = (flags: unknown): boolean => (flags as PathFlags | undefined)?.symlinkFollow === true

const openAt = (
  state: DescriptorState,
  pathFlags: unknown,
  path: string,
  openFlags: OpenFlags,
  flags: DescriptorFlags
): Effect.Effect<object, HostRefusal> =>
  Effect.gen(function*() {
    const dir = yield* dirOf(state)
    const read = flags.read === true
    const write = flags.write === true || openFlags.create === true || openFlags.truncate === true
    if (openFlags.directory === true && write) return yield* refuse("is-directory")
    const accesses: Array<Access> = []
    if (read || !write) accesses.push("read")
    if (write) accesses.push("write")
    const real = yield* guarded(state.session.authorize(dir, path, accesses, follows(pathFlags), "open-at"))
    const backend = state.session.backend
    if (openFlags.directory === true) {
      const stat = yield* attempt(() => backend.stat(real))
      if (stat.type !== "directory") return yield* refuse("not-directory")
      return yield* descriptor.make({
        session: state.session,
        path: real,
        type: "directory",
        fd: undefined,
        read,
        write: false,
        preopen: false,
        closed: false
      })
    }
    const existing = yield* Effect.option(attempt(() => backend.stat(real)))
    if (existing._tag === "Some" && existing.value.type === "directory") {
      if (write) return yield* refuse("is-directory")
      return yield* descriptor.make({
        session: state.session,
        path: real,
        type: "directory",
        fd: undefined,
        read,
        write: false,
        preopen: false,
        closed: false
      })
    }
    const fd = yield* attempt(() =>
      backend.open(real, {
        read,
        write: flags.write === true,
        create: openFlags.create === true,
        exclusive: openFlags.exclusive === true,
        truncate: openFlags.truncate === true
      })
    )
    const opened: DescriptorState = {
      session: state.session,
      path: real,
      type: "regular-file",
      fd,
      read,
      write: flags.write === true,
      preopen: false,
      closed: false
    }
    const handle = yield* descriptor.make(opened)
    // A guest that never drops the handle (or an instance thrown away) still releases the file.
    unreleased.register(handle, opened, opened)
    return handle
  })

const release = (state: DescriptorState): void => {
  if (state.closed) return
  state.closed = true
  // A failed close (already closed) leaves nothing to release.
  if (state.fd !== undefined) Result.try(() => state.session.backend.close(state.fd!))
}

const unreleased = new FinalizationRegistry<DescriptorState>(release)

const pathOp = (
  state: DescriptorState,
  path: string,
  operation: string,
  run: (backend: Backend, real: string) => void
): Effect.Effect<void, HostRefusal> =>
  Effect.flatMap(dirOf(state), (dir) =>
    Effect.flatMap(
      guarded(state.session.authorize(dir, path, ["write"], false, operation)),
      (real) => attempt(() => run(state.session.backend, real))
    ))

const statOf = (stat: Stat) => ({
  type: stat.type,
  linkCount: stat.linkCount,
  size: stat.size,
  dataAccessTimestamp: stat.dataAccessTimestamp,
  dataModificationTimestamp: stat.dataModificationTimestamp,
  statusChangeTimestamp: stat.statusChangeTimestamp
})

const stateStat = (state: DescriptorState): Effect.Effect<Stat, HostRefusal> =>
  state.fd === undefined ? attempt(() => state.session.backend.stat(state.path)) : attempt(() => state.session.backend.fstat(state.fd!))

const hashOf = (stat: Stat) => ({ lower: stat.inode, upper: stat.device })

/** `wasi:filesystem/types.directory-entry-stream`. */
export const directoryEntryStream: HostResource<EntriesState> = resource<EntriesState>("directory-entry-stream", {
  readDirectoryEntry: (state: EntriesState) =>
    Effect.sync(() => {
      const entry = state.entries[state.next]
      if (entry === undefined) return undefined
      state.next++
      return { type: entry.type, name: entry.name }
    })
})

/** `wasi:filesystem/types.descriptor`. */
export const descriptor: HostResource<DescriptorState> = resource<DescriptorState>("descriptor", {
  readViaStream: (state: DescriptorState, offset: unknown) =>
    Effect.flatMap(fileFd(state, false), (fd) => {
      let position = toNumber(offset)
      const backend = state.session.backend
      return WasiIo.makeInput({
        read: (length) =>
          attemptStream(() => {
            const bytes = backend.read(fd, Math.min(length, maxRead), position)
            if (bytes.byteLength === 0 && length > 0) return undefined
            position += bytes.byteLength
            return bytes
          })
      })
    }),
  writeViaStream: (state: DescriptorState, offset: unknown) =>
    Effect.flatMap(fileFd(state, true), (fd) => WasiIo.makeOutput(fileSink(state.session.backend, fd, toNumber(offset)))),
  appendViaStream: (state: DescriptorState) =>
    Effect.flatMap(fileFd(state, true), (fd) => WasiIo.makeOutput(fileSink(state.session.backend, fd, undefined))),
  advise: (state: DescriptorState) => Effect.asVoid(fileFd(state, false)),
  syncData: (state: DescriptorState) =>
    state.fd === undefined ? Effect.void : Effect.flatMap(fileFd(state, true), (fd) => attempt(() => state.session.backend.sync(fd))),
  sync: (state: DescriptorState) =>
    state.fd === undefined ? Effect.void : Effect.flatMap(fileFd(state, true), (fd) => attempt(() => state.session.backend.sync(fd))),
  getFlags: (state: DescriptorState) =>
    Effect.succeed({
      read: state.read,
      write: state.write,
      fileIntegritySync: false,
      dataIntegritySync: false,
      requestedWriteSync: false,
      mutateDirectory: state.type === "directory"
    }),
  getType: (state: DescriptorState) => state.closed ? refuse("bad-descriptor") : Effect.succeed(state.type),
  setSize: (state: DescriptorState, size: unknown) =>
    Effect.flatMap(fileFd(state, true), (fd) => attempt(() => state.session.backend.truncate(fd, toNumber(size)))),
  setTimes: () => refuse("unsupported"),
  read: (state: DescriptorState, length: unknown, offset: unknown) =>
    Effect.flatMap(fileFd(state, false), (fd) =>
      attempt(() => {
        const wanted = Math.min(toNumber(length), maxRead)
        const bytes = state.session.backend.read(fd, wanted, toNumber(offset))
        return [bytes, bytes.byteLength < wanted] as const
      })),
  write: (state: DescriptorState, buffer: Uint8Array, offset: unknown) =>
    Effect.flatMap(fileFd(state, true), (fd) =>
      attempt(() => BigInt(state.session.backend.write(fd, buffer, toNumber(offset))))),
  readDirectory: (state: DescriptorState) =>
    Effect.gen(function*() {
      const dir = yield* dirOf(state)
      yield* checkRead(state, "read-directory")
      const entries = yield* attempt(() => state.session.backend.readdir(dir))
      return yield* directoryEntryStream.make({ entries, next: 0 })
    }),
  createDirectoryAt: (state: DescriptorState, path: string) =>
    pathOp(state, path, "create-directory-at", (backend, real) => backend.mkdir(real)),
  stat: (state: DescriptorState) =>
    Effect.flatMap(checkRead(state, "stat"), () => Effect.map(stateStat(state), statOf)),
  statAt: (state: DescriptorState, pathFlags: unknown, path: string) =>
    Effect.flatMap(dirOf(state), (dir) =>
      Effect.flatMap(
        guarded(state.session.authorize(dir, path, ["read"], follows(pathFlags), "stat-at")),
        (real) => attempt(() => statOf(state.session.backend.stat(real)))
      )),
  setTimesAt: () => refuse("unsupported"),
  // New links and symlinks are how a sandbox is escaped: never made.
  linkAt: (state: DescriptorState, _flags: unknown, oldPath: string) =>
    guarded(state.session.refuse(state.path, oldPath, "write", "link-at")),
  openAt: (state: DescriptorState, pathFlags: unknown, path: string, openFlags: OpenFlags, flags: DescriptorFlags) =>
    openAt(state, pathFlags, path, openFlags, flags),
  readlinkAt: (state: DescriptorState, path: string) => guarded(state.session.refuse(state.path, path, "read", "readlink-at")),
  removeDirectoryAt: (state: DescriptorState, path: string) =>
    pathOp(state, path, "remove-directory-at", (backend, real) => backend.rmdir(real)),
  renameAt: (state: DescriptorState, oldPath: string, target: unknown, newPath: string) =>
    Effect.gen(function*() {
      const to = descriptor.state(target)
      if (to === undefined) return yield* refuse("bad-descriptor")
      const from = yield* guarded(state.session.authorize(yield* dirOf(state), oldPath, ["write"], false, "rename-at"))
      const into = yield* guarded(state.session.authorize(yield* dirOf(to), newPath, ["write"], false, "rename-at"))
      yield* attempt(() => state.session.backend.rename(from, into))
    }),
  symlinkAt: (state: DescriptorState, _oldPath: string, newPath: string) =>
    guarded(state.session.refuse(state.path, newPath, "write", "symlink-at")),
  unlinkFileAt: (state: DescriptorState, path: string) =>
    pathOp(state, path, "unlink-file-at", (backend, real) => backend.unlink(real)),
  isSameObject: (state: DescriptorState, other: unknown) =>
    Effect.succeed(descriptor.state(other)?.path === state.path),
  metadataHash: (state: DescriptorState) => Effect.flatMap(checkRead(state, "metadata-hash"), () => Effect.map(stateStat(state), hashOf)),
  metadataHashAt: (state: DescriptorState, pathFlags: unknown, path: string) =>
    Effect.flatMap(dirOf(state), (dir) =>
      Effect.flatMap(
        guarded(state.session.authorize(dir, path, ["read"], follows(pathFlags), "metadata-hash-at")),
        (real) => attempt(() => hashOf(state.session.backend.stat(real)))
      ))
}, (state) => {
  unreleased.unregister(state)
  release(state)
})

const fileSink = (backend: Backend, fd: number, offset: number | undefined): WasiIo.OutputSink => {
  let position = offset
  return {
    capacity: 65536,
    write: (bytes) =>
      attemptStream(() => {
        const at = position ?? Number(backend.fstat(fd).size)
        const written = backend.write(fd, bytes, at)
        if (position !== undefined) position += written
      }),
    flush: Effect.void
  }
}

/** A handle on a preopened directory (`path` is real). */
export const preopenDescriptor = (session: Session, path: string): Effect.Effect<object> =>
  descriptor.make({
    session,
    path,
    type: "directory",
    fd: undefined,
    read: false,
    write: false,
    preopen: true,
    closed: false
  })
