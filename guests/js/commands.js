// The text commands every language's processor and actor guest understands (guests/README.md), for the
// JavaScript guests: one source, built by both engines (componentize-qjs and componentize-js). Not a
// guest itself (no world header). Files and exit are WASI imports the build adds to the world
// (scripts/build-toolchain-guests.ts): `wasi:filesystem` and `wasi:cli/exit`, called directly.
import { log } from "airssys:component/logging@0.1.0"
import { get, set } from "airssys:component/storage@0.1.0"
import { exitWithCode } from "wasi:cli/exit@0.2.12"
import { getDirectories } from "wasi:filesystem/preopens@0.2.12"
import { decode, encode } from "../../kits/js/airssys.js"

// A u64 argument is a BigInt in SpiderMonkey and a number in QuickJS (a BigInt there traps in the
// lowering); QuickJS is the engine without TextEncoder.
const offsetZero = typeof TextEncoder === "undefined" ? 0 : 0n

/** The preopened directory PATH starts with, opened at the rest of PATH (C's and Rust's `/data/...`). */
function open(file, openFlags, flags) {
  for (const [directory, name] of getDirectories()) {
    if (file.startsWith(name + "/")) return directory.openAt({}, file.slice(name.length + 1), openFlags, flags)
  }
  throw "no preopened directory"
}

function readFile(file) {
  const descriptor = open(file, {}, { read: true })
  const [bytes] = descriptor.read(descriptor.stat().size, offsetZero)
  return decode(bytes)
}

function writeFile(file, text) {
  open(file, { create: true, truncate: true }, { write: true }).write(encode(text), offsetZero)
  return "written"
}

let spins = 0

/** The answer to one command, as text; throws the message of an `err`. */
export function run(command) {
  const space = command.indexOf(" ")
  const op = space < 0 ? command : command.slice(0, space)
  const rest = space < 0 ? "" : command.slice(space + 1)
  const [first = "", second = ""] = rest.split(" ")
  switch (op) {
    case "echo":
      return rest
    case "err":
      throw rest
    case "loop":
      for (;;) spins++
    case "alloc": {
      // Touches every page, so a refused memory.grow is the only way out.
      const block = new Uint8Array(Number(rest) * 1024 * 1024)
      block.fill(1)
      return "allocated"
    }
    case "log":
      log("info", rest)
      return "logged"
    case "set":
      set(first, second, encode(rest.split(" ").slice(2).join(" ")))
      return "stored"
    case "get": {
      const value = get(first, second)
      return value === undefined || value === null ? "(none)" : decode(value)
    }
    case "exit":
      exitWithCode(Number(rest))
      throw "exit returned"
    case "read":
      return readFile(rest)
    case "write":
      return writeFile(first, rest.split(" ").slice(1).join(" "))
    default:
      throw "unknown command"
  }
}
