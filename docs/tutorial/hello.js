// The tutorial's guest: an actor that greets whoever messages it, counts their visits in host
// storage, and logs each greeting. Built by docs/tutorial/build.ts into build/tutorial/hello.wasm.
import { log } from "airssys:component/logging@0.1.0"
import { get, set } from "airssys:component/storage@0.1.0"

const namespace = "hello"
const encoder = new TextEncoder()
const decoder = new TextDecoder()

// Messages handled by this instance. Guest memory: a restart starts it over.
let handled = 0

// A host import that answers err(message) throws an error whose `payload` is that message.
// Throwing a string from the handler makes it the handler's own err result.
const orErr = (call) => {
  try {
    return call()
  } catch (error) {
    throw typeof error?.payload === "string" ? error.payload : String(error)
  }
}

export const handler = {
  handleMessage(message) {
    const name = decoder.decode(message.payload)
    if (name === "") throw "tell me your name" // an err result: the instance stays usable
    if (name === "crash") throw new Error("asked to crash") // a trap: the instance is done
    const stored = orErr(() => get(namespace, name))
    const visits = (stored === undefined ? 0 : Number(decoder.decode(stored))) + 1
    orErr(() => set(namespace, name, encoder.encode(String(visits))))
    handled += 1
    log("info", `greeted ${name} (message ${handled} of this instance)`)
    return encoder.encode(`Hello, ${name}! Visit #${visits}.`)
  }
}
