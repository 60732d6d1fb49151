/**
 * An `Instance` whose guest runs in its own worker thread (`isolation: "worker"`). Every call is a
 * message to the worker and a reply, under the component's per-call timeout (from `Clock`): a guest that
 * does not answer in time — looping, with or without fuel — is stopped by terminating its thread, and the
 * call fails with `LimitExceeded(timeout)`. The instance is poisoned then, like after a trap; a restart
 * is a new worker.
 *
 * @internal
 */
import { Deferred, Duration, Effect, type Scope } from "effect"
import { Worker } from "node:worker_threads"
import { type CallError, GuestError, GuestExit, InstancePoisoned, LimitExceeded, Trap, WasmMemoryExhausted } from "../componentError.ts"
import { type HostImports, makeBinding } from "../host/hostBridge.ts"
import type { Component } from "../load/component.ts"
import type * as Abi from "./canonicalAbi.ts"
import { type InstanceInternal, type Message, reportOnce, TypeId } from "./instance.ts"
import type { Call, Init, Reply } from "./instanceWorker.ts"

// The worker's module sits beside this one: `.ts` in the repository, `.js` in the built package.
const moduleExtension = import.meta.url.slice(import.meta.url.lastIndexOf("."))

type Resume = (effect: Effect.Effect<unknown, CallError>) => void

interface Pending {
  readonly name: string
  readonly resume: Resume
}

