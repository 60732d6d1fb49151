/**
 * The WASI 0.2 filesystem (`wasi:filesystem/types`, `wasi:filesystem/preopens`) for guests, over a
 * real directory tree, with the component's `FileRead` / `FileWrite` grants checked on every path.
 *
 * **Preopens.** The host names the directories a component may start from (`preopens`: a host
 * path and the name the guest sees, e.g. `{ path: "/srv/data", as: "data" }`). A component holding
 * no file grant at all is shown none. Every path a guest names is relative to a directory descriptor
 * it holds. A preopen is only where the guest starts: what it may do there is its grants. For a
 * plain named preopen, read-only or read-write, `preopenGrants` spells out the grants that go with it
 * (`FileRead` on the directory and everything under it, and `FileWrite` too for `"read-write"`).
 *
 * **The check, on every path** (`authorize`):
 * 1. absolute paths are refused (WASI paths are relative), and so are `..` that climbs above the
 *    directory, percent-encoded bytes (`%2e%2e`), Unicode look-alikes of `.` and `/`, NUL bytes and
 *    backslashes (`Capability.canonicalize`);
 * 2. the canonical path's real path is taken (symlinks in its existing prefix resolved; the last
 *    component followed only with `symlink-follow`), and it must still be inside the directory: a
 *    symlink that points outside is refused;
 * 3. the real path must match a `FileRead` glob to read, a `FileWrite` glob to create, write,
 *    truncate, rename or delete (globs are matched against real paths).
 *
 * Each decision is an audit event (`FileRead` / `FileWrite`, the real path or the requested one,
 * `granted` / `denied`, the WASI function and why). A refused path is a `FilesystemError` on the
 * host side, and the guest gets the WASI error-code: `not-permitted` for a path that leaves its
 * directory, `access` for one the grants do not cover, `invalid` for a NUL byte. Nothing is read or
 * written. The backend then gets the real path and never follows its last component again
 * (`O_NOFOLLOW`), so a symlink swapped in after the check fails with `loop`.
 *
 * **Links and times.** `symlink-at` is allowed when the link and what it points to (resolved from
 * the link's directory, through any symlinks on the way; it may not exist yet) are both inside the
 * directory and covered by a `FileWrite` grant; an absolute target or one that climbs out is refused
 * and audited. `link-at` needs `FileWrite` on both names. `readlink-at` needs `FileRead` on the link
 * and answers its contents (an absolute target: `not-permitted`). `set-times(-at)` needs `FileWrite`
 * (node:fs sets times in microseconds). A trailing slash asks for a directory, as in POSIX
 * (`unlink-file-at("file/")` is `not-directory`); `get-flags` reports the sync flags a file was
 * opened with.
 *
 * ```ts
 * const HostLive = Linker.layer([...Filesystem.hostInterfaces, ...Stdio.hostInterfaces]).pipe(
 *   Layer.provide([Filesystem.layer({ preopens: [{ path: "/srv/plugin", as: "/" }] }), Stdio.layer, Audit.layerMemory({ capacity: 1000 })])
 * )
 * // Either fine-grained grants under the preopen...
 * const grants = Capability.makeGrants([
 *   new Capability.FileRead({ glob: "/srv/plugin/**" }),
 *   new Capability.FileWrite({ glob: "/srv/plugin/out/**" })
 * ])
 * const instance = yield* Linker.instantiate(component, { id: "plugin-a", grants })
 * // ...or the whole directory, read-only or read-write, as a named preopen grants it:
 * const data = { path: "/srv/data", as: "data", access: "read-write" } as const
 * const whole = Capability.makeGrants(yield* Filesystem.preopenGrants([data]))
 * ```
 *
 * Layers: `layer` serves the real filesystem through `node:fs` (synchronous calls: a guest's call
 * cannot wait for a promise); `layerMemory` a tree in memory, for tests; `layerDeny` nothing.
 * Link `Filesystem.hostInterfaces` together with `Stdio.ioInterfaces` (file streams are `wasi:io`
 * streams).
 *
 * A file the guest never closes is closed once its handle is garbage collected. Worker-isolated
 * instances do not get filesystem access.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Result, Schema } from "effect"
import * as nodePath from "node:path"
import * as Audit from "../Audit.ts"
import * as Capability from "../Capability.ts"
import { deniedMessage } from "../internal/host/capabilityCheck.ts"
import * as Wasi from "../internal/host/wasiFilesystem.ts"
import * as WasiIo from "../internal/host/wasiIo.ts"
import * as Linker from "../Linker.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * The WIT interfaces this module implements.
 *
 * @since 0.1.0
 * @category models
 */
