// word-count.js: a plugin for the storage-processor world, written with kits/js; the same file builds
// with componentize-qjs (QuickJS) and componentize-js (SpiderMonkey). It counts the words of its
// input, keeps a running total in host storage and logs each call.
import { log } from "airssys:component/logging@0.1.0"
import { get, set } from "airssys:component/storage@0.1.0"
import { decode, encode, result } from "../../../kits/js/airssys.js"

/** @type {import("../../../kits/js/airssys.js").Process} */
export function process(input) {
  // `result` turns anything thrown (a host refusal included) into this call's err.
  return result(() => {
    const words = decode(input).split(/\s+/).filter((word) => word.length > 0).length
    // The running total lives in host storage, in the namespace the host granted ("word-count").
    const stored = get("word-count", "total")
    const total = (stored == null ? 0 : Number(decode(stored))) + words
    set("word-count", "total", encode(String(total)))
    const answer = `${words} words, ${total} in total`
    log("info", answer)
    return encode(answer)
  })
}
