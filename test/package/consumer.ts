// A user's TypeScript against the installed package's declarations (test/Package.test.ts type-checks it
// with TypeScript 5.9 and 7, module nodenext and bundler, strict, skipLibCheck false, no DOM lib).
// Type-checked only, never run.
import { Effect, Layer, Schedule } from "effect"
import {
  Actor,
  Audit,
  Capability,
  Component,
  ComponentError,
  DeadLetters,
  Linker,
  Logging,
  ResourceLimits,
  Storage,
  Supervisor
} from "airssys-wasm"
import { Observer } from "airssys-wasm/observer"

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

export const program = Effect.gen(function*() {
  const component: Component.Component = yield* Component.fromFile("guests/echo.wasm", {
    limits: { ...ResourceLimits.defaults, fuel: 1_000_000 }
  })
  const exports: ReadonlyArray<string> = component.world.exports.map((item) => item.name)
  const grants = yield* Capability.decodeGrants([{ type: "Storage", namespace: "plugin-a" }])
  const instance = yield* Linker.instantiate(component, { id: "plugin-a", grants })
  const echoed: Uint8Array = yield* instance.process(text("hi"))

  const imports = yield* Linker.imports(component, { id: "worker", grants: Capability.emptyGrants })
  const actor = yield* Actor.make(component, { id: "worker", imports })
  yield* Supervisor.start({ id: "root", strategy: "OneForOne", backoff: Schedule.spaced("10 millis"), children: [Actor.child(actor)] })
  const reply = yield* actor.request(text("ping"))
  const letters = yield* DeadLetters.DeadLetters.use((store) => store.letters)
  const events: ReadonlyArray<Audit.AuditEvent> = yield* Audit.events
  return { exports, echoed, reply, letters: letters.length, events: events.length }
}).pipe(
  Effect.catchTag("ComponentLoadError", (error: ComponentError.ComponentLoadError) => Effect.succeed(error.reason)),
  Effect.scoped
)

export const Host = Linker.layer([Logging.hostInterface, Storage.hostInterface]).pipe(
  Layer.provideMerge(Layer.mergeAll(Logging.layerMemory, Storage.layerMemory(), Audit.layerMemory({ capacity: 100 })))
)

export const main: Promise<unknown> = Effect.runPromise(program.pipe(Effect.provide(Host)))

// The declarations are real types, not `any`: a wrong use is an error (unused, this directive would be one).
// @ts-expect-error a component's hash is a string
export const wrong: number = Component.hashOf(new Uint8Array(8))

// The observer's own entry point: its layer over the services it shows, and its service's URL.
export const Observed = Observer.layer({ port: 0, token: "secret" }).pipe(Layer.provideMerge(Host))
export const url: Effect.Effect<string, never, Observer.Observer> = Effect.map(Observer.Observer, (observer) => observer.url)
