/**
 * The program of the tutorial (docs/tutorial.md): load the guest built from hello.js, call it, run it
 * as a supervised actor, and watch its capabilities at work. Every code block of the tutorial is a
 * region of this file or of hello.js, hello.wit and build.ts beside it.
 *
 * Run from the repository root:
 *
 *   node_modules/.bin/node docs/tutorial/build.ts            # once: hello.js → build/tutorial/hello.wasm
 *   node_modules/.bin/node docs/tutorial/first-component.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import * as path from "node:path"
import { Actor, Audit, Capability, Component, DeadLetters, Linker, Logging, Storage, Supervisor } from "airssys-wasm"

const root = path.resolve(import.meta.dirname, "..", "..")
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const decode = (bytes: Uint8Array | undefined): string => new TextDecoder().decode(bytes)

// #region load
const load = Component.fromFile(path.join(root, "build", "tutorial", "hello.wasm"), {
  // The first load transpiles the guest and meters it for fuel (seconds for a 12 MB guest);
  // a cache directory keeps that work for the next run.
  cacheDirectory: path.join(root, "build", "tutorial", "cache")
})

const describe = Effect.gen(function*() {
  const component = yield* load
  yield* Console.log(`hello.wasm: ${component.size} bytes, sha-256 ${component.hash.slice(0, 12)}…`)
  for (const item of component.world.imports) yield* Console.log(`  imports ${item.name}`)
  for (const item of component.world.exports) yield* Console.log(`  exports ${item.name}`)
})
// #endregion load

// #region host
// The host interfaces this process offers, each backed by a Layer; what each component may do with
// them is decided by its grants.
const Host = Linker.layer([Logging.hostInterface, Storage.hostInterface]).pipe(
  Layer.provideMerge(Layer.mergeAll(
    Logging.layer,
    Storage.layer({ filename: path.join(root, "build", "tutorial", "state.db") }),
    Audit.layerMemory({ capacity: 100 })
  ))
)

// Capabilities are data: this is what a config file would hold.
const grants = Capability.decodeGrants([{ type: "Storage", namespace: "hello" }])
// #endregion host

// #region call
const callIt = Effect.gen(function*() {
  const component = yield* load
  const instance = yield* Linker.instantiate(component, { id: "hello", grants: yield* grants })
  const reply = yield* instance.handleMessage({ sender: "tutorial", payload: text("Ada") })
  yield* Console.log(decode(reply))
})
// #endregion call

// #region failures
const failures = Effect.gen(function*() {
  const component = yield* load
  const instance = yield* Linker.instantiate(component, { id: "hello", grants: yield* grants })
  const show = (payload: string) =>
    instance.handleMessage({ sender: "tutorial", payload: text(payload) }).pipe(
      Effect.match({
        onSuccess: (reply) => `${JSON.stringify(payload)} → ${decode(reply)}`,
        onFailure: (error) => `${JSON.stringify(payload)} → ${error._tag}: ${error.message}`
      }),
      Effect.flatMap(Console.log)
    )
  yield* show("") //        the guest's own err: a GuestError, the instance stays usable
  yield* show("Grace")
  yield* show("crash") //   a trap: the instance is poisoned
  yield* show("Grace") //   so this call never reaches the guest
})
// #endregion failures

// #region actor
const asActor = Effect.gen(function*() {
  const component = yield* load
  const imports = yield* Linker.imports(component, { id: "hello", grants: yield* grants })
  const actor = yield* Actor.make(component, { id: "hello", imports })
  const supervisor = yield* Supervisor.start({ id: "root", children: [Actor.child(actor)] })

  for (const name of ["Ada", "crash", "Grace"]) yield* actor.send(text(name))
  const reply = yield* actor.request(text("Ada"))
  yield* Console.log(`reply: ${decode(reply)}`)

  const letters = yield* DeadLetters.DeadLetters.use((store) => store.letters)
  for (const letter of letters) {
    yield* Console.log(`dead letter: ${decode(letter.message.payload)} (${letter.reason}: ${letter.error})`)
  }
  const stats = yield* actor.stats
  yield* Console.log(`handled ${stats.handled}, traps ${stats.traps}, incarnations ${stats.incarnations}`)
  const [child] = (yield* supervisor.snapshot).children
  yield* Console.log(`supervisor ${supervisor.id}: child ${child?.id} restarted ${child?.ownRestarts} time(s)`)
})
// #endregion actor

// #region denied
const denied = Effect.gen(function*() {
  const component = yield* load
  // No grants at all: the guest imports storage but holds no Storage grant, so it does not link.
  const unlinked = yield* Effect.flip(Linker.instantiate(component, { id: "stranger", grants: Capability.emptyGrants }))
  yield* Console.log(`${unlinked._tag}: ${unlinked.message}`)

  // A grant for another namespace: it links, and every call outside the grant is an err for the guest.
  const elsewhere = Capability.makeGrants([new Capability.Storage({ namespace: "stranger" })])
  const instance = yield* Linker.instantiate(component, { id: "stranger", grants: elsewhere })
  const refused = yield* Effect.flip(instance.handleMessage({ sender: "tutorial", payload: text("Ada") }))
  yield* Console.log(`${refused._tag}: ${refused.message}`)

  for (const event of yield* Audit.events) {
    if (event.decision === "denied") {
      yield* Console.log(`audit #${event.sequence}: ${event.component} ${event.capability} ${event.resource} denied`)
    }
  }
})
// #endregion denied

// #region main
const step = <E, R>(title: string, effect: Effect.Effect<void, E, R>) =>
  Effect.andThen(Console.log(`\n== ${title}`), effect)

const program = Effect.gen(function*() {
  yield* step("1. load", describe)
  yield* step("2. call", callIt)
  yield* step("3. errors and traps", failures)
  yield* step("4. as a supervised actor", asActor)
  yield* step("5. capabilities", denied)
})

NodeRuntime.runMain(program.pipe(Effect.scoped, Effect.provide(Host)))
// #endregion main
