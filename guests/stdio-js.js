// world: processor
// wasi: stdio,clocks
// JavaScript processor (componentize-js) built with its stdio and clocks WASI features on, so it
// imports WASI like an ordinary toolchain's output: console.log → wasi:cli/stdout, console.error →
// wasi:cli/stderr. Returns "N ms" (the time its work took, from Date.now()) is not asserted on;
// it returns the byte length of the input as text.
export function process(input) {
  const text = new TextDecoder().decode(input)
  console.log(`js says: ${text}`)
  console.error(`js warns: ${text}`)
  return new TextEncoder().encode(String(input.length))
}