export const interfaceNames = { types: "wasi:filesystem/types", preopens: "wasi:filesystem/preopens" } as const

/**
 * A directory a guest may start from: `path` on the host (absolute, canonical, best without symlinks:
 * grants match real paths), shown to the guest as `as` (e.g. `data`, `/data` or `.`). `access` is
 * what `preopenGrants` grants under it (default `"read"`); the layer itself grants nothing.
 *
 * @since 0.1.0
 * @category models
 */
export interface Preopen {
  readonly path: string
  readonly as: string
  readonly access?: PreopenAccess | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export type PreopenAccess = "read" | "read-write"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The same directories for every component, or a list per component id. */
  readonly preopens: ReadonlyArray<Preopen> | ((component: string) => ReadonlyArray<Preopen>)
}

/**
 * A filesystem the host serves guests from: synchronous operations on checked, real paths.
 *
 * @since 0.1.0
 * @category models
 */
export type Backend = Wasi.Backend

/**
 * The WASI `error-code` a guest gets.
 *
 * @since 0.1.0
 * @category models
 */
export const ErrorCode = Schema.Literals(Wasi.errorCodes)

/**
 * @since 0.1.0
 * @category models
 */
export type ErrorCode = typeof ErrorCode.Type

/**
 * Why a path was refused.
 *
 * - `Absolute`: an absolute path (WASI paths are relative to a directory descriptor).
 * - `Escape`: `..` climbs above the directory.
 * - `Encoded`, `NulByte`, `Backslash`, `TooLong`, `Empty`: a path only a decoding layer could make
 *   sense of, or none at all.
 * - `SymlinkEscape`: a symlink on the way leads outside the directory.
 * - `NotGranted`: no `FileRead` / `FileWrite` grant covers the real path.
 * - `Io`: the filesystem failed while resolving the path (e.g. permission denied by the OS).
 *
 * @since 0.1.0
 * @category models
 */
export const FilesystemFailure = Schema.Literals([
  "Absolute",
  "Escape",
  "Encoded",
  "NulByte",
  "Backslash",
  "TooLong",
  "Empty",
  "SymlinkEscape",
  "NotGranted",
  "Io"
])

/**
 * @since 0.1.0
 * @category models
 */
export type FilesystemFailure = typeof FilesystemFailure.Type

/**
 * What a file check is for.
 *
 * @since 0.1.0
 * @category models
 */
export type Access = Wasi.Access

// -----------------------------------------------------------------------------
// errors
// -----------------------------------------------------------------------------

/**
 * A path refused for a component; `code` is what its guest gets.
 *
 * @since 0.1.0
 * @category errors
 */
export class FilesystemError extends Schema.TaggedError<FilesystemError>()("FilesystemError", {
  reason: FilesystemFailure,
  code: ErrorCode,
  component: Schema.String,
  /** The real path when it was resolved, otherwise the directory and the requested path. */
  path: Schema.String,
  message: Schema.String
}) {}

/**
 * A preopen that is not an absolute host path.
 *
 * @since 0.1.0
 * @category errors
 */
export class PreopenError extends Schema.TaggedError<PreopenError>()("PreopenError", {
  path: Schema.String,
  message: Schema.String
}) {}

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------

/**
 * The filesystem guests are served from, and which directories each component starts from.
 *
 * @since 0.1.0
 * @category services
 */
