/**
 * The `airssys-wasm` executable: `node src/cli/main.ts run plugin.wasm --input hi`.
 *
 * Turns on Node's on-disk compile cache before loading anything else (the CLI is a short-lived
 * process: caching V8's compiled code of effect, jco and the library halves its start-up after the
 * first run), then starts the CLI.
 *
 * @since 0.1.0
 */
import * as Module from "node:module"

Module.enableCompileCache?.()
void import("./start.ts")
