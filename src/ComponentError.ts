/**
 * The typed errors of loading, linking and calling a component.
 *
 * Every way a guest can go wrong ends in one of these: bad bytes are a `ComponentLoadError`, a missing
 * import a `LinkError`, a trap a `Trap` (after which the instance is poisoned), a guest's own `err`
 * result a `GuestError`.
 *
 * @since 0.1.0
 */
export {
  ComponentLoadError,
  GuestError,
  GuestExit,
  HostRefusal,
  InstancePoisoned,
  LinkError,
  LoadFailure,
  Trap,
  WasmMemoryExhausted,
  LimitExceeded
} from "./internal/componentError.ts"
export type { CallError } from "./internal/componentError.ts"
