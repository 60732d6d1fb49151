/**
 * `airssys-wasm/observer`: the live observer, on its own entry point because it serves HTTP with
 * `@effect/platform-node` (an optional peer): `import { Observer } from "airssys-wasm/observer"` needs
 * it installed, the root `airssys-wasm` never loads it.
 *
 * @since 0.1.0
 */
export * as Observer from "../Observer.ts"
