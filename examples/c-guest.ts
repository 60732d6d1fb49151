/**
 * A guest written in C: guests/c/actor.c with the kit in kits/c (airssys.h), built by clang +
 * wasi-libc and made a component with jco's WASI preview1 reactor adapter. It runs as an actor under
 * the default limits, uses storage, messaging, logging and a file it was granted, is refused the
 * rest, crashes and is restarted. How to write one: docs/how-to/write-a-guest-in-c.md.
 *
 * Run: npm run build:guests && node examples/c-guest.ts
 * (needs: apt-get install -y clang lld wasi-libc libclang-rt-14-dev-wasm32)
 */
import { run } from "./shared/guestTour.ts"

run({ language: "C", toolchain: "c", actor: "c-actor", files: true })
