/**
 * The shape of `src/`, checked: one jco seam, `internal/` grouped by stage, internal modules that never
 * import a value from a public one, and no import circles. A rule broken here is cheap to fix now and
 * expensive once the next feature builds on it.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"

const src = path.resolve("src")

const sources = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(path.join(dir, entry.name))
      : entry.name.endsWith(".ts")
      ? [path.join(dir, entry.name)]
      : []
  )

const relative = (file: string) => path.relative(src, file).split(path.sep).join("/")

interface Import {
  readonly from: string
  readonly to: string
  /** `import type` / `export type`, or every named specifier marked `type`: erased at run time. */
  readonly typeOnly: boolean
  /** `import("…")` at run time: a dependency, but not one that runs when the module loads. */
  readonly dynamic: boolean
}

// A clause never spans into the next statement (the sources have no semicolons to stop at).
const staticImport = /(?:^|\n)[ \t]*(?:import|export)\s+(type\s+)?((?:(?!\n[ \t]*(?:import|export)\b)[^])*?)\s*from\s+["'](\.{1,2}\/[^"']+)["']/g
const dynamicImport = /import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g

const namedAllTypes = (clause: string) => {
  const named = clause.trim().match(/^\{([\s\S]*)\}$/)
  if (named === null) return false
  const specifiers = named[1]!.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
  return specifiers.length > 0 && specifiers.every((s) => s.startsWith("type "))
}

const imports: ReadonlyArray<Import> = sources(src).flatMap((file) => {
  const text = fs.readFileSync(file, "utf8")
  const from = relative(file)
  const resolve = (specifier: string) => relative(path.resolve(path.dirname(file), specifier))
  return [
    ...Array.from(text.matchAll(staticImport), (m) => ({
      from,
      to: resolve(m[3]!),
      typeOnly: m[1] !== undefined || namedAllTypes(m[2]!),
      dynamic: false
    })),
    ...Array.from(text.matchAll(dynamicImport), (m) => ({ from, to: resolve(m[1]!), typeOnly: false, dynamic: true }))
  ]
})

const isInternal = (file: string) => file.startsWith("internal/")

/** Strongly connected components of more than one module over the imports that run when a module loads. */
const cycles = (edges: ReadonlyArray<Import>): Array<Array<string>> => {
  const next = new Map<string, Array<string>>()
  for (const edge of edges) next.set(edge.from, [...(next.get(edge.from) ?? []), edge.to])
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: Array<string> = []
  const onStack = new Set<string>()
  const found: Array<Array<string>> = []
  const visit = (v: string) => {
    index.set(v, index.size)
    low.set(v, index.get(v)!)
    stack.push(v)
    onStack.add(v)
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!))
    }
    if (low.get(v) === index.get(v)) {
      const component: Array<string> = []
      let w: string
      do {
        w = stack.pop()!
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1) found.push(component.sort())
    }
  }
  for (const v of next.keys()) if (!index.has(v)) visit(v)
  return found.sort((a, b) => a[0]!.localeCompare(b[0]!))
}

describe("architecture", () => {
  it("jco is imported by exactly one internal file", () => {
    const importers = sources(src)
      .filter((file) => /(?:from\s+|import\(\s*)["']@bytecodealliance\/jco(?:-transpile)?["'\/]/.test(fs.readFileSync(file, "utf8")))
      .map(relative)
    assert.deepStrictEqual(importers, ["internal/jco.ts"])
  })

  it("internal/ is grouped by stage; beside the stages only the jco seam and leaves", () => {
    // A leaf (shared types and errors) imports no other internal module, so any stage may depend on it.
    const stages = new Set(["load", "run", "host", "audit", "observer", "cluster"])
    const topLevel = sources(path.join(src, "internal")).map(relative).filter((file) => !stages.has(file.split("/")[1]!))
    const notLeaves = topLevel.filter((file) =>
      file !== "internal/jco.ts" && imports.some((i) => i.from === file && isInternal(i.to))
    )
    assert.deepStrictEqual(notLeaves, [])
  })

  it("no internal module imports a value from a public module", () => {
    const upward = imports
      .filter((i) => isInternal(i.from) && !isInternal(i.to) && !i.typeOnly)
      .map((i) => `${i.from} -> ${i.to}`)
    assert.deepStrictEqual([...new Set(upward)], [])
  })

  it("no import circles, not even through types", () => {
    // A circle through types alone costs nothing at run time, but it is the same tangle for a reader, and
    // the next value import along it makes it a load-order bug.
    assert.deepStrictEqual(cycles(imports), [])
  })

  it("the import scanner sees value, type-only and dynamic imports", () => {
    // The rules above pass vacuously if the scanner finds nothing: pin a few edges that exist.
    const has = (from: string, to: string, kind: Partial<Import>) =>
      imports.some((i) => i.from === from && i.to === to && Object.entries(kind).every(([k, v]) => i[k as keyof Import] === v))
    assert.isTrue(has("Component.ts", "internal/jco.ts", { typeOnly: false }))
    assert.isTrue(imports.filter((i) => i.typeOnly).length > 10)
    assert.isTrue(imports.length > 200)
  })
})