export const makeIsolated = <R>(
  component: Component,
  imports: HostImports<R>,
  /** Told of the instance's first trap or limit kill (as `instance.ts`'s `make`'s `onPoisoned`: the audit). */
  onPoisoned?: (error: Trap | LimitExceeded) => void
): Effect.Effect<InstanceInternal, Trap | LimitExceeded | WasmMemoryExhausted, Scope.Scope | R> =>
  Effect.gen(function*() {
    const context = yield* Effect.context<R>()
    // Only `logging.log` crosses back from the worker, as a message; it runs here like any host call.
    const binding = makeBinding(component.loaded.imports, component.loaded.suspending)
    binding.bind(imports, context)
    const logging = (binding.imports as Record<string, Record<string, ((...args: Array<unknown>) => unknown) | undefined>>)[
      "airssys:component/logging"
    ]
    const init: Init = {
      glue: component.loaded.glue,
      key: component.hash,
      modules: [...component.loaded.modules],
      imports: component.loaded.imports,
      fuel: component.limits.fuel,
      instantiateFuel: component.limits.instantiateFuel
    }
    const worker = new Worker(new URL(`./instanceWorker${moduleExtension}`, import.meta.url), { workerData: init })
    const pending = new Map<number, Pending>()
    let nextId = 0
    let poison: string | undefined
    let directCalls: ReadonlyArray<string> = []

    const trap = (fn: string, message: string) => new Trap({ componentHash: component.hash, function: fn, message })
    const report = reportOnce(onPoisoned)
    const failAll = (message: string) => {
      poison ??= message
      for (const { name, resume } of pending.values()) resume(Effect.fail(trap(name, message)))
      pending.clear()
    }

    const timeoutMillis = Duration.toMillis(component.limits.timeout)
    const instantiateLimit = (limit: "fuel" | "timeout") =>
      new LimitExceeded({
        limit,
        componentHash: component.hash,
        phase: "instantiate",
        allowed: limit === "fuel" ? component.limits.instantiateFuel : timeoutMillis
      })
    // The worker says when its guest's start code begins (`instantiating`), and how it ended.
    const instantiating = Deferred.makeUnsafe<void>()
    const started = Deferred.makeUnsafe<ReadonlyArray<string>, Trap | LimitExceeded | WasmMemoryExhausted>()
    const resume = (outcome: Effect.Effect<ReadonlyArray<string>, Trap | LimitExceeded | WasmMemoryExhausted>) => {
      Deferred.doneUnsafe(instantiating, Effect.void)
      Deferred.doneUnsafe(started, outcome)
    }
    {
      worker.on("message", (reply: Reply) => {
        switch (reply.type) {
          case "instantiating":
            Deferred.doneUnsafe(instantiating, Effect.void)
            return
          case "ready":
            return resume(Effect.succeed(reply.directCalls))
          case "failed":
            return resume(Effect.fail(
              reply.stopped !== undefined
                ? instantiateLimit(reply.stopped)
                : reply.exhausted === true
                ? new WasmMemoryExhausted({ componentHash: component.hash, function: "instantiate", cause: reply.message })
                : trap("instantiate", reply.message)
            ))
          case "log":
            try {
              logging?.log?.(reply.level, reply.message)
            } catch {
              // A failing logger must not take the guest down from another thread.
            }
            return
          case "result": {
            const waiting = pending.get(reply.id)
            pending.delete(reply.id)
            if (waiting === undefined) return
            const done = waiting.resume
            if (reply.ok) return done(Effect.succeed(reply.value))
            const fn = waiting.name
            if (reply.failure._tag === "GuestErr") return done(Effect.fail(new GuestError({ function: fn, payload: reply.failure.payload })))
            if (reply.failure._tag === "Exit") {
              poison = `exited with code ${reply.failure.code}`
              return done(Effect.fail(new GuestExit({ componentHash: component.hash, function: fn, code: reply.failure.code })))
            }
            poison = reply.failure.message
            if (reply.failure._tag === "Exhausted") {
              return done(Effect.fail(new WasmMemoryExhausted({ componentHash: component.hash, function: fn, cause: reply.failure.message })))
            }
            if (reply.fuelExhausted) {
              return done(Effect.fail(
                report(new LimitExceeded({ limit: "fuel", componentHash: component.hash, function: fn, allowed: component.limits.fuel }))
              ))
            }
            return done(Effect.fail(report(trap(fn, reply.failure.message))))
          }
        }
      })
      worker.on("error", (error) => {
        resume(Effect.fail(trap("instantiate", error.message)))
        failAll(`worker failed: ${error.message}`)
      })
      worker.on("exit", (code) => {
        resume(Effect.fail(trap("instantiate", `worker exited (${code})`)))
        failAll(`worker exited (${code})`)
      })
    }
    yield* Effect.addFinalizer(() => Effect.promise(() => worker.terminate()))
    // The start code runs under the call timeout too, counted from when it begins (starting the worker
    // and compiling is the host's time, not the guest's): a worker not ready in time is terminated (with
    // or without fuel, it may be looping in a start function).
    yield* Deferred.await(instantiating)
    const starting = Deferred.await(started)
    const ready = yield* (Duration.isFinite(component.limits.timeout)
      ? Effect.timeoutOrElse(starting, {
        duration: component.limits.timeout,
        orElse: () =>
          Effect.suspend(() => {
            poison = `not ready after ${timeoutMillis} ms; worker terminated`
            void worker.terminate()
            return Effect.fail(instantiateLimit("timeout"))
          })
      })
      : starting)
    directCalls = ready

    const call = <A>(name: string, fn: Call["fn"], arg: unknown): Effect.Effect<A, CallError> =>
      Effect.suspend(() => {
        if (poison !== undefined) {
          return Effect.fail(new InstancePoisoned({ componentHash: component.hash, function: name, cause: poison }))
        }
        const id = ++nextId
        const reply = Effect.callback<unknown, CallError>((resume) => {
          pending.set(id, { name, resume })
          worker.postMessage({ id, fn, arg } as Call)
          return Effect.sync(() => pending.delete(id))
        }) as Effect.Effect<A, CallError>
        if (!Duration.isFinite(component.limits.timeout)) return reply
        return Effect.timeoutOrElse(reply, {
          duration: component.limits.timeout,
          orElse: () =>
            Effect.suspend(() => {
              poison = `timed out after ${timeoutMillis} ms; worker terminated`
              void worker.terminate()
              return Effect.fail(
                report(new LimitExceeded({ limit: "timeout", componentHash: component.hash, function: name, allowed: timeoutMillis }))
              )
            })
        })
      })

    const handlerName = "airssys:component/handler#handle-message"
    const handleMessage = (message: Message) =>
      call<Uint8Array | undefined>(handlerName, "handle", {
        sender: message.sender,
        topic: message.topic,
        correlationId: message.correlationId,
        payload: message.payload
      } satisfies Abi.MessageFields)
    const hasLifecycle = component.world.exports.some((item) => item.name.startsWith("airssys:component/lifecycle"))

    const instance: InstanceInternal = {
      [TypeId]: TypeId,
      component,
      isolated: true,
      process: (input) => call("process", "process", input),
      handleMessage,
      invokeHandler: (message) => Effect.runPromise(Effect.exit(handleMessage(message))),
      call: (name, args) =>
        name === "process"
          ? call(name, "process", args[0])
          : name.endsWith("#handle-message")
          ? call(name, "handle", args[0])
          : name.endsWith("#init")
          ? call(name, "init", args[0])
          : name.endsWith("#shutdown")
          ? call(name, "shutdown", undefined)
          : Effect.fail(trap(name, `${name} cannot be called on a worker-isolated instance`)),
      lifecycle: hasLifecycle
        ? {
          init: (config) => call<void>("airssys:component/lifecycle#init", "init", config),
          shutdown: () => call<void>("airssys:component/lifecycle#shutdown", "shutdown", undefined)
        }
        : undefined,
      directCalls,
      get poisoned() {
        return poison !== undefined
      },
      close() {
        poison ??= "instance closed"
        void worker.terminate()
      }
    }
    return instance
  })

