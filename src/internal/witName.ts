/**
 * WIT names as jco spells them: interfaces keyed without their version, functions in camelCase. A leaf:
 * the loader, the host bridge, the Linker and `Instance` all translate names, and must agree.
 *
 * @internal
 */

/** `airssys:component/logging@0.1.0` → `airssys:component/logging`: jco keys imports without versions. */
export const unversioned = (name: string): string => {
  const at = name.lastIndexOf("@")
  return at > 0 ? name.slice(0, at) : name
}

/** `list-keys` → `listKeys`: the name jco gives a WIT function. */
export const camelCase = (name: string): string => name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())

/** `listKeys` → `list-keys`: the WIT name of a function jco named. */
export const kebabCase = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
