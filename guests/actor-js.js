// world: actor
// JavaScript actor (componentize-js): logs "js got N bytes from SENDER" at info and replies with the
// payload reversed; payload "send" first calls messaging.send(sender, payload) (its err becomes our err).
import { log } from "airssys:component/logging@0.1.0"
import { send } from "airssys:component/messaging@0.1.0"

const isSend = (bytes) =>
  bytes.length === 4 && bytes[0] === 0x73 && bytes[1] === 0x65 && bytes[2] === 0x6e && bytes[3] === 0x64

export const handler = {
  handleMessage(msg) {
    log("info", `js got ${msg.payload.length} bytes from ${msg.sender}`)
    if (isSend(msg.payload)) {
      try {
        send(msg.sender, msg.payload)
      } catch (e) {
        // An err from a host import arrives as a thrown error carrying `payload`; a thrown string is our err.
        throw typeof e?.payload === "string" ? e.payload : String(e)
      }
    }
    return new Uint8Array(msg.payload).reverse()
  }
}
