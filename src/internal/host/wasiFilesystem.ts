/**
 * `wasi:filesystem` 0.2 on the host: how a guest's path becomes the real path to check and touch,
 * and the `descriptor` and `directory-entry-stream` resources over a backend (`wasiFsBackend.ts`).
 *
 * Every path a guest names goes through `Session.authorize` (lexical canonicalization, then the real
 * path of what exists, then containment and the FileRead / FileWrite globs, then an audit event)
 * before the backend sees it; the backend is then handed the real path, and the last component is
 * never followed again (`O_NOFOLLOW`, `lstat`), so a symlink swapped in after the check fails with
 * `loop` instead of leading outside.
 *
 * @internal
 */
import { Clock, Effect, Result } from "effect"
import * as nodePath from "node:path"
import { HostRefusal } from "../componentError.ts"
import { type HostResource, resource } from "./hostBridge.ts"
import {
  type Backend,
  type DescriptorType,
  type ErrorCode,
  errorCodeOf,
  type NewTimestamp,
  type Stat
} from "./wasiFsBackend.ts"
import * as WasiIo from "./wasiIo.ts"

export * from "./wasiFsBackend.ts"

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
  /** The sync flags it was opened with, reported back by `get-flags`. */
  readonly sync: SyncFlags
  readonly preopen: boolean
  closed: boolean
}

interface SyncFlags {
  readonly fileIntegritySync: boolean
  readonly dataIntegritySync: boolean
  readonly requestedWriteSync: boolean
}

const noSync: SyncFlags = { fileIntegritySync: false, dataIntegritySync: false, requestedWriteSync: false }

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
  readonly fileIntegritySync?: boolean
  readonly dataIntegritySync?: boolean
  readonly requestedWriteSync?: boolean
  readonly mutateDirectory?: boolean
}

interface PathFlags {
  readonly symlinkFollow?: boolean
}

const follows = (flags: unknown): boolean => (flags as PathFlags | undefined)?.symlinkFollow === true

// A trailing slash asks for a directory (POSIX): the check drops it, so each operation looks for it.
const trailingSlash = (path: string): boolean => path.length > 1 && path.endsWith("/")

/** `not-directory` when `real` exists and is not a directory (a missing one is the operation's business). */
const notDirectory = (backend: Backend, real: string): Effect.Effect<void, HostRefusal> => {
  const stat = Result.try(() => backend.stat(real))
  if (Result.isFailure(stat) || stat.success.type === "directory") return Effect.void
  return refuse("not-directory")
}

const exists = (backend: Backend, real: string): boolean => Result.isSuccess(Result.try(() => backend.stat(real)))

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
    const sync: SyncFlags = {
      fileIntegritySync: flags.fileIntegritySync === true,
      dataIntegritySync: flags.dataIntegritySync === true,
      requestedWriteSync: flags.requestedWriteSync === true
    }
    // A directory opens read-only, whatever was asked (writes go through `*-at` calls on it).
    const openedDirectory = descriptor.make({
      session: state.session,
      path: real,
      type: "directory",
      fd: undefined,
      read,
      write: false,
      sync,
      preopen: false,
      closed: false
    })
    if (trailingSlash(path)) yield* notDirectory(backend, real)
    if (openFlags.directory === true) {
      const stat = yield* attempt(() => backend.stat(real))
      if (stat.type !== "directory") return yield* refuse("not-directory")
      return yield* openedDirectory
    }
    const existing = yield* Effect.option(attempt(() => backend.stat(real)))
    if (existing._tag === "Some" && existing.value.type === "directory") {
      if (write) return yield* refuse("is-directory")
      return yield* openedDirectory
    }
    // `name/` that does not exist cannot be created as a file.
    if (trailingSlash(path)) return yield* refuse(openFlags.create === true ? "is-directory" : "no-entry")
    const fd = yield* attempt(() =>
      backend.open(real, {
        read,
        write: flags.write === true,
        create: openFlags.create === true,
        exclusive: openFlags.exclusive === true,
        truncate: openFlags.truncate === true,
        fileSync: sync.fileIntegritySync || sync.requestedWriteSync,
        dataSync: sync.dataIntegritySync
      })
    )
    const opened: DescriptorState = {
      session: state.session,
      path: real,
      type: "regular-file",
      fd,
      read,
      write: flags.write === true,
      sync,
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
  run: (backend: Backend, real: string) => Effect.Effect<void, HostRefusal>
): Effect.Effect<void, HostRefusal> =>
  Effect.flatMap(dirOf(state), (dir) =>
    Effect.flatMap(
      guarded(state.session.authorize(dir, path, ["write"], false, operation)),
      (real) => run(state.session.backend, real)
    ))

/** A `new-timestamp` as the backend takes it: `now` read from the `Clock`. */
type GuestTimestamp =
  | { readonly tag: "no-change" }
  | { readonly tag: "now" }
  | { readonly tag: "timestamp"; readonly val: { readonly seconds: bigint; readonly nanoseconds: number } }