export class Filesystem extends Context.Service<Filesystem, {
  readonly backend: Backend
  readonly preopens: (component: string) => ReadonlyArray<Preopen>
}>()("airssys-wasm/Filesystem") {}

// -----------------------------------------------------------------------------
// the check
// -----------------------------------------------------------------------------

const lexicalFailures = {
  InvalidRoot: ["Io", "io"],
  Empty: ["Empty", "invalid"],
  TooLong: ["TooLong", "name-too-long"],
  NulByte: ["NulByte", "invalid"],
  Backslash: ["Backslash", "not-permitted"],
  Encoded: ["Encoded", "not-permitted"],
  Escape: ["Escape", "not-permitted"],
  Outside: ["Escape", "not-permitted"]
} as const satisfies Record<Capability.PathFailure, readonly [FilesystemFailure, ErrorCode]>

type Resolved =
  | { readonly _tag: "Path"; readonly path: string }
  | {
    readonly _tag: "Refused"
    readonly reason: FilesystemFailure
    readonly code: ErrorCode
    readonly path: string
    readonly message: string
  }

const maxResourceLength = 1024

const requestedResource = (directory: string, requested: string): string => {
  const joined = `${directory}/${requested}`
  return joined.length > maxResourceLength ? `${joined.slice(0, maxResourceLength)}…` : joined
}

const resolve = (backend: Backend, directory: string, requested: string, follow: boolean): Resolved => {
  const asked = requestedResource(directory, requested)
  if (requested.startsWith("/")) {
    return { _tag: "Refused", reason: "Absolute", code: "not-permitted", path: asked, message: "absolute paths are not allowed" }
  }
  const lexical = Capability.canonicalize(directory, requested)
  if (Result.isFailure(lexical)) {
    const [reason, code] = lexicalFailures[lexical.failure.reason]
    return { _tag: "Refused", reason, code, path: asked, message: lexical.failure.message }
  }
  const canonical = lexical.success
  const real = follow || canonical === directory
    ? Wasi.realPathOf(backend, canonical)
    : Result.map(
      Wasi.realPathOf(backend, nodePath.posix.dirname(canonical)),
      (parent) => `${parent === "/" ? "" : parent}/${nodePath.posix.basename(canonical)}`
    )
  if (Result.isFailure(real)) {
    return { _tag: "Refused", reason: "Io", code: Wasi.errorCodeOf(real.failure), path: canonical, message: String(real.failure) }
  }
  if (!Wasi.isInside(directory, real.success)) {
    return {
      _tag: "Refused",
      reason: "SymlinkEscape",
      code: "not-permitted",
      path: real.success,
      message: `${JSON.stringify(requested)} leads to ${real.success}, outside ${directory}`
    }
  }
  return { _tag: "Path", path: real.success }
}

const kindOf = { read: "FileRead", write: "FileWrite" } as const satisfies Record<Access, Capability.Kind>

type AuditService = Audit.Audit["Service"]

/** The check for one component, as the descriptors use it. */
const makeAuthorize = (
  backend: Backend,
  audit: AuditService,
  component: string,
  grants: Capability.Grants,
  /** The interface as the component imports it (with its version), for audit details. */
  iface: string
) =>
(
  directory: string,
  requested: string,
  accesses: ReadonlyArray<Access>,
  follow: boolean,
  operation: string
): Effect.Effect<string, FilesystemError> =>
  Effect.suspend(() => {
    const detail = `${iface}#${operation}`
    const resolved = resolve(backend, directory, requested, follow)
    if (resolved._tag === "Refused") {
      const { code, message, path, reason } = resolved
      const error = new FilesystemError({ reason, code, component, path, message })
      // An OS failure while resolving is not a decision: nothing to audit.
      if (resolved.reason === "Io") return Effect.fail(error)
      return Effect.flatMap(
        Effect.forEach(accesses, (access) =>
          audit.record({
            kind: "capability",
            component,
            capability: kindOf[access],
            resource: resolved.path,
            decision: "denied",
            detail: `${detail}: ${resolved.reason}`
          }), { discard: true }),
        () => Effect.fail(error)
      )
    }
    const path = resolved.path
    let denied: Access | undefined
    return Effect.flatMap(
      Effect.forEach(accesses, (access) => {
        const decision = Capability.check(grants, { _tag: kindOf[access], path })
        if (decision === "denied") denied ??= access
        return audit.record({
          kind: "capability",
          component,
          capability: kindOf[access],
          resource: path,
          decision,
          detail: decision === "granted" ? detail : `${detail}: NotGranted`
        })
      }, { discard: true }),
      () =>
        denied === undefined ? Effect.succeed(path) : Effect.fail(
          new FilesystemError({
            reason: "NotGranted",
            code: "access",
            component,
            path,
            message: deniedMessage(component, kindOf[denied], path)
          })
        )
    )
  })

