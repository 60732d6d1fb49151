/**
 * `wasi:cli/exit` for guests: `exit(status)` and `exit-with-code(code)` end the guest's call at once,
 * with the code, as the typed error `GuestExit` (`exit(ok)` is 0, `exit(err)` is 1). Every toolchain's
 * runtime imports it (C's `exit`, Rust's `std::process::exit`, the preview1 adapter's `proc_exit`).
 *
 * The guest's stack is unwound where it called: its instance is poisoned from then on, as after a
 * trap, and a supervised actor restarts. A command's `wasi:cli/run#run` that exits with 0 is a
 * success (`Instance.call`), the way a process that exits 0 is. Exit is ungated and not audited: it
 * ends nothing but the guest's own call. No service: there is nothing to configure.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { ExitSignal } from "../internal/run/exitSignal.ts"
import * as Linker from "../Linker.ts"

/**
 * The WIT interface this module implements.
 *
 * @since 0.1.0
 * @category models
 */
export const interfaceName = "wasi:cli/exit"

// jco lifts `result` (no payloads) as `{ tag: "ok" | "err" }`.
const codeOf = (status: unknown): number =>
  typeof status === "object" && status !== null && (status as { readonly tag?: unknown }).tag === "ok" ? 0 : 1

const exitWith = (code: number): Effect.Effect<never> => Effect.die(new ExitSignal(code))

/**
 * `wasi:cli/exit`: `exit` and (where the version has it) `exit-with-code`.
 *
 * @since 0.1.0
 * @category models
 */
export const hostInterface: Linker.HostInterface = Linker.hostInterface({
  name: interfaceName,
  make: Effect.succeed(() => ({
    exit: { run: (status: unknown) => exitWith(codeOf(status)) },
    exitWithCode: { run: (code: unknown) => exitWith(typeof code === "number" ? code & 0xff : 1) }
  }))
})
