/**
 * The resource limits applied to a component's core modules before they are compiled: the memory cap
 * (`memoryCap.ts`: V8 then refuses `memory.grow` past it) and fuel metering (`fuelInstrument.ts`, once
 * per module through `instrumentCache.ts`). What the jco seam calls a `CoreRewrite`.
 *
 * @internal
 */
import { Result } from "effect"
import type { CoreRewrite } from "../jco.ts"
import type { BoundedCache } from "./boundedCache.ts"
import { fuelVersion } from "./fuelInstrument.ts"
import { cachedInstrument } from "./instrumentCache.ts"
import { capMemory } from "./memoryCap.ts"

export interface LoadLimits {
  /** Cap on each linear memory the guest defines; `Infinity` for none. */
  readonly memoryBytes: number
  /** Meter the guest with fuel (the amount per call is set at call time). */
  readonly fuel: boolean
}

/** The rewrite for `limits`, or `undefined` when they ask for none. Instrumented modules go to `instrumented`. */
export const limitRewrite = (
  limits: LoadLimits,
  cacheDirectory: string | undefined,
  instrumented: BoundedCache<string, Promise<Uint8Array>>
): CoreRewrite | undefined => {
  const cap = Number.isFinite(limits.memoryBytes)
  if (!cap && !limits.fuel) return undefined
  return {
    key: `memory=${cap ? limits.memoryBytes : "none"};fuel=${limits.fuel ? fuelVersion : "none"}`,
    apply: (core) => {
      let bytes = core
      if (cap) {
        const capped = capMemory(core, limits.memoryBytes)
        if (Result.isFailure(capped)) return Promise.reject(capped.failure)
        bytes = capped.success
      }
      return limits.fuel ? cachedInstrument(bytes, instrumented, cacheDirectory) : Promise.resolve(bytes)
    }
  }
}
