/**
 * A guest written in Rust: guests/rust/actor.rs with the kit in kits/rust (airssys.rs, std only, no
 * crates), built by rustc for wasm32-wasi and made a component with jco's WASI preview1 reactor
 * adapter. It runs as an actor under the default limits, uses storage, messaging, logging and a file it
 * was granted, is refused the rest, panics and is restarted. How to write one:
 * docs/how-to/write-a-guest-in-rust.md.
 *
 * Run: npm run build:guests && node examples/rust-guest.ts
 * (needs: apt-get install -y rustc libstd-rust-dev-wasm32 lld)
 */
import { run } from "./shared/guestTour.ts"

run({ language: "Rust", toolchain: "rust", actor: "rust-actor", files: true })
