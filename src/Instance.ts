/**
 * One instantiation of a `Component`: its own linear memory, the component's shared compiled modules,
 * and exports called through Effects with typed errors.
 *
 * A trap poisons the instance: every later call fails with `InstancePoisoned`, and the remedy is a new
 * instance of the same component (which is what a restart is).
 *
 * @since 0.1.0
 */
import * as Internal from "./internal/run/instance.ts"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: typeof Internal.TypeId = Internal.TypeId

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * The `airssys:component/types.message` record, as a guest's handler receives it.
 *
 * @since 0.1.0
 * @category models
 */
export type Message = Internal.Message

/**
 * An instance: `process` (the `processor` world), `handleMessage` (the `actor` world), `call` for any
 * export by its WIT name, its `lifecycle` when the guest exports one, and whether a trap has poisoned it.
 * Made by `Component.instantiate`.
 *
 * @since 0.1.0
 * @category models
 */
export type Instance = Internal.Instance

/**
 * The guest's `lifecycle` export: `init(config)` and `shutdown()`.
 *
 * @since 0.1.0
 * @category models
 */
export type Lifecycle = Internal.Lifecycle
