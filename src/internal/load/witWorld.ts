/**
 * Reads the imports and exports of a component's world from the WIT text that wit-component prints.
 *
 * @internal
 */

export interface WorldItem {
  readonly name: string
  readonly kind: "function" | "interface"
  /** The function's WIT signature, for function items. */
  readonly signature?: string
}

export interface WorldItems {
  readonly imports: ReadonlyArray<WorldItem>
  readonly exports: ReadonlyArray<WorldItem>
}

const itemLine = /^\s*(import|export)\s+(\S+?)(?::\s+(.+?))?\s*;\s*$/

export const parseWorld = (wit: string): WorldItems => {
  const imports: Array<WorldItem> = []
  const exports: Array<WorldItem> = []
  for (const line of wit.split("\n")) {
    const match = itemLine.exec(line)
    if (match === null) continue
    const [, direction, name, signature] = match
    const item: WorldItem = signature === undefined
      ? { name: name!, kind: "interface" }
      : { name: name!, kind: "function", signature }
    ;(direction === "import" ? imports : exports).push(item)
  }
  return { imports, exports }
}

// Defined in `internal/witName.ts` with the other name helpers; re-exported for the loader's modules.
