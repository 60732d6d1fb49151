/**
 * sha-256, hex: a component's identity (`Component.hash`) and every cache key.
 *
 * @internal
 */
import { createHash } from "node:crypto"

/** sha-256 over `parts` in order (strings as UTF-8), hex. */
export const sha256 = (...parts: ReadonlyArray<Uint8Array | string>): string => {
  const hash = createHash("sha256")
  for (const part of parts) hash.update(part)
  return hash.digest("hex")
}
