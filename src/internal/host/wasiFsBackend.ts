/**
 * The filesystems `wasi:filesystem` is served from: the real one (`node:fs`, synchronous calls), a
 * tree in memory for tests, and one that refuses everything. Failures are thrown as errors with a
 * POSIX `code`, mapped to WASI error-codes by `errorCodeOf`.
 *
 * @internal
 */
import * as fs from "node:fs"

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

/** A time to set; `undefined` leaves it as it is. */
export type NewTimestamp = Datetime | undefined

export interface OpenOptions {
  readonly read: boolean
  readonly write: boolean
  readonly create: boolean
  readonly exclusive: boolean
  readonly truncate: boolean
  /** `O_SYNC`: every write reaches the disk with its metadata. */
  readonly fileSync?: boolean | undefined
  /** `O_DSYNC`: every write's data reaches the disk. */
  readonly dataSync?: boolean | undefined
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
  /** Creates the symlink `path` with the contents `target` (as given: relative to the link's directory). */
  readonly symlink: (target: string, path: string) => void
  /** Creates the hard link `to` of `from` (a symlink `from` is linked, not followed). */
  readonly link: (from: string, to: string) => void
  readonly readlink: (path: string) => string
  /** Sets the access and modification times of `path` (the last component not followed). */
  readonly setTimes: (path: string, access: NewTimestamp, modification: NewTimestamp) => void
  readonly fsetTimes: (fd: number, access: NewTimestamp, modification: NewTimestamp) => void
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
    case "ENOTSUP":
    case "EOPNOTSUPP":
    case "ENOSYS":
      return "unsupported"
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

// node:fs takes times as seconds in a double: sub-microsecond digits of a datetime are rounded.
const seconds = (time: Datetime): number => Number(time.seconds) + time.nanoseconds / 1e9

const secondsOf = (ns: bigint): number => Number(ns / 1_000_000_000n) + Number(ns % 1_000_000_000n) / 1e9

const timesOf = (
  access: NewTimestamp,
  modification: NewTimestamp,
  current: () => fs.BigIntStats
): readonly [number, number] => {
  let stats: fs.BigIntStats | undefined
  const pick = (time: NewTimestamp, kept: (stats: fs.BigIntStats) => bigint) =>
    time !== undefined ? seconds(time) : secondsOf(kept(stats ??= current()))
  return [pick(access, (s) => s.atimeNs), pick(modification, (s) => s.mtimeNs)]
}

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
    if (options.fileSync === true) flags |= constants.O_SYNC
    else if (options.dataSync === true) flags |= constants.O_DSYNC
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
  rename: (from, to) => fs.renameSync(from, to),
  symlink: (target, path) => fs.symlinkSync(target, path),
  link: (from, to) => fs.linkSync(from, to),
  readlink: (path) => fs.readlinkSync(path, "utf8"),
  setTimes: (path, access, modification) => {
    const [atime, mtime] = timesOf(access, modification, () => fs.lstatSync(path, { bigint: true }))
    fs.lutimesSync(path, atime, mtime)
  },
  fsetTimes: (fd, access, modification) => {
    const [atime, mtime] = timesOf(access, modification, () => fs.fstatSync(fd, { bigint: true }))
    fs.futimesSync(fd, atime, mtime)
  }
}

// -----------------------------------------------------------------------------
// in memory
// -----------------------------------------------------------------------------

type MemoryNode =
  | { readonly kind: "directory"; readonly entries: Map<string, MemoryNode>; readonly inode: bigint }
  | { readonly kind: "file"; data: Uint8Array; readonly inode: bigint }

const errno = (code: string, path: string): Error => Object.assign(new Error(`${code}: ${path}`), { code })

/**
 * A tree in memory, seeded with `files` (absolute path → contents; parents are created). No symlinks
 * (`symlink` is `unsupported`) and no times (setting them only checks the path).
 */
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
    },
    symlink: (_target, path) => {
      throw errno("ENOTSUP", path)
    },
    link: (from, to) => {
      const node = lookup(from)
      if (node.kind !== "file") throw errno("EPERM", from)
      const target = parentOf(to)
      if (target.dir.has(target.name)) throw errno("EEXIST", to)
      target.dir.set(target.name, node)
    },
    readlink: (path) => {
      lookup(path)
      throw errno("EINVAL", path)
    },
    setTimes: (path) => void lookup(path),
    fsetTimes: (fd) => void file(fd)
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
    rename: deny,
    symlink: deny,
    link: deny,
    readlink: deny,
    setTimes: deny,
    fsetTimes: deny
  }
})()
