// kind: command
// engines: qjs,componentize-js
// qjs-command and js-kit-command: a WASI command in JavaScript, exporting `wasi:cli/run` (one source
// for both engines). Prints to stdout and stderr; exits with the code in the environment variable
// EXIT_CODE (success when it is not set), like c-command.
import { getArguments, getEnvironment } from "wasi:cli/environment@0.2.12"
import { exitWithCode } from "wasi:cli/exit@0.2.12"
import { getStderr } from "wasi:cli/stderr@0.2.12"
import { getStdout } from "wasi:cli/stdout@0.2.12"
import { encode } from "../../kits/js/airssys.js"

// QuickJS has no TextEncoder (SpiderMonkey's StarlingMonkey has): the one difference that names the output.
const name = typeof TextEncoder === "undefined" ? "qjs-command" : "js-kit-command"

export const run = {
  run() {
    getStdout().blockingWriteAndFlush(encode(`${name}: hello from main, ${getArguments().length} argument(s)\n`))
    getStderr().blockingWriteAndFlush(encode(`${name}: a line on stderr\n`))
    const code = getEnvironment().find(([key]) => key === "EXIT_CODE")
    if (code !== undefined && Number(code[1]) !== 0) exitWithCode(Number(code[1]))
  }
}
