/**
 * Shared by the tests that drive the storage-guest over the `storage` host interface (Linker.test,
 * capability/StorageSql.test): its request frames, grants, and the capability events the audit kept.
 */
import { Effect } from "effect"
import * as Audit from "../src/Audit.ts"
import * as Capability from "../src/Capability.ts"
import { text } from "./fixtures.ts"

/** One storage-guest request: an op letter, the namespace, the key (when the op has one), the value. */
export const frame = (op: string, namespace: string, key?: string, value: Uint8Array = new Uint8Array()) => {
  const ns = text(namespace)
  const k = key === undefined ? new Uint8Array() : text(key)
  return new Uint8Array([op.charCodeAt(0), ns.length, ...ns, ...(key === undefined ? [] : [k.length, ...k]), ...value])
}

export const grants = (...capabilities: ReadonlyArray<Capability.Capability>) => Capability.makeGrants(capabilities)

/** The audit's capability events, one line each: capability, resource, decision, detail. */
export const capabilityEvents = Effect.map(
  Audit.events,
  (events) => events.filter((event) => event.kind === "capability").map((event) => `${event.capability} ${event.resource} ${event.decision} ${event.detail ?? ""}`.trim())
)
