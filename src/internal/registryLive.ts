/**
 * A mark the registry keeps on each entry it made: true while the entry is registered. The router keeps
 * per-sender state keyed by id; checking this mark on the entry it remembered replaces a second map
 * lookup per message. Entries made elsewhere carry no mark and always read as not live (correct, slower).
 *
 * @internal
 */

export const live: unique symbol = Symbol.for("airssys-wasm/Registry/live")

export interface Marked {
  [live]: boolean
}

export const isLive = (entry: object | undefined): boolean => entry !== undefined && (entry as Partial<Marked>)[live] === true

export const unmark = (entry: object): void => {
  const marked = entry as Marked
  marked[live] = false
}
