/**
 * Lexical path checks for the filesystem capabilities: what a canonical path is, and how a guest's
 * requested path becomes one. Nothing here touches the filesystem; symlinks are the filesystem
 * layer's business.
 *
 * @internal
 */

/** Why a requested path was refused. */
export type PathFailure =
  | "InvalidRoot"
  | "Empty"
  | "TooLong"
  | "NulByte"
  | "Backslash"
  | "Encoded"
  | "Escape"
  | "Outside"

/** Longer requests are refused: PATH_MAX on Linux. */
export const maxPathLength = 4096

const SLASH = 47
const DOT = 46
const NUL = 0
const BACKSLASH = 92

/**
 * A canonical path is absolute, has no empty, `.` or `..` segments, no trailing slash (except `/`
 * itself), no NUL and no backslash. One pass, no allocation: it runs on every filesystem check.
 */
export const isCanonical = (path: string): boolean => {
  const length = path.length
  if (length === 0 || path.charCodeAt(0) !== SLASH) return false
  if (length === 1) return true
  let start = 1
  for (let i = 1; i <= length; i++) {
    const code = i < length ? path.charCodeAt(i) : SLASH
    if (code === NUL || code === BACKSLASH) return false
    if (code === SLASH) {
      const size = i - start
      if (size === 0) return false
      if (size <= 2 && path.charCodeAt(start) === DOT && (size === 1 || path.charCodeAt(start + 1) === DOT)) {
        return false
      }
      start = i + 1
    }
  }
  return true
}

const percentEncoded = /%[0-9a-fA-F]{2}/
const nonAscii = /[^\x00-\x7f]/

// A segment that a later layer could normalize (NFKC) into `.`, `..` or a separator: fullwidth dots
// (U+FF0E), the one-dot leader (U+2024), fullwidth solidus (U+FF0F), ...
const isLookalike = (segment: string): boolean => {
  const normalized = segment.normalize("NFKC")
  return normalized === "." || normalized === ".." || normalized.includes("/") || normalized.includes("\\")
}

/** The outcome of `canonicalize`: a canonical absolute path, or why there is none. */
export type Canonicalized =
  | { readonly _tag: "Path"; readonly path: string }
  | { readonly _tag: "Refused"; readonly reason: PathFailure; readonly message: string }

const refuse = (reason: PathFailure, message: string): Canonicalized => ({ _tag: "Refused", reason, message })

/**
 * Resolves `requested` (relative to `root`, or absolute) into a canonical absolute path inside `root`.
 * A `..` may climb back towards the root but never above it; an absolute request must name `root` or
 * a path under it. Requests that only make sense to a layer that decodes or normalizes paths (percent
 * escapes, NUL, backslashes, Unicode look-alikes of `.` and `/`) are refused outright.
 */
export const canonicalize = (root: string, requested: string): Canonicalized => {
  let base = root
  while (base.length > 1 && base.charCodeAt(base.length - 1) === SLASH) base = base.slice(0, -1)
  if (!isCanonical(base)) return refuse("InvalidRoot", `root must be an absolute canonical path, got ${JSON.stringify(root)}`)
  if (requested.length === 0) return refuse("Empty", "the requested path is empty")
  if (requested.length > maxPathLength) {
    return refuse("TooLong", `the requested path is longer than ${maxPathLength} characters`)
  }
  if (requested.includes("\0")) return refuse("NulByte", "the requested path contains a NUL byte")
  if (requested.includes("\\")) return refuse("Backslash", "the requested path contains a backslash")
  if (percentEncoded.test(requested)) {
    return refuse("Encoded", "the requested path contains a percent-encoded byte")
  }
  let rest = requested
  if (requested.charCodeAt(0) === SLASH) {
    const inside = base === "/"
      ? requested
      : requested === base
      ? ""
      : requested.startsWith(base + "/")
      ? requested.slice(base.length)
      : undefined
    if (inside === undefined) return refuse("Outside", `${JSON.stringify(requested)} is outside ${base}`)
    rest = inside
  }
  const checkLookalikes = nonAscii.test(rest)
  const stack: Array<string> = []
  for (const segment of rest.split("/")) {
    if (segment === "" || segment === ".") continue
    if (segment === "..") {
      if (stack.length === 0) return refuse("Escape", `${JSON.stringify(requested)} climbs above ${base}`)
      stack.pop()
      continue
    }
    if (checkLookalikes && isLookalike(segment)) {
      return refuse("Encoded", `the requested path has a segment that normalizes to a path separator or dot`)
    }
    stack.push(segment)
  }
  if (stack.length === 0) return { _tag: "Path", path: base }
  return { _tag: "Path", path: (base === "/" ? "/" : base + "/") + stack.join("/") }
}
