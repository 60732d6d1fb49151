/**
 * JavaScript guests on SpiderMonkey (componentize-js; the same guests/js sources as QuickJS, with
 * kits/js) under the default limits. The suite is guestSuite.ts.
 */
import { guestSuite } from "./guestSuite.ts"

guestSuite({
  name: "componentize-js",
  toolchain: "componentize-js",
  processor: "js-kit-processor",
  actor: "js-kit-actor",
  command: "js-kit-command",
  wasi: true,
  outOfMemory: "GuestError",
  timeout: 180_000
})
