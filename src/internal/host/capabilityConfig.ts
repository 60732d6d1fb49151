/**
 * Capability config errors: the first problem in a Schema decoding issue, told the way a person
 * editing the config needs it (which entry, which field, what is wrong).
 *
 * @internal
 */
import { SchemaIssue } from "effect"

/** A config problem, before it becomes a `CapabilityConfigError`. */
export interface Problem {
  /** A `ConfigFailure`: one of `reasons`, or `Malformed` / `UnknownType` / ... set here. */
  readonly reason: string
  readonly index?: number
  readonly field?: string
  readonly message: string
}

const formatLeaf = SchemaIssue.makeFormatterDefault()

const problem = (reason: string, path: ReadonlyArray<PropertyKey>, message: string): Problem => {
  const [index, field] = path
  const at = path.length === 0
    ? "capabilities"
    : `capabilities[${String(index)}]${field === undefined ? "" : `.${String(field)}`}`
  return {
    reason,
    ...(typeof index === "number" ? { index } : {}),
    ...(field === undefined ? {} : { field: String(field) }),
    message: `${at}: ${message}`
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * The first problem in `issue`. `input` is what was decoded, so that an entry no union member
 * accepts can be told apart: not an object, no `type`, or an unknown `type`. A filter reports its
 * own reason in its issue's `reason` annotation, when it is one of `reasons`.
 */
export const describe = (
  input: unknown,
  issue: SchemaIssue.Issue,
  options: { readonly kinds: ReadonlyArray<string>; readonly reasons: ReadonlyArray<string> },
  path: ReadonlyArray<PropertyKey> = []
): Problem => {
  switch (issue._tag) {
    case "Pointer":
      return describe(input, issue.issue, options, [...path, ...issue.path])
    case "Composite":
      return describe(input, issue.issues[0], options, path)
    case "Filter":
    case "Encoding":
      return describe(input, issue.issue, options, path)
    case "AnyOf": {
      const first = issue.issues[0]
      if (first !== undefined) return describe(input, first, options, path)
      const entry = Array.isArray(input) && typeof path[0] === "number" ? input[path[0]] : undefined
      if (!isRecord(entry)) return problem("Malformed", path, "expected an object with a `type` field")
      if (!("type" in entry)) return problem("MissingField", [...path, "type"], "missing `type` (the capability's name)")
      return problem(
        "UnknownType",
        [...path, "type"],
        `unknown capability type ${JSON.stringify(entry.type)}, expected one of ${options.kinds.join(", ")}`
      )
    }
    case "MissingKey":
      return problem("MissingField", path, "missing field")
    case "UnexpectedKey":
      return problem("UnknownField", path, "unknown field")
    case "InvalidType":
      return problem(path.length === 0 ? "Malformed" : "InvalidField", path, formatLeaf(issue))
    case "InvalidValue": {
      const reason = issue.annotations?.["reason"]
      return problem(
        typeof reason === "string" && options.reasons.includes(reason) ? reason : "InvalidField",
        path,
        formatLeaf(issue)
      )
    }
    case "Forbidden":
    case "OneOf":
      return problem("InvalidField", path, formatLeaf(issue))
  }
}
