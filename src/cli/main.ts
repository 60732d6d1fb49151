#!/usr/bin/env node
/**
 * The `airssys-wasm` executable: the package's `bin` is its build, `dist/cli/main.js`; from this
 * repository `node src/cli/main.ts run plugin.wasm --input hi`.
 *
 * Checks the Node version first, in code any Node parses, so that an older Node prints one line instead
 * of a stack trace; turns on Node's on-disk compile cache before loading anything else (the CLI is a
 * short-lived process: caching V8's compiled code of effect, jco and the library halves its start-up
 * after the first run); then starts the CLI.
 *
 * @since 0.1.0
 */
import * as Module from "node:module"

// The oldest Node the package supports (`engines` in package.json): @effect/platform-node's own floor.
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(`airssys-wasm: needs Node.js 22.19 or later; this is Node.js ${process.version}\n`)
  process.exit(2)
}

Module.enableCompileCache?.()
import("./start.ts").catch((cause: unknown) => {
  // A peer dependency the install left out (`effect`, `@effect/platform-node`): name it, not a stack trace.
  const missing = cause instanceof Error && "code" in cause && cause.code === "ERR_MODULE_NOT_FOUND"
    ? /Cannot find package '([^']+)'/.exec(cause.message)?.[1]
    : undefined
  if (missing === undefined) throw cause
  process.stderr.write(`airssys-wasm: the package ${missing} is missing; install it beside airssys-wasm: npm install ${missing}\n`)
  process.exit(2)
})
