/**
 * The audit hash chain: the canonical JSON of an event, its hash, and the check of a whole log.
 *
 * Canonical JSON is the event's fields in a fixed order (`sequence`, `time`, `component`, `kind`,
 * `capability`, `resource`, `decision`, `action`, `limit`, `value`, `detail`, `node`, `prev`), absent optional fields left
 * out, no whitespace, strings escaped as `JSON.stringify` does. `hash` is the sha-256 (hex) of the
 * UTF-8 of that text, which includes `prev`, the previous event's hash; the line stored in a log is
 * the same text with `"hash"` appended as the last field.
 *
 * @internal
 */
import * as crypto from "node:crypto"

/** `prev` of the first event of a chain. */
export const genesis = "0".repeat(64)

/** The fields of an event that its hash covers: everything but `hash`. */
export interface Body {
  readonly sequence: number
  readonly time: number
  readonly component: string
  readonly kind: "capability" | "lifecycle"
  readonly capability?: string | undefined
  readonly resource?: string | undefined
  readonly decision?: string | undefined
  readonly action?: string | undefined
  readonly limit?: string | undefined
  readonly value?: number | undefined
  readonly detail?: string | undefined
  readonly node?: string | undefined
  readonly prev: string
}

// Printable ASCII without `"` and `\` (the common case) is quoted as is; anything else goes through
// JSON.stringify. A loop beats a regular expression on these short strings.
const str = (value: string): string => {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) return JSON.stringify(value)
  }
  return `"${value}"`
}

/** The fields of a body between `time` and `prev`: the same for every event of one entry. */
export type Middle = Omit<Body, "sequence" | "time" | "prev">

/** The canonical JSON of the fields from `component` to `node`, with a leading comma. */
export const encodeMiddle = (body: Middle): string => {
  let out = `,"component":${str(body.component)},"kind":"${body.kind}"`
  if (body.capability !== undefined) out += `,"capability":${str(body.capability)}`
  if (body.resource !== undefined) out += `,"resource":${str(body.resource)}`
  if (body.decision !== undefined) out += `,"decision":${str(body.decision)}`
  if (body.action !== undefined) out += `,"action":${str(body.action)}`
  if (body.limit !== undefined) out += `,"limit":${str(body.limit)}`
  if (body.value !== undefined) out += `,"value":${JSON.stringify(body.value)}`
  if (body.detail !== undefined) out += `,"detail":${str(body.detail)}`
  if (body.node !== undefined) out += encodeNode(body.node)
  return out
}

/** The `node` field's canonical JSON, with a leading comma: the end of a middle (see `encodeMiddle`). */
export const encodeNode = (node: string): string => `,"node":${str(node)}`

/** The canonical JSON of an event without its hash, from its middle (see `encodeMiddle`). */
export const encodeWith = (sequence: number, time: number, middle: string, prev: string): string =>
  `{"sequence":${sequence},"time":${time}${middle},"prev":"${prev}"}`

/** The canonical JSON of an event without its hash. */
export const encodeBody = (body: Body): string => encodeWith(body.sequence, body.time, encodeMiddle(body), body.prev)

/** sha-256 of the canonical body, hex. */
export const hashBody = (encoded: string): string => crypto.hash("sha256", encoded)

/** The stored line (without newline): the body with `hash` appended. */
export const encodeLine = (encoded: string, hash: string): string => `${encoded.slice(0, -1)},"hash":"${hash}"}`

/** Where a chain stands: the last event's sequence number and hash. */
export interface Head {
  readonly sequence: number
  readonly hash: string
}

export const genesisHead: Head = { sequence: 0, hash: genesis }

/** Why a log does not verify. */
export type Violation = "Malformed" | "Truncated" | "Edited" | "OutOfSequence" | "Unlinked" | "Diverged"

export type Verdict =
  | { readonly _tag: "Valid"; readonly events: number; readonly head: Head }
  | { readonly _tag: "Invalid"; readonly reason: Violation; readonly line: number; readonly message: string }

/**
 * Checks a log's text line by line. `decode` turns one line into an event, or says why it is not
 * one. `from` is where the chain starts (genesis for a fresh log); `expect`, when
 * given, is a head recorded elsewhere that the log must reach: without it a log cut at a line
 * boundary cannot be told from a shorter log.
 */
export const verify = (
  text: string,
  decode: (line: string) => (Body & { readonly hash: string }) | "NotJson" | "NotEvent",
  options?: { readonly from?: Head | undefined; readonly expect?: Head | undefined }
): Verdict => {
  const invalid = (reason: Violation, line: number, message: string): Verdict => ({
    _tag: "Invalid",
    reason,
    line,
    message: `line ${line}: ${message}`
  })
  let head = options?.from ?? genesisHead
  const expect = options?.expect
  const lines = text.split("\n")
  // A log ends with a newline, so the last element is empty; anything else is a line cut short.
  const complete = lines[lines.length - 1] === ""
  const count = complete ? lines.length - 1 : lines.length
  let expectedSeen = expect === undefined || expect.sequence <= head.sequence
  if (expect !== undefined && expect.sequence === head.sequence && expect.hash !== head.hash) {
    return invalid("Diverged", 1, `the log does not start from the expected head #${expect.sequence}`)
  }
  for (let i = 0; i < count; i++) {
    const number = i + 1
    const text = lines[i]!
    const last = i === count - 1
    const event = decode(text)
    if (typeof event === "string") {
      return last && !complete
        ? invalid("Truncated", number, "the last line is cut off")
        : invalid("Malformed", number, event === "NotJson" ? "not JSON" : "not an audit event")
    }
    if (hashBody(encodeBody(event)) !== event.hash) {
      return invalid("Edited", number, `event #${event.sequence} does not match its hash: it was edited`)
    }
    if (event.sequence !== head.sequence + 1) {
      return invalid(
        "OutOfSequence",
        number,
        `expected event #${head.sequence + 1}, found #${event.sequence}: lines were deleted, duplicated or reordered`
      )
    }
    if (event.prev !== head.hash) {
      return invalid(
        "Unlinked",
        number,
        `event #${event.sequence} does not follow the previous event's hash: the previous line was rewritten or replaced`
      )
    }
    head = { sequence: event.sequence, hash: event.hash }
    if (expect !== undefined && expect.sequence === head.sequence) {
      if (expect.hash !== head.hash) {
        return invalid("Diverged", number, `event #${head.sequence} is not the expected one: the log was rewritten`)
      }
      expectedSeen = true
    }
  }
  if (!expectedSeen) {
    return invalid(
      "Truncated",
      count + 1,
      `the log ends at event #${head.sequence}, expected it to reach #${expect!.sequence}: its tail was cut off`
    )
  }
  return { _tag: "Valid", events: count, head }
}