/**
 * Checks one path a component asks for, as its guest's filesystem calls are checked: resolved
 * against `directory` (a real, canonical host path), audited, and answered with the real path to
 * use or a `FilesystemError`. For host code acting on a component's behalf.
 *
 * @since 0.1.0
 * @category combinators
 */
export const authorize = (options: {
  readonly component: string
  readonly grants: Capability.Grants
  readonly directory: string
  readonly path: string
  readonly access: Access
  /** Follow a symlink in the last component (default `true`). */
  readonly follow?: boolean | undefined
}): Effect.Effect<string, FilesystemError, Filesystem | Audit.Audit> =>
  Effect.gen(function*() {
    const filesystem = yield* Filesystem
    const audit = yield* Audit.Audit
    const check = makeAuthorize(filesystem.backend, audit, options.component, options.grants, interfaceNames.types)
    return yield* check(options.directory, options.path, [options.access], options.follow ?? true, "authorize")
  })

// -----------------------------------------------------------------------------
// host interfaces
// -----------------------------------------------------------------------------

const holdsFileGrant = (grants: Capability.Grants): boolean =>
  grants.capabilities.some((grant) => grant._tag === "FileRead" || grant._tag === "FileWrite")

const makeSession = (
  filesystem: Filesystem["Service"],
  audit: AuditService,
  component: string,
  grants: Capability.Grants,
  iface: string
): Wasi.Session => {
  return { backend: filesystem.backend, authorize: makeAuthorize(filesystem.backend, audit, component, grants, iface) }
}

/**
 * `wasi:filesystem/types`: the `descriptor` and `directory-entry-stream` resources (every method
 * checks what it touches) and `filesystem-error-code`.
 *
 * @since 0.1.0
 * @category models
 */
export const typesInterface: Linker.HostInterface = Linker.hostInterface({
  name: interfaceNames.types,
  resources: { Descriptor: Wasi.descriptor, DirectoryEntryStream: Wasi.directoryEntryStream },
  make: Effect.succeed(() => ({
    filesystemErrorCode: { run: (error: unknown) => Effect.succeed(WasiIo.errorCode(error)) }
  }))
})

/**
 * `wasi:filesystem/preopens`: the component's preopened directories, none without a file grant.
 * Linked for every component, so ordinary guests that import it without using it link.
 *
 * @since 0.1.0
 * @category models
 */
export const preopensInterface: Linker.HostInterface<Filesystem | Audit.Audit> = Linker.hostInterface({
  name: interfaceNames.preopens,
  make: Effect.gen(function*() {
    const filesystem = yield* Filesystem
    const audit = yield* Audit.Audit
    return (target) => {
      // Descriptors are `wasi:filesystem/types` resources, of the version the preopens came with.
      const types = target.interface.replace(interfaceNames.preopens, interfaceNames.types)
      const session = makeSession(filesystem, audit, target.componentId, target.grants, types)
      const granted = holdsFileGrant(target.grants)
      // Real paths, taken on the first call; a preopen that does not exist is not shown.
      let roots: ReadonlyArray<readonly [string, string]> | undefined
      const rootsOf = () =>
        roots ??= granted
          ? filesystem.preopens(target.componentId).flatMap((preopen) => {
            const real = Result.try(() => filesystem.backend.realpath(preopen.path))
            return Result.isSuccess(real) ? [[real.success, preopen.as] as const] : []
          })
          : []
      return {
        getDirectories: {
          run: () =>
            Effect.forEach(
              rootsOf(),
              ([path, name]) => Effect.map(Wasi.preopenDescriptor(session, path), (handle) => [handle, name] as const)
            )
        }
      }
    }
  })
})

