/**
 * The name of the node (process) the current code runs on: a leaf that the supervisor engine, the actor
 * metrics and the audit read, and that the public `Node` module documents and re-exports.
 *
 * @internal
 */
import { Context } from "effect"

/** Documented where `Node.ts` re-exports it. */
export const CurrentNode: Context.Reference<string | undefined> = Context.Reference<string | undefined>("airssys-wasm/CurrentNode", {
  defaultValue: () => undefined
})
