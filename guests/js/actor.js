// world: storage-actor
// engines: qjs,componentize-js
// qjs-actor and js-kit-actor: the actor world in JavaScript through kits/js (logging, messaging,
// storage, handler), one source for both engines. A payload is a command of commands.js, or one of
//   send TARGET TEXT | request TARGET TEXT | publish TOPIC TEXT | subscribe TOPIC
// answered with some(result). A message that arrives on a topic is logged ("TOPIC: TEXT"), no reply.
import { log } from "airssys:component/logging@0.1.0"
import { publish, request, send, subscribe } from "airssys:component/messaging@0.1.0"
import { decode, encode, result } from "../../kits/js/airssys.js"
import { run } from "./commands.js"

const messaging = { send, request, publish, subscribe }

export const handler = {
  handleMessage(message) {
    const command = decode(message.payload)
    if (message.topic !== undefined && message.topic !== null) {
      log("info", `${message.topic}: ${command}`)
      return undefined
    }
    if (command === "trap") return 42
    const [op, name = "", ...words] = command.split(" ")
    return result(() => {
      if (op === "request") return request(name, encode(words.join(" ")), 1000)
      if (op in messaging) {
        messaging[op](name, encode(words.join(" ")))
        return encode("done")
      }
      return encode(run(command))
    })
  }
}
