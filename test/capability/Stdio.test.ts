/**
 * `wasi:cli/stdout` (and stderr, stdin) from a real guest (`guests/fs-probe.wat`, which prints with
 * `get-stdout` + `output-stream.blocking-write-and-flush`): lines into the logger, tagged with the
 * component id, cut at `maxLineLength`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Layer } from "effect"
import * as Audit from "../../src/Audit.ts"
import * as Filesystem from "../../src/capability/Filesystem.ts"
import * as Stdio from "../../src/capability/Stdio.ts"
import * as Capability from "../../src/Capability.ts"
import * as Component from "../../src/Component.ts"
import * as WasiIo from "../../src/internal/host/wasiIo.ts"
import * as Linker from "../../src/Linker.ts"
import { logCapture, guestPath, text } from "../fixtures.ts"

const host = <S = never>(stdio: Layer.Layer<Stdio.Stdio | S>) =>
  Linker.layer([...Filesystem.hostInterfaces, ...Stdio.hostInterfaces]).pipe(
    Layer.provideMerge(Layer.mergeAll(Filesystem.layerDeny, stdio, Audit.layerMemory({ capacity: 100 })))
  )

const encoder = new TextEncoder()

/**
 * A monotonic clock for the componentize-js guest (it reads one on its first call), from Effect's
 * `Clock`. Local to this test: the library's clocks are their own module.
 */
const monotonicClock = Linker.hostInterface({
  name: "wasi:clocks/monotonic-clock",
  make: Effect.succeed(() => ({
    now: { run: () => Clock.currentTimeNanos },
    resolution: { run: () => Effect.succeed(1n) },
    subscribeInstant: { run: () => WasiIo.makePollable(WasiIo.alwaysReady) },
    subscribeDuration: { run: () => WasiIo.makePollable(WasiIo.alwaysReady) }
  }))
})

