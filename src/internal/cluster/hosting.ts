/**
 * What a spec needs from the runner that hosts it: the host interfaces the component imports that its
 * grants are for. A `FileRead` / `FileWrite` grant is for `wasi:filesystem/*`, a `Custom` grant for the
 * interface it names, `Storage`, `Messaging`, `NetworkOutbound` and `Environment` for the interfaces
 * that serve them; every cluster actor holds a `Storage` grant on its own id, so storage is needed
 * whenever it is imported. An interface the component imports without a grant for it gets a deny stub
 * on every runner alike, and one that no grant gates (logging, clocks, stdio) does not depend on
 * grants: neither is a need. A grant for something the component does not import needs nothing either.
 *
 * `deploy` checks the needs against the runners of the spec's group (`Groups.runners`), and a runner
 * against its own `Linker` before it activates an actor.
 *
 * @internal
 */
import type * as Capability from "../../Capability.ts"
import { unversioned } from "../witName.ts"
import type { Advert } from "./groups.ts"

// Which grants an interface serves, by the interface's (unversioned) name or its package prefix.
const gates: ReadonlyArray<readonly [prefix: string, kinds: ReadonlyArray<Capability.Kind>]> = [
  ["wasi:filesystem/", ["FileRead", "FileWrite"]],
  ["airssys:component/storage", ["Storage"]],
  ["airssys:component/messaging", ["Messaging"]],
  ["airssys:component/http", ["NetworkOutbound"]],
  ["wasi:http/", ["NetworkOutbound"]],
  ["wasi:sockets/", ["NetworkOutbound"]],
  ["wasi:cli/environment", ["Environment"]]
]

const gateOf = (iface: string) => gates.find(([prefix]) => iface === prefix || (prefix.endsWith("/") && iface.startsWith(prefix)))

const coversKind = (kind: Capability.Kind, iface: string): boolean => gateOf(iface)?.[1].includes(kind) ?? false

const covers = (grant: Capability.Capability, iface: string): boolean =>
  gateOf(iface) === undefined
    ? grant._tag === "Custom" && unversioned(grant.interface) === iface
    : coversKind(grant._tag, iface)

/**
 * Grants every cluster actor holds besides its spec's: a `Storage` grant on its own id (see
 * `ClusterEntity`), so a component that imports storage needs it wherever it runs.
 */
const implicit: ReadonlyArray<Capability.Kind> = ["Storage"]

/** The interfaces (unversioned, sorted) a cluster actor importing `imports` needs for its `capabilities`. */
export const needsOf = (
  imports: ReadonlyArray<{ readonly name: string; readonly kind: "function" | "interface" }>,
  capabilities: ReadonlyArray<Capability.Capability>
): ReadonlyArray<string> =>
  Array.from(
    new Set(
      imports
        .filter((item) => item.kind === "interface")
        .map((item) => unversioned(item.name))
        .filter((iface) => implicit.some((kind) => coversKind(kind, iface)) || capabilities.some((grant) => covers(grant, iface)))
    )
  ).sort()

/** What of `needs` a runner linking `interfaces` lacks. */
export const lacking = (needs: ReadonlyArray<string>, interfaces: ReadonlyArray<string>): ReadonlyArray<string> =>
  needs.filter((need) => !interfaces.includes(need))

/**
 * Why no runner of `group` can host a spec with `needs`, or `undefined` when one can: one that serves
 * the group and links every need. A spec that needs nothing fits any runner of its group, including
 * one not started yet. The message names the groups whose runners could host it.
 */
export const unsatisfied = (
  needs: ReadonlyArray<string>,
  group: string,
  runners: ReadonlyArray<Advert>
): string | undefined => {
  if (needs.length === 0) return undefined
  const fit = runners.filter((runner) => lacking(needs, runner.interfaces).length === 0)
  if (fit.some((runner) => runner.groups.includes(group))) return undefined
  // Where it could run instead: the groups of the runners that link everything it needs.
  const elsewhere = Array.from(new Set(fit.flatMap((runner) => runner.groups))).sort()
  const hint = elsewhere.length === 0
    ? "; no runner links them all"
    : `; runners of ${elsewhere.map((name) => JSON.stringify(name)).join(", ")} do`
  const serving = runners.filter((runner) => runner.groups.includes(group))
  if (serving.length === 0) {
    return `its grants need ${needs.join(", ")}, and no runner serves group ${JSON.stringify(group)}${hint}`
  }
  const why = serving.map((runner) => `${runner.address} lacks ${lacking(needs, runner.interfaces).join(", ")}`)
  return `its grants need ${needs.join(", ")}, and no runner of group ${JSON.stringify(group)} links them all (${why.join("; ")})${hint}`
}
