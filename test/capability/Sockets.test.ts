/**
 * `wasi:sockets`: linked (a component importing it links without deny stubs) and refusing every socket
 * with the WASI error code `access-denied`, audited — from a real guest (`guests/deny-shapes.wat`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Audit from "../../src/Audit.ts"
import * as Capability from "../../src/Capability.ts"
import * as CliExit from "../../src/capability/CliExit.ts"
import * as Environment from "../../src/capability/Environment.ts"
import * as Sockets from "../../src/capability/Sockets.ts"
import * as Component from "../../src/Component.ts"
import * as Linker from "../../src/Linker.ts"
import { guestPath, text } from "../fixtures.ts"

const host = Linker.layer([...Sockets.hostInterfaces, ...Environment.hostInterfaces, CliExit.hostInterface]).pipe(
  Layer.provideMerge(Layer.mergeAll(Environment.layer, Audit.layerMemory({ capacity: 100 })))
)

describe("Sockets", () => {
  it.effect("create-tcp-socket - err(access-denied) for the guest, even with a NetworkOutbound grant; audited denied; the instance keeps serving", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("deny-shapes"))
      const instance = yield* Linker.instantiate(component, {
        id: "net",
        grants: Capability.makeGrants([new Capability.NetworkOutbound({ host: "*" })])
      })
      const answer = yield* instance.process(text("s"))
      // result tag 1 (err), error-code case 1 (access-denied)
      assert.deepStrictEqual([answer[0], new DataView(answer.buffer, answer.byteOffset).getUint32(4, true)], [1, 1])
      assert.isFalse(instance.poisoned)
      const denied = (yield* Audit.events).filter((event) => event.decision === "denied")
      assert.deepStrictEqual(
        denied.map((event) => [event.capability, event.resource, event.detail]),
        [["NetworkOutbound", "tcp:ipv4", "wasi:sockets/tcp-create-socket@0.2.12#create-tcp-socket: raw sockets are not available to guests (outbound HTTP is)"]]
      )
      assert.strictEqual((yield* instance.process(text("e"))).byteLength, 0)
    }).pipe(Effect.provide(host)))
})
