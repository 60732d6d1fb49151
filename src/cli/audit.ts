/**
 * `airssys-wasm audit verify <file.jsonl>`: checks an audit log's hash chain and says where it breaks.
 *
 * @since 0.1.0
 */
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as Audit from "../Audit.ts"
import { UsageError } from "./errors.ts"
import { readFile } from "./load.ts"

const parseHead = (text: string): Effect.Effect<Audit.ChainHead, UsageError> => {
  const match = /^(\d+):([0-9a-f]{64})$/.exec(text.trim())
  return match === null
    ? Effect.fail(
      new UsageError({
        reason: "InvalidFlag",
        flag: "expect",
        message: `invalid --expect ${JSON.stringify(text)}: expected SEQUENCE:HASH (the head recorded elsewhere, e.g. 42:3f9a…, 64 hex digits)`
      })
    )
    : Effect.succeed({ sequence: Number(match[1]), hash: match[2]! })
}

/**
 * `airssys-wasm audit verify`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const verify = Command.make("verify", {
  file: Argument.String("file").pipe(Argument.withDescription("the JSONL audit log")),
  expect: Flag.String("expect").pipe(
    Flag.withMetavar("SEQUENCE:HASH"),
    Flag.withDescription("the chain head recorded outside the log: detects a cut or rewritten tail"),
    Flag.optional
  )
}, (options) =>
  Effect.gen(function*() {
    const expect = Option.isSome(options.expect) ? yield* parseHead(options.expect.value) : undefined
    const bytes = yield* readFile(options.file, "file")
    const verified = yield* Audit.verify(new TextDecoder().decode(bytes), { expect })
    yield* Console.log(
      verified.events === 0
        ? `ok: ${options.file} is empty`
        : `ok: ${options.file}: ${verified.events} events, chain intact, head #${verified.head.sequence} ${verified.head.hash}`
    )
  })).pipe(Command.withDescription("Check an audit log's hash chain: every line intact, none missing, reordered or edited."))

/**
 * `airssys-wasm audit`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const command = Command.make("audit").pipe(
  Command.withDescription("Work with audit logs."),
  Command.withSubcommands([verify])
)
