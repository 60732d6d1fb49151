/**
 * What a supervisor hands to each incarnation of a child, apart from the engine so that a child (an
 * actor) can use it without importing the engine.
 *
 * @internal
 */
import { Context, Deferred, Effect, Exit } from "effect"
import type { SupervisorSnapshot } from "../supervision.ts"

/**
 * Why a supervisor will not start a child again.
 *
 * @internal
 */
export type RetireReason = "NotRestarted" | "Terminated" | "SupervisorStopped"

/**
 * What a supervisor hands to one incarnation of a child: the child (or a supervisor running as the child)
 * signals readiness through it, registers its snapshot on it, and may register `retire`.
 *
 * @internal
 */
export interface ChildHandle {
  awaitReady: boolean
  readonly ready: Deferred.Deferred<void>
  /** The child called `ready` (as opposed to `ready` completed by its exit). */
  readied: boolean
  snapshot: Effect.Effect<SupervisorSnapshot> | undefined
  /** Set by the child: called (synchronously) when the supervisor will not start it again. */
  retire: ((why: RetireReason) => void) | undefined
  /**
   * Set by the supervisor: the child stops on purpose (an actor's `ref.stop`), so its coming exit is a
   * `terminate_child`, not a reason to restart it.
   */
  readonly release: () => void
  /** How this incarnation ended, recorded as it ends (start failures are read from it). */
  exit: Exit.Exit<unknown, unknown> | undefined
}

/** @internal */
export const CurrentChild = Context.Reference<ChildHandle | undefined>("airssys-wasm/Supervisor/CurrentChild", {
  defaultValue: () => undefined
})

/** @internal */
export const ready: Effect.Effect<void> = CurrentChild.use((handle) => {
  if (handle === undefined) return Effect.void
  handle.readied = true
  return Deferred.done(handle.ready, Exit.void)
})

/** `ready`, synchronously, for a child that has its handle at hand (an actor reaching `Running`). */
export const readyUnsafe = (handle: ChildHandle): void => {
  handle.readied = true
  Deferred.doneUnsafe(handle.ready, Exit.void)
}

