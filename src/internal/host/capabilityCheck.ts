/**
 * One request checked against compiled grants: the decision, and the resource an audit event records.
 * Here rather than in `Capability` so that the Linker's machinery can check a call without importing
 * the public module; `Capability` re-exports these with their documentation.
 *
 * @internal
 */
import * as Paths from "./capabilityPath.ts"
import * as Ip from "./ipAddress.ts"
import * as Matching from "./capabilityMatch.ts"

/** One thing a guest asked for (documented as `Capability.Request`). */
export type Request =
  | { readonly _tag: "FileRead"; readonly path: string }
  | { readonly _tag: "FileWrite"; readonly path: string }
  | { readonly _tag: "NetworkOutbound"; readonly host: string; readonly port: number }
  | { readonly _tag: "Messaging"; readonly target: string }
  | { readonly _tag: "Storage"; readonly namespace: string }
  | { readonly _tag: "Custom"; readonly interface: string; readonly scope: string }

/** The matchers a grant set compiles into (see `Capability.makeGrants`). */
export interface Compiled {
  readonly fileRead: Matching.PathMatcher
  readonly fileWrite: Matching.PathMatcher
  readonly network: Matching.HostMatcher
  readonly messaging: Matching.NameMatcher
  readonly storage: Matching.NameMatcher
  readonly custom: Matching.InterfaceMatcher
}

/** What the checks read of `Capability.Grants`. */
export interface CompiledGrants {
  readonly compiled: Compiled
}

export const allowsFileRead = (grants: CompiledGrants, path: string): boolean =>
  Paths.isCanonical(path) && Matching.matchesPath(grants.compiled.fileRead, path)

export const allowsFileWrite = (grants: CompiledGrants, path: string): boolean =>
  Paths.isCanonical(path) && Matching.matchesPath(grants.compiled.fileWrite, path)

export const allowsNetwork = (grants: CompiledGrants, host: string, port: number): boolean =>
  Matching.matchesHost(grants.compiled.network, host, port)

export const allowsAddress = (grants: CompiledGrants, address: string, port: number): boolean => {
  const parsed = Ip.parse(address)
  return parsed !== undefined && Matching.matchesAddressGrant(grants.compiled.network, parsed, port)
}

export const allowsMessaging = (grants: CompiledGrants, target: string): boolean =>
  Matching.matchesName(grants.compiled.messaging, target)

export const allowsStorage = (grants: CompiledGrants, namespace: string): boolean =>
  Matching.matchesName(grants.compiled.storage, namespace)

export const allowsCustom = (grants: CompiledGrants, iface: string, scope: string): boolean =>
  Matching.matchesInterface(grants.compiled.custom, iface, scope)

// Each request kind answered by its `allows*` check (a switch: this is on every uncached decision).
const allows = (grants: CompiledGrants, request: Request): boolean => {
  switch (request._tag) {
    case "FileRead": return allowsFileRead(grants, request.path)
    case "FileWrite": return allowsFileWrite(grants, request.path)
    case "NetworkOutbound": return allowsNetwork(grants, request.host, request.port)
    case "Messaging": return allowsMessaging(grants, request.target)
    case "Storage": return allowsStorage(grants, request.namespace)
    case "Custom": return allowsCustom(grants, request.interface, request.scope)
  }
  // A kind with no check (a request built without the types) is denied, like everything else.
  return false
}

export const check = (grants: CompiledGrants, request: Request): "granted" | "denied" =>
  allows(grants, request) ? "granted" : "denied"

export const resourceOf = (request: Request): string => {
  switch (request._tag) {
    case "FileRead":
    case "FileWrite":
      return request.path
    case "NetworkOutbound":
      return `${request.host}:${request.port}`
    case "Messaging":
      return request.target
    case "Storage":
      return request.namespace
    case "Custom":
      return `${request.interface}#${request.scope}`
  }
}

/**
 * What a component is told when a request of its is denied: the guest's `err` for a denied host call,
 * and `Linker.authorize`'s `CapabilityDenied`.
 */
export const deniedMessage = (componentId: string, capability: string, resource: string): string =>
  `capability denied: ${componentId} holds no ${capability} grant for ${resource}`