const timestampOf = (time: unknown): Effect.Effect<NewTimestamp, HostRefusal> => {
  const tagged = time as GuestTimestamp | undefined
  switch (tagged?.tag) {
    case "no-change":
      return Effect.succeed(undefined)
    case "now":
      return Effect.map(Clock.currentTimeNanos, (ns) => ({ seconds: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n) }))
    case "timestamp":
      return Effect.succeed({ seconds: BigInt(tagged.val.seconds), nanoseconds: Number(tagged.val.nanoseconds) })
    default:
      return refuse("invalid")
  }
}

const timestamps = (access: unknown, modification: unknown) =>
  Effect.all([timestampOf(access), timestampOf(modification)])

/**
 * Where `target` leads from the directory `from` (real) as the OS resolves it: segment by segment,
 * each symlink followed before a `..` after it is taken (so `door/../x`, with `door` a symlink out,
 * leads out, where the lexical `x` would not). What does not exist yet is taken as written.
 */
const resolveAsOs = (backend: Backend, from: string, target: string): string => {
  let current = from
  for (const segment of target.split("/")) {
    if (segment === "" || segment === ".") continue
    if (segment === "..") {
      current = nodePath.posix.dirname(current)
      continue
    }
    const next = `${current === "/" ? "" : current}/${segment}`
    current = Result.getOrElse(realPathOf(backend, next), () => next)
  }
  return current
}

/** The path `to` (real) as a request relative to `directory` (`..` first when it is outside). */
const relativeTo = (directory: string, to: string): string => {
  const relative = nodePath.posix.relative(directory, to)
  return relative === "" ? "." : relative
}

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

