/**
 * WASI 0.2 randomness, `wasi:random/random`, `wasi:random/insecure` and `wasi:random/insecure-seed`,
 * from Effect's services.
 *
 * `wasi:random/random` promises cryptographically secure bytes, so `layer` draws them from Effect's
 * `SecureRandom` (WebCrypto's `getRandomValues`); the `insecure` interfaces come from Effect's
 * `Random` of the calling fiber. `layerEffectRandom` draws everything from `Random`, so
 * `Random.withSeed(...)` around a guest's instantiation (or any `Random` the test provides) makes the
 * guest's "random" bytes reproducible: a test double, never for production.
 *
 * The interfaces are ungated (the capability model has no randomness grant). `layerDeny` traps the
 * guest on every call: the WIT functions have no error result, and answering with predictable bytes
 * where secure ones were asked for would be worse than stopping the guest. A guest asking for more than
 * `maxBytes` in one call traps too.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Random as EffectRandom } from "effect"
import * as SecureRandom from "effect/crypto/SecureRandom"
import * as Linker from "../Linker.ts"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export const randomInterface = "wasi:random/random"

/**
 * @since 0.1.0
 * @category models
 */
export const insecureInterface = "wasi:random/insecure"

/**
 * @since 0.1.0
 * @category models
 */
export const insecureSeedInterface = "wasi:random/insecure-seed"

/**
 * Bytes one call may ask for: 1 MiB.
 *
 * @since 0.1.0
 * @category models
 */
export const maxBytes = 1024 * 1024

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------

/**
 * Where guests' random bytes come from. Synchronous effects: a guest's call cannot wait.
 *
 * @since 0.1.0
 * @category services
 */
export class Random extends Context.Service<Random, {
  /** Cryptographically secure bytes (`wasi:random/random`). */
  readonly secureBytes: (length: number) => Effect.Effect<Uint8Array>
  /** Bytes that need not be secure (`wasi:random/insecure`, `insecure-seed`). */
  readonly insecureBytes: (length: number) => Effect.Effect<Uint8Array>
}>()("airssys-wasm/Random") {}

// Four bytes per draw of a double in [0, 1): its top 32 bits.
const fromEffectRandom = (length: number): Effect.Effect<Uint8Array> =>
  EffectRandom.Random.use((random) => {
    const bytes = new Uint8Array(length)
    const view = new DataView(bytes.buffer)
    let i = 0
    for (; i + 4 <= length; i += 4) view.setUint32(i, Math.floor(random.nextDoubleUnsafe() * 0x1_0000_0000), true)
    if (i < length) {
      let word = Math.floor(random.nextDoubleUnsafe() * 0x1_0000_0000)
      for (; i < length; i++, word >>>= 8) bytes[i] = word & 0xff
    }
    return Effect.succeed(bytes)
  })

const u64 = (bytes: Uint8Array): bigint => new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true)

// A length from the guest (a u64 as a bigint): past `maxBytes` the guest traps.
const lengthOf = (len: unknown, fn: string): Effect.Effect<number> => {
  const n = typeof len === "bigint" ? len : BigInt(Number(len))
  return n >= 0n && n <= BigInt(maxBytes)
    ? Effect.succeed(Number(n))
    : Effect.die(new RangeError(`${fn}: ${n} bytes asked for, at most ${maxBytes} per call`))
}

// -----------------------------------------------------------------------------
// host interfaces
// -----------------------------------------------------------------------------

/**
 * How the Linker links `wasi:random/random` (ungated).
 *
 * @since 0.1.0
 * @category models
 */
export const randomHostInterface: Linker.HostInterface<Random> = Linker.hostInterface({
  name: randomInterface,
  make: Effect.map(Random, (random) => () => ({
    getRandomBytes: { run: (len: unknown) => Effect.flatMap(lengthOf(len, "get-random-bytes"), random.secureBytes) },
    getRandomU64: { run: () => Effect.map(random.secureBytes(8), u64) }
  }))
})

/**
 * How the Linker links `wasi:random/insecure` (ungated).
 *
 * @since 0.1.0
 * @category models
 */
export const insecureHostInterface: Linker.HostInterface<Random> = Linker.hostInterface({
  name: insecureInterface,
  make: Effect.map(Random, (random) => () => ({
    getInsecureRandomBytes: {
      run: (len: unknown) => Effect.flatMap(lengthOf(len, "get-insecure-random-bytes"), random.insecureBytes)
    },
    getInsecureRandomU64: { run: () => Effect.map(random.insecureBytes(8), u64) }
  }))
})

/**
 * How the Linker links `wasi:random/insecure-seed` (ungated).
 *
 * @since 0.1.0
 * @category models
 */
export const insecureSeedHostInterface: Linker.HostInterface<Random> = Linker.hostInterface({
  name: insecureSeedInterface,
  make: Effect.map(Random, (random) => () => ({
    insecureSeed: {
      run: () => Effect.map(random.insecureBytes(16), (bytes) => [u64(bytes), u64(bytes.subarray(8))] as const)
    }
  }))
})

/**
 * The three interfaces, for `Linker.layer([...Random.hostInterfaces, ...])`.
 *
 * @since 0.1.0
 * @category models
 */
export const hostInterfaces = [randomHostInterface, insecureHostInterface, insecureSeedHostInterface] as const

// -----------------------------------------------------------------------------
// layers
// -----------------------------------------------------------------------------

/**
 * Secure bytes from `SecureRandom` (WebCrypto), insecure ones from the calling fiber's `Random`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Random> = Layer.effect(
  Random,
  Effect.map(SecureRandom.SecureRandom, (secure) =>
    Random.of({
      secureBytes: (length) => secure.randomBytes(length),
      insecureBytes: fromEffectRandom
    }))
).pipe(Layer.provide(SecureRandom.layerWebCrypto))

/**
 * Every byte from the calling fiber's `Random` (for a guest: the fiber that instantiated it), so
 * `Random.withSeed` makes guests reproducible. For tests only: nothing here is secure.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerEffectRandom: Layer.Layer<Random> = Layer.succeed(
  Random,
  Random.of({ secureBytes: fromEffectRandom, insecureBytes: fromEffectRandom })
)

/**
 * No randomness: every call traps the guest.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDeny: Layer.Layer<Random> = Layer.succeed(
  Random,
  Random.of({
    secureBytes: () => Effect.die(new Error("randomness is not available to this component")),
    insecureBytes: () => Effect.die(new Error("randomness is not available to this component"))
  })
)
