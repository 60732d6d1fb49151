import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"

const sources = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(path.join(dir, entry.name))
      : entry.name.endsWith(".ts")
      ? [path.join(dir, entry.name)]
      : []
  )

describe("architecture", () => {
  it("jco is imported by exactly one internal file", () => {
    const importers = sources(path.resolve("src"))
      .filter((file) => /(?:from\s+|import\(\s*)["']@bytecodealliance\/jco(?:-transpile)?["'\/]/.test(fs.readFileSync(file, "utf8")))
      .map((file) => path.relative(path.resolve("."), file))
    assert.deepStrictEqual(importers, [path.join("src", "internal", "jco.ts")])
  })
})
