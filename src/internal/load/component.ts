/**
 * What a loaded component is, for the modules on both sides of loading: `Component.ts` makes it (and
 * re-exports these types), the run-time modules (instances, pools, worker isolation) and the linker read it.
 *
 * Its header has no internal tag, on purpose: the published declarations keep its public types and
 * leave out its exports tagged internal (`scripts/build.ts`).
 */
import type { Resolved } from "../../ResourceLimits.ts"
import type { Loaded } from "../jco.ts"
import type { WorldItem } from "./witWorld.ts"

export const TypeId: unique symbol = Symbol.for("airssys-wasm/Component")

export type TypeId = typeof TypeId

/**
 * What a component imports and exports, read from its embedded WIT.
 *
 * @since 0.1.0
 * @category models
 */
export interface World {
  /** Imported interfaces (e.g. `airssys:component/logging@0.1.0`) and world-level functions. */
  readonly imports: ReadonlyArray<WorldItem>
  /** Exported functions (e.g. `process`, with its signature) and interfaces. */
  readonly exports: ReadonlyArray<WorldItem>
  /** The world as WIT text. */
  readonly wit: string
}

/**
 * A loaded component: immutable and shareable; instantiate it as often as needed.
 *
 * @since 0.1.0
 * @category models
 */
export interface Component {
  readonly [TypeId]: TypeId
  /** sha-256 of the component's bytes, hex: its identity. */
  readonly hash: string
  /** Size of the component's bytes. */
  readonly size: number
  readonly world: World
  /** The limits its core modules were rewritten for, and that its instances run under. */
  readonly limits: Resolved
  /** @internal */
  readonly loaded: Loaded
}
