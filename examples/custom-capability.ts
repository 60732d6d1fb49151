/**
 * A custom capability: a game defines its own host interface, implements it with a Layer, and grants
 * it to mods per weapon.
 *
 * The interface is `game:api/weapons` (guests/wit/game.wit):
 *
 *   fire: func(weapon: string) -> result<u32, string>;
 *
 * and the mod is guests/cap-game.wat, a component whose `process(weapon)` fires that weapon. A mod
 * granted `Custom({ interface: "game:api/weapons", scope: "laser" })` may fire the laser and nothing
 * else; a mod without a grant for the interface does not link at all. Every decision is audited.
 *
 * Run: node scripts/build-guests.ts cap-game && node examples/custom-capability.ts
 */
import { Console, Context, Effect, Layer } from "effect"
import * as path from "node:path"
import * as Audit from "../src/Audit.ts"
import * as Capability from "../src/Capability.ts"
import * as Component from "../src/Component.ts"
import { HostRefusal } from "../src/ComponentError.ts"
import * as Linker from "../src/Linker.ts"

// 1. The host side of the interface: an ordinary Effect service, with its Layer.
class Weapons extends Context.Service<Weapons, {
  readonly fire: (player: string, weapon: string) => Effect.Effect<number, HostRefusal>
}>()("game/Weapons") {
  static readonly layer = Layer.sync(Weapons, () => {
    const damage: Record<string, number> = { laser: 30, railgun: 90, nuke: 9000 }
    const ammo = new Map<string, number>()
    return Weapons.of({
      fire: (player, weapon) =>
        Effect.suspend(() => {
          const dealt = damage[weapon]
          if (dealt === undefined) return Effect.fail(new HostRefusal({ payload: `no such weapon: ${weapon}` }))
          const left = ammo.get(player) ?? 3
          if (left === 0) return Effect.fail(new HostRefusal({ payload: `${player} is out of ammo` }))
          ammo.set(player, left - 1)
          return Effect.succeed(dealt)
        })
    })
  })
}

// 2. How the Linker links it: gated by Custom grants, one scope per weapon.
const weapons = Linker.custom({
  interface: "game:api/weapons",
  scope: (_fn, [weapon]) => String(weapon),
  make: Effect.gen(function*() {
    const service = yield* Weapons
    return (componentId: string) => ({ fire: (weapon: string) => service.fire(componentId, weapon) })
  })
})

// 3. The host: the Linker over the interface, its Layer, and an audit log.
const HostLive = Linker.layer([weapons]).pipe(
  Layer.provideMerge(Layer.merge(Weapons.layer, Audit.layerMemory({ capacity: 100 })))
)

const program = Effect.gen(function*() {
  const component = yield* Component.fromFile(path.resolve(import.meta.dirname, "..", "build", "guests", "cap-game.wasm"))

  const sniper = yield* Linker.instantiate(component, {
    id: "sniper-mod",
    grants: Capability.makeGrants([
      new Capability.Custom({ interface: "game:api/weapons", scope: "laser" }),
      new Capability.Custom({ interface: "game:api/weapons", scope: "railgun" })
    ])
  })
  for (const weapon of ["laser", "railgun", "nuke"]) {
    const outcome = yield* sniper.process(new TextEncoder().encode(weapon)).pipe(
      Effect.map((bytes) => `hit for ${new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true)}`),
      Effect.catch((error) => Effect.succeed(`refused: ${error._tag === "GuestError" ? String(error.payload) : error.message}`))
    )
    yield* Console.log(`sniper-mod fires ${weapon}: ${outcome}`)
  }

  // A mod with no grant for the interface does not link.
  const rogue = yield* Effect.flip(Linker.instantiate(component, { id: "rogue-mod", grants: Capability.emptyGrants }))
  yield* Console.log(`rogue-mod: ${rogue._tag}: ${rogue.message}`)

  yield* Console.log("\naudit log:")
  for (const event of yield* Audit.events) {
    yield* Console.log(`  #${event.sequence} ${event.component} ${event.capability} ${event.resource} ${event.decision}`)
  }
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(HostLive))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
