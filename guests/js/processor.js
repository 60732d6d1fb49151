// world: storage-processor
// engines: qjs,componentize-js
// qjs-processor and js-kit-processor: the processor world in JavaScript through kits/js (logging,
// storage, process), one source for both engines. The text commands are in commands.js; "trap" returns
// a number where the WIT type wants bytes, which the engine's lowering cannot take: a trap in both.
import { decode, encode, result } from "../../kits/js/airssys.js"
import { run } from "./commands.js"

export function process(input) {
  const command = decode(input)
  if (command === "trap") return 42
  return result(() => encode(run(command)))
}
