/**
 * `wasi:sockets` for guests: linked so that components built with it link (componentize-js's default
 * build imports `network`, `instance-network`, `tcp` and `tcp-create-socket`), and refusing every
 * socket. Raw sockets would let a guest reach any host and port past the `NetworkOutbound` checks
 * that outbound HTTP gets on every hop, so there are none: creating a TCP or UDP socket and resolving
 * a name answer the guest `err(access-denied)` — a WASI error code its runtime handles like any
 * refused connection — and each attempt is audited `denied` under `NetworkOutbound`. Whatever the
 * grants say: a guest that needs the network gets it through outbound HTTP.
 *
 * No service and no layers: there is nothing to configure. Needs `Audit` (the Linker has it).
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import * as Audit from "../Audit.ts"
import { HostRefusal } from "../ComponentError.ts"
import { resource } from "../internal/host/hostBridge.ts"
import * as Linker from "../Linker.ts"

/**
 * The `wasi:sockets` interfaces this module links.
 *
 * @since 0.1.0
 * @category models
 */
export const interfaceNames = {
  network: "wasi:sockets/network",
  instanceNetwork: "wasi:sockets/instance-network",
  tcp: "wasi:sockets/tcp",
  tcpCreateSocket: "wasi:sockets/tcp-create-socket",
  udp: "wasi:sockets/udp",
  udpCreateSocket: "wasi:sockets/udp-create-socket",
  ipNameLookup: "wasi:sockets/ip-name-lookup"
} as const

// Handles only `instance-network` hands out; the others exist for the guest's glue to check against.
const network = resource<undefined>("network", {})
const unissued = (name: string) => resource<undefined>(name, {})

const refused = new HostRefusal({ payload: "access-denied" })

const refuse = (what: string) =>
  Effect.gen(function*() {
    const audit = yield* Audit.Audit
    return (target: Linker.Target, fn: string, resource: (args: ReadonlyArray<unknown>) => string) => ({
      run: (...args: ReadonlyArray<unknown>) =>
        Effect.flatMap(
          audit.record({
            kind: "capability",
            component: target.componentId,
            capability: "NetworkOutbound",
            resource: resource(args),
            decision: "denied",
            detail: `${target.interface}#${fn}: ${what} are not available to guests (outbound HTTP is)`
          }),
          () => Effect.fail(refused)
        )
    })
  })

const addressFamily = (family: unknown): string => family === "ipv6" ? "ipv6" : "ipv4"

/**
 * `wasi:sockets/*`: every socket and name lookup refused with `access-denied`, audited.
 *
 * @since 0.1.0
 * @category models
 */
export const hostInterfaces: ReadonlyArray<Linker.HostInterface<Audit.Audit>> = [
  Linker.hostInterface({
    name: interfaceNames.network,
    resources: { Network: network },
    make: Effect.succeed(() => ({ networkErrorCode: { run: () => Effect.succeed(undefined) } }))
  }),
  Linker.hostInterface({
    name: interfaceNames.instanceNetwork,
    make: Effect.succeed(() => ({ instanceNetwork: { run: () => network.make(undefined) } }))
  }),
  Linker.hostInterface({ name: interfaceNames.tcp, resources: { TcpSocket: unissued("tcp-socket") }, make: Effect.succeed(() => ({})) }),
  Linker.hostInterface({
    name: interfaceNames.udp,
    resources: {
      UdpSocket: unissued("udp-socket"),
      IncomingDatagramStream: unissued("incoming-datagram-stream"),
      OutgoingDatagramStream: unissued("outgoing-datagram-stream")
    },
    make: Effect.succeed(() => ({}))
  }),
  Linker.hostInterface({
    name: interfaceNames.tcpCreateSocket,
    make: Effect.map(refuse("raw sockets"), (deny) => (target) => ({
      createTcpSocket: deny(target, "create-tcp-socket", ([family]) => `tcp:${addressFamily(family)}`)
    }))
  }),
  Linker.hostInterface({
    name: interfaceNames.udpCreateSocket,
    make: Effect.map(refuse("raw sockets"), (deny) => (target) => ({
      createUdpSocket: deny(target, "create-udp-socket", ([family]) => `udp:${addressFamily(family)}`)
    }))
  }),
  Linker.hostInterface({
    name: interfaceNames.ipNameLookup,
    resources: { ResolveAddressStream: unissued("resolve-address-stream") },
    make: Effect.map(refuse("name lookups"), (deny) => (target) => ({
      resolveAddresses: deny(target, "resolve-addresses", ([, name]) => `dns:${String(name)}`)
    }))
  })
]
