/**
 * `airssys-wasm inspect <component.wasm>`: the component's world — imports, exports with their
 * signatures — and the capabilities it would need to run, without running it.
 *
 * @since 0.1.0
 */
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as path from "node:path"
import type * as Capability from "../Capability.ts"
import type * as Component from "../Component.ts"
import { unversioned } from "../internal/witName.ts"
import * as ResourceLimits from "../ResourceLimits.ts"
import * as Host from "./host.ts"
import { defaultCacheDirectory, load } from "./load.ts"

/**
 * One imported interface or function, and what a host checks its calls against.
 *
 * @since 0.1.0
 * @category models
 */
export interface Import {
  readonly name: string
  readonly kind: "function" | "interface"
  readonly signature?: string | undefined
  /** Capability kinds calls to it are checked against; empty when ungated. */
  readonly capabilities: ReadonlyArray<Capability.Kind>
  /** Whether `run` implements it (otherwise its calls are refused). */
  readonly implemented: boolean
  /** An interface the component only takes types from: it calls nothing of it. */
  readonly typesOnly: boolean
}

/**
 * What `inspect` reports (also its `--json` output).
 *
 * @since 0.1.0
 * @category models
 */
export interface Report {
  readonly file: string
  readonly size: number
  readonly sha256: string
  readonly imports: ReadonlyArray<Import>
  readonly exports: ReadonlyArray<Component.WorldItem>
  /** Every capability kind the imports are gated by, with the `run` flag that grants it. */
  readonly capabilities: ReadonlyArray<{ readonly kind: Capability.Kind; readonly flag: string }>
}

/**
 * The report for a loaded component.
 *
 * @since 0.1.0
 * @category constructors
 */
export const describe = (file: string, component: Component.Component): Report => {
  // An interface the core modules call no function of (a types-only interface) needs nothing.
  const called = new Set(component.loaded.imports)
  const imports = component.world.imports.map((item): Import => {
    const needed = item.kind === "function" || called.has(unversioned(item.name))
    return {
      name: item.name,
      kind: item.kind,
      ...(item.signature === undefined ? {} : { signature: item.signature }),
      capabilities: !needed ? [] : item.kind === "interface" ? Host.capabilityOf(item.name) : ["Custom"],
      implemented: !needed || (item.kind === "interface" && Host.implemented(item.name)),
      typesOnly: !needed
    }
  })
  const kinds = Array.from(new Set(imports.flatMap((item) => item.capabilities)))
  return {
    file,
    size: component.size,
    sha256: component.hash,
    imports,
    exports: component.world.exports,
    capabilities: kinds.map((kind) => ({ kind, flag: Host.flagOf[kind] }))
  }
}

const itemLine = (item: { readonly name: string; readonly signature?: string | undefined }) =>
  item.signature === undefined ? item.name : `${item.name}: ${item.signature}`

/**
 * The report as text.
 *
 * @since 0.1.0
 * @category constructors
 */
export const format = (report: Report): string => {
  const lines = [`${path.basename(report.file)}  ${report.size} bytes  sha256 ${report.sha256}`, "", "imports:"]
  if (report.imports.length === 0) lines.push("  (none)")
  for (const item of report.imports) {
    const gate = item.typesOnly ? "types only" : item.capabilities.length === 0 ? "ungated" : item.capabilities.join(" | ")
    const note = item.implemented ? "" : "  [no host implementation in the CLI: calls are refused]"
    lines.push(`  ${itemLine(item)}  → ${gate}${note}`)
  }
  lines.push("", "exports:")
  if (report.exports.length === 0) lines.push("  (none)")
  for (const item of report.exports) lines.push(`  ${itemLine(item)}`)
  lines.push("", "capabilities needed:")
  if (report.capabilities.length === 0) lines.push("  none: it runs with no grants")
  for (const { flag, kind } of report.capabilities) lines.push(`  ${kind.padEnd(16)} ${flag}`)
  return lines.join("\n")
}

/**
 * `airssys-wasm inspect`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const command = Command.make("inspect", {
  component: Argument.String("component").pipe(Argument.withDescription("the component (.wasm) to describe")),
  json: Flag.Boolean("json").pipe(Flag.withDescription("print the report as JSON"), Flag.withDefault(false)),
  cacheDir: Flag.String("cache-dir").pipe(
    Flag.withMetavar("DIR"),
    Flag.withDescription("where transpiled components are cached (default: ~/.cache/airssys-wasm)"),
    Flag.optional
  )
}, (options) =>
  Effect.gen(function*() {
    // Any world, and no rewrite: describing a component does not run it.
    const component = yield* load(options.component, {
      entryPoints: [],
      limits: ResourceLimits.unlimited,
      cacheDirectory: Option.getOrElse(options.cacheDir, defaultCacheDirectory)
    })
    const report = describe(options.component, component)
    yield* Console.log(options.json ? JSON.stringify(report, null, 2) : format(report))
  })).pipe(
    Command.withDescription("Describe a component: its imports and exports, and the capabilities it needs to run.")
  )
