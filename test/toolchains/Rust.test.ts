/**
 * Rust guests (rustc's wasm32-wasi standard library, no crates; guests/rust with kits/rust) under the
 * default limits. The suite is guestSuite.ts.
 */
import { guestSuite } from "./guestSuite.ts"

guestSuite({
  name: "Rust",
  toolchain: "rust",
  processor: "rust-processor",
  actor: "rust-actor",
  command: "rust-command",
  wasi: true,
  // Vec::try_reserve_exact reports the refused memory.grow: the guest answers err("out of memory").
  outOfMemory: "GuestError"
})