const metadataHashOf = (stat: Stat) => ({ lower: stat.inode, upper: stat.device })

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
    state.closed ? refuse("bad-descriptor") : Effect.succeed({
      read: state.read,
      write: state.write,
      ...state.sync,
      mutateDirectory: state.type === "directory"
    }),
  getType: (state: DescriptorState) => state.closed ? refuse("bad-descriptor") : Effect.succeed(state.type),
  setSize: (state: DescriptorState, size: unknown) =>
    Effect.flatMap(fileFd(state, true), (fd) => attempt(() => state.session.backend.truncate(fd, toNumber(size)))),
  // Changing a time is a write: checked against the descriptor's own real path, now.
  setTimes: Effect.fnUntraced(function*(state: DescriptorState, access: unknown, modification: unknown) {
    if (state.closed) return yield* refuse("bad-descriptor")
    const [atime, mtime] = yield* timestamps(access, modification)
    const real = yield* guarded(state.session.authorize(state.path, ".", ["write"], true, "set-times"))
    const backend = state.session.backend
    yield* attempt(() => state.fd === undefined ? backend.setTimes(real, atime, mtime) : backend.fsetTimes(state.fd, atime, mtime))
  }),
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
  readDirectory: Effect.fnUntraced(function*(state: DescriptorState) {
    const dir = yield* dirOf(state)
    yield* checkRead(state, "read-directory")
    const entries = yield* attempt(() => state.session.backend.readdir(dir))
    return yield* directoryEntryStream.make({ entries, next: 0 })
  }),
  createDirectoryAt: (state: DescriptorState, path: string) =>
    pathOp(state, path, "create-directory-at", (backend, real) => attempt(() => backend.mkdir(real))),
  stat: (state: DescriptorState) =>
    Effect.flatMap(checkRead(state, "stat"), () => Effect.map(stateStat(state), statOf)),
  statAt: (state: DescriptorState, pathFlags: unknown, path: string) =>
    Effect.flatMap(dirOf(state), (dir) =>
      Effect.flatMap(
        guarded(state.session.authorize(dir, path, ["read"], follows(pathFlags), "stat-at")),
        (real) => attempt(() => statOf(state.session.backend.stat(real)))
      )),
  setTimesAt: Effect.fnUntraced(function*(state: DescriptorState, pathFlags: unknown, path: string, access: unknown, modification: unknown) {
    const dir = yield* dirOf(state)
    const [atime, mtime] = yield* timestamps(access, modification)
    const real = yield* guarded(state.session.authorize(dir, path, ["write"], follows(pathFlags), "set-times-at"))
    if (trailingSlash(path)) yield* notDirectory(state.session.backend, real)
    yield* attempt(() => state.session.backend.setTimes(real, atime, mtime))
  }),
  // A hard link gives a second name to what it links: both names must be writable (a link from a
  // read-only file into a writable directory would make the file writable).
  linkAt: Effect.fnUntraced(function*(state: DescriptorState, oldFlags: unknown, oldPath: string, target: unknown, newPath: string) {
    const to = descriptor.state(target)
    if (to === undefined) return yield* refuse("bad-descriptor")
    const from = yield* guarded(state.session.authorize(yield* dirOf(state), oldPath, ["write"], follows(oldFlags), "link-at"))
    const into = yield* guarded(state.session.authorize(yield* dirOf(to), newPath, ["write"], false, "link-at"))
    const backend = state.session.backend
    if (trailingSlash(newPath)) return yield* refuse(exists(backend, into) ? "exist" : "no-entry")
    if (trailingSlash(oldPath)) yield* notDirectory(backend, from)
    // Followed, a symlink that is still a symlink led nowhere: nothing to link.
    if (follows(oldFlags) && Result.getOrUndefined(Result.try(() => backend.stat(from)))?.type === "symbolic-link") {
      return yield* refuse("no-entry")
    }
    yield* attempt(() => backend.link(from, into))
  }),
  openAt: (state: DescriptorState, pathFlags: unknown, path: string, openFlags: OpenFlags, flags: DescriptorFlags) =>
    openAt(state, pathFlags, path, openFlags, flags),
  readlinkAt: Effect.fnUntraced(function*(state: DescriptorState, path: string) {
    const real = yield* guarded(state.session.authorize(yield* dirOf(state), path, ["read"], false, "readlink-at"))
    const contents = yield* attempt(() => state.session.backend.readlink(real))
    // An absolute target names the host's tree, which the guest does not see.
    if (contents.startsWith("/")) return yield* refuse("not-permitted")
    return contents
  }),
  removeDirectoryAt: (state: DescriptorState, path: string) =>
    pathOp(state, path, "remove-directory-at", (backend, real) => attempt(() => backend.rmdir(real))),
  renameAt: Effect.fnUntraced(function*(state: DescriptorState, oldPath: string, target: unknown, newPath: string) {
    const to = descriptor.state(target)
    if (to === undefined) return yield* refuse("bad-descriptor")
    const from = yield* guarded(state.session.authorize(yield* dirOf(state), oldPath, ["write"], false, "rename-at"))
    const into = yield* guarded(state.session.authorize(yield* dirOf(to), newPath, ["write"], false, "rename-at"))
    const backend = state.session.backend
    // `a/` and `b/` name directories: a file (or what is not there) gets not-directory / no-entry.
    if (trailingSlash(oldPath) || trailingSlash(newPath)) {
      const source = Result.try(() => backend.stat(from))
      if (Result.isFailure(source)) return yield* refuse("no-entry")
      if (source.success.type !== "directory") return yield* refuse("not-directory")
    }
    yield* attempt(() => backend.rename(from, into))
  }),
  // A symlink is made only when the link and what it points to (resolved from the link's directory,
  // followed through any symlinks on the way) are inside the directory and writable: both checked
  // and audited. The target is checked as the lexical check reads it and, when that differs, as the
  // OS will resolve it. A dangling target is allowed (what it names is checked again when used).
  symlinkAt: Effect.fnUntraced(function*(state: DescriptorState, oldPath: string, newPath: string) {
    const dir = yield* dirOf(state)
    const backend = state.session.backend
    const link = yield* guarded(state.session.authorize(dir, newPath, ["write"], false, "symlink-at"))
    const parent = nodePath.posix.dirname(link)
    const absolute = oldPath.startsWith("/")
    const target = absolute ? oldPath : `${relativeTo(dir, parent)}/${oldPath}`
    const lexical = yield* guarded(state.session.authorize(dir, target, ["write"], true, "symlink-at"))
    const resolved = absolute ? lexical : resolveAsOs(backend, parent, oldPath)
    if (resolved !== lexical) {
      yield* guarded(state.session.authorize(dir, relativeTo(dir, resolved), ["write"], true, "symlink-at"))
    }
    if (trailingSlash(newPath)) return yield* refuse(exists(backend, link) ? "exist" : "no-entry")
    yield* attempt(() => backend.symlink(oldPath, link))
  }),
  unlinkFileAt: (state: DescriptorState, path: string) =>
    pathOp(state, path, "unlink-file-at", (backend, real) => {
      if (!trailingSlash(path)) return attempt(() => backend.unlink(real))
      // `name/`: a directory is still not a file, and anything else is not a directory.
      const stat = Result.try(() => backend.stat(real))
      if (Result.isFailure(stat)) return refuse(errorCodeOf(stat.failure))
      return refuse(stat.success.type === "directory" ? "is-directory" : "not-directory")
    }),
  isSameObject: (state: DescriptorState, other: unknown) =>
    Effect.succeed(descriptor.state(other)?.path === state.path),
  metadataHash: (state: DescriptorState) => Effect.flatMap(checkRead(state, "metadata-hash"), () => Effect.map(stateStat(state), metadataHashOf)),
  metadataHashAt: (state: DescriptorState, pathFlags: unknown, path: string) =>
    Effect.flatMap(dirOf(state), (dir) =>
      Effect.flatMap(
        guarded(state.session.authorize(dir, path, ["read"], follows(pathFlags), "metadata-hash-at")),
        (real) => attempt(() => metadataHashOf(state.session.backend.stat(real)))
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
    sync: noSync,
    preopen: true,
    closed: false
  })
