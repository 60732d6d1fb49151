// world: processor
// JavaScript echo processor (componentize-js): returns its input; "err:REST" throws the string REST
// (an err result); "trap" throws an Error (a trap).
const startsWith = (bytes, prefix) => {
  if (bytes.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix.charCodeAt(i)) return false
  return true
}

export function process(input) {
  if (input.length === 4 && startsWith(input, "trap")) throw new Error("boom")
  if (startsWith(input, "err:")) throw new TextDecoder().decode(input.subarray(4))
  return new Uint8Array(input)
}
