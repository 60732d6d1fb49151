#!/usr/bin/env node
/**
 * The `airssys-wasm` executable: the package's `bin` is its build, `dist/cli/main.js`; from this
 * repository `node src/cli/main.ts run plugin.wasm --input hi`.
 *
 * Checks the Node version first, in code any Node parses, so that an older Node prints one line instead
 * of a stack trace; turns on Node's on-disk compile cache before loading anything else (the CLI is a
 * short-lived process: caching V8's compiled code of effect, jco and the library halves its start-up
 * after the first run); then starts the CLI, or for `run` a child process running it, which it relays
 * (see `child.ts`).
 *
 * @since 0.1.0
 */
import * as Module from "node:module"
import { fileURLToPath } from "node:url"
import * as Child from "./child.ts"
import { installCommand, missingPackage } from "./peer.ts"

// The oldest Node the package supports (`engines` in package.json), @effect/platform-node-shared's floor.
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(`airssys-wasm: needs Node.js 22.19 or later; this is Node.js ${process.version}\n`)
  process.exit(2)
}

// Node 22 warns on every start that node:sqlite (the storage capability's backend) is experimental:
// noise on the CLI's stderr, where each line is meant to be about the guest.
const emitWarning = process.emitWarning.bind(process)
process.emitWarning = ((warning: string | Error, ...rest: Array<never>) => {
  if (!/SQLite is an experimental feature/.test(String(warning))) emitWarning(warning, ...rest)
}) as typeof process.emitWarning

Module.enableCompileCache?.()

const start = () =>
  import("./start.ts").catch((cause: unknown) => {
    // A peer dependency the install left out: `@effect/platform-node-shared` is optional (only the CLI
    // needs it), `effect` is not. Name it and the command that adds it, not a stack trace.
    const missing = missingPackage(cause)
    if (missing === undefined) throw cause
    process.stderr.write(`airssys-wasm: the CLI needs the package ${missing}, which is not installed: ${installCommand(missing)}\n`)
    process.exit(2)
  })

// `run` goes to a child process, which this one relays (see child.ts): a guest in the child's thread
// cannot keep this one from acting on a signal.
const parent = process.env[Child.marker]
if (parent !== undefined) {
  delete process.env[Child.marker]
  Child.watchParent(Number(parent))
  start()
} else if (Child.runsGuest(process.argv.slice(2))) {
  Child.relay(fileURLToPath(import.meta.url), process.argv.slice(2), start)
} else {
  start()
}
