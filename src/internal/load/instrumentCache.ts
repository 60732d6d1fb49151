/**
 * Fuel instrumentation once per module: the instrumented form of a core module, kept by hash in a
 * `BoundedCache` (the `ComponentCache` service's) and, when a cache directory is given, in
 * `fuel-KEY.wasm` files there, so another process skips the work too.
 *
 * @internal
 */
import { randomUUID } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { sha256 } from "../sha256.ts"
import type { BoundedCache } from "./boundedCache.ts"
import { fuelVersion, instrumentFuelBinaryen, instrumentFuelFast } from "./fuelInstrument.ts"
import { instrumentFuelInWorker } from "./wasmFuelWorker.ts"

/** The cache key of a module's instrumented form: sha-256 over the scheme's version and the input. */
export const fuelCacheKey = (bytes: Uint8Array): string => sha256(fuelVersion, "\0", bytes)

/** Counts real instrumentations done by `cachedInstrument`, so tests can show that a cache hit does none. */
export let instrumentCount = 0

const workerThreshold = 1024 * 1024

const readCached = (file: string): Promise<Uint8Array | undefined> =>
  fs.readFile(file).then(
    (buffer) => {
      const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
      // A damaged entry is a miss: instrument again and rewrite it.
      return WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>) ? bytes : undefined
    },
    () => undefined
  )

const writeCached = async (file: string, bytes: Uint8Array): Promise<void> => {
  await fs.mkdir(path.dirname(file), { recursive: true })
  // A staging name no other writer (thread or process) can pick: only its uniqueness matters, so
  // `randomUUID` rather than a seeded `Random` (this runs outside Effect, in the promise-based seam).
  const staging = `${file}.${process.pid}.${randomUUID()}.tmp`
  await fs.writeFile(staging, bytes)
  await fs.rename(staging, file).catch(() => fs.rm(staging, { force: true }))
}

/**
 * `instrumentFuel`, once per input: keyed by `fuelCacheKey` in `cache` (concurrent callers share one
 * instrumentation) and, when `cacheDirectory` is given, in `fuel-KEY.wasm` files there. The returned
 * bytes are shared between callers: do not modify them.
 *
 * Modules of 1 MiB or more are instrumented in a worker (seconds of work, hundreds of MB), smaller ones
 * in this thread (~2 ms once binaryen is loaded, against ~600 ms to start a worker and load binaryen
 * there); `inWorker` overrides that.
 */
export const cachedInstrument = (
  bytes: Uint8Array,
  cache: BoundedCache<string, Promise<Uint8Array>>,
  cacheDirectory?: string,
  options?: { readonly inWorker?: boolean }
): Promise<Uint8Array> => {
  const key = fuelCacheKey(bytes)
  let pending = cache.get(key)
  if (pending === undefined) {
    const file = cacheDirectory === undefined ? undefined : path.join(cacheDirectory, `fuel-${key}.wasm`)
    const started = (async () => {
      const cached = file === undefined ? undefined : await readCached(file)
      if (cached !== undefined) return cached
      const inWorker = options?.inWorker ?? bytes.byteLength >= workerThreshold
      // The one-pass rewrite first, here (milliseconds); binaryen, in a worker for large modules, when
      // it declines.
      const fast = options?.inWorker === true ? undefined : instrumentFuelFast(bytes)
      const out = fast ?? await (inWorker ? instrumentFuelInWorker(bytes) : instrumentFuelBinaryen(bytes))
      instrumentCount++
      if (file !== undefined) await writeCached(file, out)
      return out
    })()
    pending = started
    cache.set(key, started)
    started.catch(() => cache.deleteIf(key, started))
  }
  return pending
}
