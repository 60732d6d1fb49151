/**
 * What the registry keeps on each entry it made, for the router's per-message path:
 *
 * - a mark, true while the entry is registered;
 * - cells: objects other modules attach to an entry (the router's per-sender state) whose `live` flag the
 *   registry clears when the entry leaves. The router then finds a sender's state with one map lookup and
 *   checks that it is current on the same object, without touching the entry (at 10,000 actors every
 *   object a message touches is a likely cache miss);
 * - the ref's `sendNow`, read once at registration, so that delivering reads the entry and the function,
 *   not the ref in between.
 *
 * Entries made elsewhere carry none of this: they never read as live, their cells never turn live, and the
 * router calls `entry.ref.sendNow` (correct, slower).
 *
 * Kept for the bench row "messaging: Router.sendNow per message, 10,000 actors": without it (the router
 * looking the sender up in the registry and calling `entry.ref.sendNow` on every message) that row went
 * from 2.7x to 4.5x its eager floor (CPU time, same machine, issue 16), while the 10-actor row barely moved.
 *
 * @internal
 */
import type * as Actor from "../../Actor.ts"

export const live: unique symbol = Symbol.for("airssys-wasm/Registry/live")
export const cells: unique symbol = Symbol.for("airssys-wasm/Registry/cells")
export const sendNow: unique symbol = Symbol.for("airssys-wasm/Registry/sendNow")

/** State attached to one entry: `live` while the entry is registered. */
export interface Cell {
  live: boolean
  nextCell: Cell | undefined
}

export interface Marked {
  [live]: boolean
  [cells]: Cell | undefined
  readonly [sendNow]: Actor.ActorRef["sendNow"]
}

/** The fields to spread into an entry the registry makes for `ref` (all of them, so entries share one shape). */
export const fields = (ref: Actor.ActorRef): Marked => ({ [live]: true, [cells]: undefined, [sendNow]: ref.sendNow })

export const isLive = (entry: object | undefined): boolean => entry !== undefined && (entry as Partial<Marked>)[live] === true

/** Attaches `cell` to `entry`; it is live while the entry is (never, for an entry the registry did not make). */
export const attach = (entry: object, cell: Cell): void => {
  const marked = entry as Partial<Marked>
  if (marked[live] !== true) {
    cell.live = false
    return
  }
  cell.live = true
  cell.nextCell = marked[cells]
  ;(entry as Marked)[cells] = cell
}

/** The entry left the registry: it and every cell attached to it stop being live. */
export const unmark = (entry: object): void => {
  const marked = entry as Marked
  marked[live] = false
  let cell = marked[cells]
  marked[cells] = undefined
  while (cell !== undefined) {
    cell.live = false
    const next: Cell | undefined = cell.nextCell
    cell.nextCell = undefined
    cell = next
  }
}

/** `entry.ref.sendNow(payload, options)`, without reading the ref when the registry made the entry. */
export const send = (
  entry: { readonly ref: Actor.ActorRef },
  payload: Uint8Array,
  options: Actor.SendOptions
): ReturnType<Actor.ActorRef["sendNow"]> => {
  const fn = (entry as Partial<Marked>)[sendNow]
  return fn === undefined ? entry.ref.sendNow(payload, options) : fn.call(entry.ref, payload, options)
}
