// world: processor
// wasi: clocks
// JavaScript processor (componentize-js) that sleeps with `setTimeout`: input = milliseconds as text.
// StarlingMonkey runs its event loop to resolve the exported promise, and a timer there is a
// `wasi:clocks/monotonic-clock.subscribe-duration` pollable waited on with `wasi:io/poll`. Answers
// the milliseconds `performance.now()` moved across the sleep, as text.
export async function process(input) {
  const millis = Number(new TextDecoder().decode(input))
  const before = performance.now()
  await new Promise((resolve) => setTimeout(resolve, millis))
  return new TextEncoder().encode(String(Math.round(performance.now() - before)))
}
