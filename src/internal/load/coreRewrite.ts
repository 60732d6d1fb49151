/**
 * The core-module rewrites that enforce resource limits: a memory maximum (V8 then refuses
 * `memory.grow` past it) and fuel metering (binaryen), applied before compiling.
 *
 * @internal
 */
import { Result } from "effect"
import type { CoreRewrite } from "../jco.ts"
import { cachedInstrument, capMemory, fuelVersion } from "./wasmRewrite.ts"

export interface LoadLimits {
  /** Cap on each linear memory the guest defines; `Infinity` for none. */
  readonly memoryBytes: number
  /** Meter the guest with fuel (the amount per call is set at call time). */
  readonly fuel: boolean
}

export const coreRewrite = (limits: LoadLimits, cacheDirectory: string | undefined): CoreRewrite | undefined => {
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
      return limits.fuel ? cachedInstrument(bytes, cacheDirectory) : Promise.resolve(bytes)
    }
  }
}
