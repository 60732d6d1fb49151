import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { DeadLetters } from "../src/index.ts"

const letter = (n: number): DeadLetters.DeadLetter => ({
  target: "t",
  message: { sender: "s", payload: new Uint8Array([n]) },
  reason: "Rejected",
  error: `#${n}`,
  at: n
})

describe("DeadLetters", () => {
  it.effect("makeStore - keeps the newest letters in order past its capacity and counts the dropped", () =>
    Effect.gen(function*() {
      const store = DeadLetters.makeStore(3)
      for (let n = 1; n <= 2; n++) store.offer(letter(n))
      assert.deepStrictEqual((yield* store.letters).map((l) => l.error), ["#1", "#2"])
      for (let n = 3; n <= 7; n++) store.offer(letter(n))
      assert.deepStrictEqual((yield* store.letters).map((l) => l.error), ["#5", "#6", "#7"])
      assert.strictEqual(yield* store.dropped, 4)
    }))
})
