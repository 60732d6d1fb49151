/**
 * A map that holds at most `capacity` entries and forgets the least recently used one past that: the
 * store behind each of `ComponentCache`'s caches. Synchronous, so a hit stays a map lookup (a warm load is
 * a hash and a lookup, ~2 µs, which effect's `Cache` — a fiber step and a `Deferred` per get — would
 * double). Values are usually promises: concurrent callers of the same key share one piece of work, and
 * a failed one is deleted by its owner so the next caller tries again.
 *
 * @internal
 */
export class BoundedCache<K, V> {
  readonly capacity: number
  // A `Map` iterates in insertion order: a hit moves its key to the end, so the first key is the least
  // recently used.
  private readonly entries = new Map<K, V>()
  constructor(capacity: number) {
    this.capacity = Math.max(0, Math.floor(capacity))
  }
  get size(): number {
    return this.entries.size
  }
  get(key: K): V | undefined {
    const value = this.entries.get(key)
    if (value !== undefined && this.entries.size > 1) {
      this.entries.delete(key)
      this.entries.set(key, value)
    }
    return value
  }
  /** Adds or replaces `key`; past the capacity the least recently used entries go (all of them at 0). */
  set(key: K, value: V): void {
    this.entries.delete(key)
    this.entries.set(key, value)
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!)
  }
  /** Deletes `key` only while it still maps to `value` (a later `set` of the same key is kept). */
  deleteIf(key: K, value: V): void {
    if (this.entries.get(key) === value) this.entries.delete(key)
  }
  clear(): void {
    this.entries.clear()
  }
}