describe("Stdio", () => {
  it.effect("stdout - a guest's lines, per component, split on newlines; a flush ends a partial line", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("fs-probe"))
      const a = yield* Linker.instantiate(component, { id: "plugin-a", grants: Capability.emptyGrants })
      const b = yield* Linker.instantiate(component, { id: "plugin-b", grants: Capability.emptyGrants })
      yield* a.process(text("print hello\n"))
      yield* b.process(text("print one\ntwo\n"))
      yield* a.process(text("print no newline"))
      yield* a.process(text("print h\u00e9llo w\u00f6rld\n"))
      assert.deepStrictEqual(yield* Stdio.lines, [
        { component: "plugin-a", stream: "stdout", text: "hello" },
        { component: "plugin-b", stream: "stdout", text: "one" },
        { component: "plugin-b", stream: "stdout", text: "two" },
        { component: "plugin-a", stream: "stdout", text: "no newline" },
        { component: "plugin-a", stream: "stdout", text: "h\u00e9llo w\u00f6rld" }
      ])
      assert.isFalse(a.poisoned)
    }).pipe(Effect.provide(host(Stdio.layerMemory))))

  it.effect("stdout - a line past maxLineLength is cut and marked; the rest of it is dropped", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("fs-probe"))
      const flood = yield* Linker.instantiate(component, { id: "flood", grants: Capability.emptyGrants })
      yield* flood.process(text(`print ${"x".repeat(Stdio.maxLineLength * 3)}\nafter\n`))
      const lines = yield* Stdio.lines
      assert.strictEqual(lines.length, 2)
      assert.strictEqual(lines[0]!.text, `${"x".repeat(Stdio.maxLineLength)}…`)
      assert.strictEqual(lines[1]!.text, "after")
    }).pipe(Effect.provide(host(Stdio.layerMemory))))

  it.effect("layer - lines go to the Effect logger at Info, annotated with component and stream", () =>
    Effect.gen(function*() {
      const { logged, layer: captureLogs } = logCapture()
      yield* Effect.gen(function*() {
        const component = yield* Component.fromFile(guestPath("fs-probe"))
        const instance = yield* Linker.instantiate(component, { id: "plugin-out", grants: Capability.emptyGrants })
        yield* instance.process(text("print to the logger\n"))
      }).pipe(Effect.provide(host(Stdio.layer)), Effect.provide(captureLogs))
      assert.deepStrictEqual(logged, [{
        message: ["to the logger"],
        level: "Info",
        annotations: { component: "plugin-out", stream: "stdout" }
      }])
    }))

  it.effect("stderr and stdin - stderr lines are tagged stderr; stdin is empty (closed)", () =>
    Effect.gen(function*() {
      const target = (iface: string) => ({ componentId: "plugin-err", grants: Capability.emptyGrants, interface: iface })
      const stderr = (yield* Stdio.stderrInterface.make)(target("wasi:cli/stderr@0.2.12"))
      const stream = (yield* (stderr["getStderr"]!.run as () => Effect.Effect<{
        blockingWriteAndFlush: (bytes: Uint8Array) => unknown
      }>)())
      stream.blockingWriteAndFlush(encoder.encode("oops\n"))
      assert.deepStrictEqual(yield* Stdio.lines, [{ component: "plugin-err", stream: "stderr", text: "oops" }])

      const stdin = (yield* Stdio.stdinInterface.make)(target("wasi:cli/stdin@0.2.12"))
      const input = (yield* (stdin["getStdin"]!.run as () => Effect.Effect<{ read: (n: bigint) => unknown }>)())
      const thrown = yield* Effect.flip(Effect.try({ try: () => input.read(10n), catch: (e) => e }))
      assert.deepStrictEqual(thrown, { payload: { tag: "closed" } })
    }).pipe(Effect.provide(Stdio.layerMemory)))

  it.effect("layerDeny - lines are dropped, the guest still gets ok", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("fs-probe"))
      const instance = yield* Linker.instantiate(component, { id: "quiet", grants: Capability.emptyGrants })
      const out = yield* instance.process(text("print nobody hears this\n"))
      assert.strictEqual(out.byteLength, 0)
    }).pipe(Effect.provide(host(Stdio.layerDeny))))

  it.effect("ordinary guests - componentize-js output with its stdio and clocks features links; console.log and console.error become lines", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("stdio-js"))
      const imported = component.world.imports.map((item) => item.name.replace(/@.*$/, ""))
      assert.includeMembers(imported, ["wasi:cli/stdout", "wasi:cli/stderr", "wasi:filesystem/preopens", "wasi:clocks/wall-clock"])

      // wall-clock is provided by nobody here: a LinkError names it, or a deny stub stands in.
      const error = yield* Effect.flip(Linker.instantiate(component, { id: "js", grants: Capability.emptyGrants }))
      assert.strictEqual(error._tag, "LinkError")
      assert.strictEqual(error._tag === "LinkError" && error.interface, "wasi:clocks/wall-clock")

      const instance = yield* Linker.instantiate(component, { id: "js", grants: Capability.emptyGrants, denyUnlinked: true })
      const out = yield* instance.process(text("hello"))
      assert.strictEqual(new TextDecoder().decode(out), "5")
      yield* instance.process(text("again"))
      assert.deepStrictEqual(yield* Stdio.lines, [
        { component: "js", stream: "stdout", text: "js says: hello" },
        { component: "js", stream: "stderr", text: "js warns: hello" },
        { component: "js", stream: "stdout", text: "js says: again" },
        { component: "js", stream: "stderr", text: "js warns: again" }
      ])
      assert.isFalse(instance.poisoned)
    }).pipe(Effect.provide(
      Linker.layer([...Filesystem.hostInterfaces, ...Stdio.hostInterfaces, monotonicClock]).pipe(
        Layer.provideMerge(Layer.mergeAll(Filesystem.layerDeny, Stdio.layerMemory, Audit.layerMemory({ capacity: 100 })))
      )
    )), { timeout: 120_000 })
})
