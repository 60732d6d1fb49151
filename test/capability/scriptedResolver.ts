/**
 * A resolver the test controls, for both HTTP interfaces' address tests: answers by name (one list per
 * lookup, the last repeated) and counts lookups.
 */
import * as Resolver from "../../src/capability/Resolver.ts"

export const scriptedResolver = (answers: Record<string, ReadonlyArray<ReadonlyArray<string>>>) => {
  const lookups: Array<string> = []
  return {
    lookups,
    layer: Resolver.layerHandler((name) => {
      const n = lookups.filter((l) => l === name).length
      lookups.push(name)
      const list = answers[name] ?? []
      return list[Math.min(n, list.length - 1)] ?? []
    })
  }
}
