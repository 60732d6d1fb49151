// The text commands every language's processor and actor guest understands (guests/README.md), for the
// JavaScript guests: one source, built by both engines (componentize-qjs and componentize-js). Not a
// guest itself (no world header). JavaScript has no exit and, in these worlds, no files.
import { log } from "airssys:component/logging@0.1.0"
import { get, set } from "airssys:component/storage@0.1.0"
import { decode, encode } from "../../kits/js/airssys.js"

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
    default:
      throw "unknown command"
  }
}