/**
 * Both filesystem interfaces. Link with `Stdio.ioInterfaces` (or `Stdio.hostInterfaces`).
 *
 * @since 0.1.0
 * @category models
 */
export const hostInterfaces: ReadonlyArray<Linker.HostInterface<Filesystem | Audit.Audit>> = [
  typesInterface,
  preopensInterface
]

// -----------------------------------------------------------------------------
// named preopens
// -----------------------------------------------------------------------------

const globMagic = /[*?[\]{}\\]/

/**
 * The grants that go with named preopens: `FileRead` on each directory and everything under it
 * (`/srv/data/**`), and `FileWrite` as well for a `"read-write"` one. Add them to the component's
 * other grants; every use is still checked and audited as any grant is. A path that is not absolute
 * and canonical, or has a glob character in it, is a `PreopenError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const preopenGrants = (
  preopens: ReadonlyArray<Preopen>
): Effect.Effect<ReadonlyArray<Capability.FileRead | Capability.FileWrite>, PreopenError> =>
  Effect.forEach(preopens, (preopen) => {
    if (!Capability.isCanonical(preopen.path) || globMagic.test(preopen.path)) {
      return Effect.fail(
        new PreopenError({
          path: preopen.path,
          message: `a preopen granted as a whole must be an absolute canonical path without glob characters, got ${JSON.stringify(preopen.path)}`
        })
      )
    }
    const glob = preopen.path === "/" ? "/**" : `${preopen.path}/**`
    return Effect.succeed(
      preopen.access === "read-write"
        ? [new Capability.FileRead({ glob }), new Capability.FileWrite({ glob })]
        : [new Capability.FileRead({ glob })]
    )
  }).pipe(Effect.map((grants) => grants.flat()))

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

const validate = (options: Options): Effect.Effect<Options["preopens"], PreopenError> => {
  const preopens = options.preopens
  if (typeof preopens === "function") return Effect.succeed(preopens)
  const invalid = preopens.find((preopen) => !Capability.isCanonical(preopen.path))
  return invalid === undefined ? Effect.succeed(preopens) : Effect.fail(
    new PreopenError({ path: invalid.path, message: `a preopen must be an absolute canonical path, got ${JSON.stringify(invalid.path)}` })
  )
}

/**
 * A `Filesystem` over any backend.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (backend: Backend, options: Options): Effect.Effect<Filesystem["Service"], PreopenError> =>
  Effect.map(validate(options), (preopens) =>
    Filesystem.of({
      backend,
      preopens: typeof preopens === "function"
        ? (component) => preopens(component).filter((preopen) => Capability.isCanonical(preopen.path))
        : () => preopens
    }))

/**
 * The real filesystem, through `node:fs`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<Filesystem, PreopenError> =>
  Layer.effect(Filesystem, make(Wasi.nodeBackend, options))

/**
 * A tree in memory, seeded with `files` (absolute path → contents; a path ending in `/` is an empty
 * directory), for tests. No symlinks.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = (
  options: Options & { readonly files?: Readonly<Record<string, string | Uint8Array>> | undefined }
): Layer.Layer<Filesystem, PreopenError> =>
  Layer.effect(Filesystem, Effect.suspend(() => make(Wasi.memoryBackend(options.files ?? {}), options)))

/**
 * No filesystem: no preopens, and every operation fails with `access`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDeny: Layer.Layer<Filesystem> = Layer.succeed(
  Filesystem,
  Filesystem.of({ backend: Wasi.denyBackend, preopens: () => [] })
)
