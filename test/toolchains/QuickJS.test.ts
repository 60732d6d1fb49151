/**
 * JavaScript guests on QuickJS (componentize-qjs; guests/js with kits/js) under the default limits.
 * The suite is guestSuite.ts.
 */
import { guestSuite } from "./guestSuite.ts"

guestSuite({
  name: "QuickJS",
  toolchain: "qjs",
  processor: "qjs-processor",
  actor: "qjs-actor",
  command: "qjs-command",
  wasi: true,
  outOfMemory: "GuestError"
})
