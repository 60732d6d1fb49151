/**
 * A guest written in JavaScript: guests/js/actor.js with the kit in kits/js, built by componentize-qjs
 * (QuickJS, ~1.6 MB; the same source also builds with componentize-js as js-kit-actor.wasm). It runs as
 * an actor under the default limits, uses storage, messaging and logging, is refused the rest, traps and
 * is restarted. How to write one: docs/how-to/write-a-guest-in-javascript.md.
 *
 * Run: npm run build:guests && node examples/javascript-guest.ts
 */
import { run } from "./shared/guestTour.ts"

run({ language: "JavaScript, QuickJS", toolchain: "qjs", actor: "qjs-actor", files: true })
