/**
 * C guests (clang + wasi-libc + lld, the preview1 reactor adapter; guests/c with kits/c) under the
 * default limits. The suite is guestSuite.ts.
 */
import { guestSuite } from "./guestSuite.ts"

guestSuite({
  name: "C",
  toolchain: "c",
  processor: "c-processor",
  actor: "c-actor",
  command: "c-command",
  wasi: true,
  // malloc returns NULL when memory.grow is refused: the guest answers err("out of memory").
  outOfMemory: "GuestError"
})
