/**
 * An optional peer dependency the install left out, named with the command that adds it: used by
 * main.ts (before anything else loads) and by `run --observe`. Plain Node, no Effect: main.ts runs it
 * on a Node too old for the rest.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import * as Module from "node:module"
import * as path from "node:path"

/**
 * The package an `import()` failed to find (`ERR_MODULE_NOT_FOUND`), if that is why it failed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const missingPackage = (cause: unknown): string | undefined =>
  cause instanceof Error && "code" in cause && cause.code === "ERR_MODULE_NOT_FOUND"
    ? /Cannot find package '([^']+)'/.exec(cause.message)?.[1]
    : undefined

/**
 * `npm install <name>@<installed effect's version>`: Effect's packages are released in lockstep, so the
 * one matching the installed effect installs cleanly (no version when effect itself is missing).
 *
 * @since 0.1.0
 * @category constructors
 */
export const installCommand = (name: string): string => {
  const effect = Module.createRequire(import.meta.url).resolve.paths("effect")
    ?.map((dir) => path.join(dir, "effect", "package.json"))
    .find((file) => fs.existsSync(file))
  const version = name !== "effect" && effect !== undefined
    ? `@${(JSON.parse(fs.readFileSync(effect, "utf8")) as { version: string }).version}`
    : ""
  return `npm install ${name}${version}`
}
