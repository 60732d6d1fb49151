/**
 * How-to: capabilities (docs/how-to/capabilities.md).
 *
 * Run from the repository root, after `node scripts/build-guests.ts`:
 *   node_modules/.bin/node docs/how-to/code/capabilities.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Audit, Capability, CliExit, Clocks, Component, Environment, Filesystem, Http, Linker, Logging, Random, Stdio, Storage } from "airssys-wasm"

const guest = (name: string) => path.resolve(import.meta.dirname, "..", "..", "..", "build", "guests", `${name}.wasm`)
const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

// guests/cap-storage.wat runs one storage command per `process` call: an op byte, then fields that
// each start with their length. The namespace comes from the input, as a hostile guest's would.
const field = (s: string) => [text(s).length, ...text(s)]
const set = (namespace: string, key: string, value: string) =>
  new Uint8Array([0x73, ...field(namespace), ...field(key), ...text(value)])
const get = (namespace: string, key: string) => new Uint8Array([0x67, ...field(namespace), ...field(key)])

// #region config
const fromConfig = Effect.gen(function*() {
  // What an operator writes (a JSON file, an environment variable): decoded into grants, or a typed error.
  const grants = yield* Capability.decodeGrants([
    { type: "Storage", namespace: "plugin-a" },
    { type: "Storage", namespace: "plugin-a.*" },
    { type: "Messaging", pattern: "orders.*" }
  ])
  yield* Console.log(`storage plugin-a.cache: ${Capability.allowsStorage(grants, "plugin-a.cache")}`)
  yield* Console.log(`storage plugin-b: ${Capability.allowsStorage(grants, "plugin-b")}`)
  yield* Console.log(`messaging orders.eu: ${Capability.check(grants, { _tag: "Messaging", target: "orders.eu" })}`)

  const typo = yield* Effect.flip(Capability.decodeGrants([{ type: "NetworkOutbound", host: "api.example.com", ports: 443 }]))
  yield* Console.log(`${typo._tag} (${typo.reason}, entry ${typo.index}, field ${typo.field}): ${typo.message}`)
})
// #endregion config

// #region host
// One Linker for the process: the host interfaces it offers and the Layers that implement them.
const Host = Linker.layer([Logging.hostInterface, Storage.hostInterface]).pipe(
  Layer.provideMerge(Layer.mergeAll(
    Logging.layer,
    Storage.layerMemory({ quota: 64 }), // Storage.layer({ filename }) in production
    Audit.layerMemory({ capacity: 100 })
  ))
)
// #endregion host

// #region link
const linked = Effect.gen(function*() {
  const component = yield* Component.fromFile(guest("cap-storage"))
  const own = Capability.makeGrants([new Capability.Storage({ namespace: "plugin-a" })])
  const plugin = yield* Linker.instantiate(component, { id: "plugin-a", grants: own })

  yield* plugin.process(set("plugin-a", "greeting", "hello"))
  yield* Console.log(`own namespace: ${decode(yield* plugin.process(get("plugin-a", "greeting")))}`)
  const other = yield* Effect.flip(plugin.process(get("plugin-b", "secret")))
  yield* Console.log(`another namespace: ${other.message}`)
  const big = yield* Effect.flip(plugin.process(set("plugin-a", "big", "x".repeat(100))))
  yield* Console.log(`past the quota: ${big.message}`)

  // No Storage grant at all: the component does not link...
  const unlinked = yield* Effect.flip(Linker.instantiate(component, { id: "plugin-c", grants: Capability.emptyGrants }))
  yield* Console.log(`no grant: ${unlinked._tag}: ${unlinked.message}`)
  // ...unless it is linked to deny stubs: then each call is an audited err.
  const stubbed = yield* Linker.instantiate(component, { id: "plugin-c", grants: Capability.emptyGrants, denyUnlinked: true })
  const stub = yield* Effect.flip(stubbed.process(get("plugin-c", "k")))
  yield* Console.log(`deny stub: ${stub.message}`)
})
// #endregion link

// #region authorize
const onBehalf = Effect.gen(function*() {
  // Host code acting for a component checks (and audits) its grants itself.
  const grants = Capability.makeGrants([new Capability.NetworkOutbound({ host: "*.example.com", port: 443 })])
  yield* Linker.authorize("plugin-a", grants, { _tag: "NetworkOutbound", host: "api.example.com", port: 443 })
  const denied = yield* Effect.flip(
    Linker.authorize("plugin-a", grants, { _tag: "NetworkOutbound", host: "evil.test", port: 443 })
  )
  yield* Console.log(`authorize: ${denied._tag}: ${denied.message}`)
})
// #endregion authorize

// #region audit
const auditTrail = Effect.gen(function*() {
  for (const event of yield* Audit.events) {
    yield* Console.log(`#${event.sequence} ${event.component} ${event.capability} ${event.resource} ${event.decision} ${event.detail ?? ""}`)
  }
})
// #endregion audit

// #region wasi-host
// The WASI interfaces and outbound HTTP, each a host interface with the Layer behind it. The directory
// `root` is the one preopen, shown to guests as "/". HTTP is answered by a handler here (a test double
// that runs every check `Http.layer` runs); in production, `Http.layer()` fetches with Node's http client.
const WasiHost = (root: string) =>
  Linker.layer([
    ...Filesystem.hostInterfaces,
    ...Stdio.hostInterfaces,
    ...Clocks.hostInterfaces,
    ...Random.hostInterfaces,
    Http.hostInterface
  ]).pipe(
    Layer.provideMerge(Layer.mergeAll(
      Filesystem.layer({ preopens: [{ path: root, as: "/" }] }),
      Stdio.layerMemory,
      Clocks.layer,
      Random.layer,
      Http.layerHandler((hop) =>
        Effect.succeed(
          hop.url === "https://api.example.com/moved"
            ? { status: 302, headers: [["location", "https://evil.test/"]], body: new Uint8Array() }
            : { status: 200, headers: [], body: text(`hello from ${new URL(hop.url).host}`) }
        ))
    )),
    Layer.provideMerge(Audit.layerMemory({ capacity: 100 }))
  )
// #endregion wasi-host

// #region wasi
const wasi = (root: string) =>
  Effect.gen(function*() {
    fs.mkdirSync(path.join(root, "data"))
    fs.writeFileSync(path.join(root, "data", "a.txt"), "alpha")
    fs.writeFileSync(path.join(root, "secret.txt"), "top secret")
    const answer = (effect: Effect.Effect<Uint8Array, { readonly _tag: string }>) =>
      effect.pipe(
        Effect.map(decode),
        Effect.catch((error) => Effect.succeed(`err ${"payload" in error ? String(error.payload) : error._tag}`))
      )

    // guests/fs-probe.wat runs text commands against its first preopen: read, write, list, print, ...
    const files = yield* Linker.instantiate(yield* Component.fromFile(guest("fs-probe")), {
      id: "plugin-a",
      grants: Capability.makeGrants([
        new Capability.FileRead({ glob: `${root}/data/**` }),
        new Capability.FileWrite({ glob: `${root}/out/**` })
      ])
    })
    for (const command of ["read data/a.txt", "read secret.txt", "read ../etc/passwd", "write data/a.txt x", "mkdir out", "write out/r.txt done", "print hello from a guest\n"]) {
      yield* Console.log(`${command.trim()} → ${yield* answer(files.process(text(command)))}`)
    }
    yield* Console.log(`on disk: out/r.txt = ${fs.readFileSync(path.join(root, "out", "r.txt"), "utf8")}`)
    for (const line of yield* Stdio.lines) yield* Console.log(`${line.component} ${line.stream}: ${line.text}`)

    // guests/http-probe.wat fetches the URL it is given and answers "status body".
    const web = yield* Linker.instantiate(yield* Component.fromFile(guest("http-probe")), {
      id: "plugin-b",
      grants: Capability.makeGrants([new Capability.NetworkOutbound({ host: "api.example.com", port: 443 })])
    })
    for (const url of ["https://api.example.com/", "https://evil.test/", "https://api.example.com/moved"]) {
      yield* Console.log(`fetch ${url} → ${yield* answer(web.process(text(url)))}`)
    }

    // guests/clock-probe.wat reads both clocks and asks for a random u64 and N random bytes. Ungated:
    // it needs no grant. (Clocks.layerDeny stops its clock at zero; Random.layerDeny traps it.)
    const clock = yield* Linker.instantiate(yield* Component.fromFile(guest("clock-probe")), { id: "plugin-c", grants: Capability.emptyGrants })
    const probe = yield* clock.process(new Uint8Array([8]))
    const seconds = new DataView(probe.buffer, probe.byteOffset).getBigUint64(0, true)
    yield* Console.log(`clock-probe: ${probe.byteLength} bytes; its wall clock agrees with the host's: ${seconds === BigInt(Math.floor(Date.now() / 1000)) || seconds === BigInt(Math.floor(Date.now() / 1000) - 1)}`)

    for (const event of yield* Audit.events) {
      if (event.decision !== "denied") continue
      yield* Console.log(`audit: ${event.component} ${event.capability} ${(event.resource ?? "").replace(root, "<root>")} denied (${event.detail})`)
    }
  }).pipe(Effect.provide(WasiHost(root)))
// #endregion wasi

// #region named-preopen
const namedPreopen = (root: string) => {
  // The guest sees root/shared as "shared", read-write; the grants that go with it are ordinary
  // FileRead / FileWrite grants on root/shared/**, checked and audited on every use.
  const shared = { path: path.join(root, "shared"), as: "shared", access: "read-write" } as const
  const host = Linker.layer([...Filesystem.hostInterfaces, ...Stdio.hostInterfaces]).pipe(
    Layer.provideMerge(Layer.mergeAll(Filesystem.layer({ preopens: [shared] }), Stdio.layerMemory, Audit.layerMemory({ capacity: 100 })))
  )
  return Effect.gen(function*() {
    fs.mkdirSync(shared.path)
    const grants = Capability.makeGrants(yield* Filesystem.preopenGrants([shared]))
    const plugin = yield* Linker.instantiate(yield* Component.fromFile(guest("fs-probe")), { id: "plugin-d", grants })
    yield* plugin.process(text("write notes.txt kept"))
    yield* Console.log(`shared/notes.txt = ${fs.readFileSync(path.join(shared.path, "notes.txt"), "utf8")}`)
  }).pipe(Effect.provide(host))
}
// #endregion named-preopen
// #region environment
// Toolchains' runtimes read their environment and arguments at start, and exit with a code.
const CommandHost = Linker.layer([...Environment.hostInterfaces, CliExit.hostInterface, ...Stdio.hostInterfaces]).pipe(
  Layer.provideMerge(Layer.mergeAll(Environment.layer, Stdio.layerMemory, Audit.layerMemory({ capacity: 100 })))
)

const environment = Effect.gen(function*() {
  // guests/cli-probe.wat: "e" answers its environment, "a" its arguments, "c" N exits with code N.
  const component = yield* Component.fromFile(guest("cli-probe"))
  const grants = Capability.makeGrants([
    new Capability.Environment({ variables: { LANG: "C.UTF-8" }, arguments: ["plugin", "--verbose"] })
  ])
  const granted = yield* Linker.instantiate(component, { id: "plugin-a", grants })
  yield* Console.log(`plugin-a environment: ${JSON.stringify(decode(yield* granted.process(text("e"))))}`)
  yield* Console.log(`plugin-a arguments: ${JSON.stringify(decode(yield* granted.process(text("a"))))}`)
  const bare = yield* Linker.instantiate(component, { id: "plugin-b", grants: Capability.emptyGrants })
  yield* Console.log(`plugin-b environment: ${JSON.stringify(decode(yield* bare.process(text("e"))))}`)

  const exit = yield* Effect.flip(granted.process(new Uint8Array([0x63, 3])))
  yield* Console.log(`${exit._tag}: ${exit.message}; poisoned: ${granted.poisoned}`)
  for (const event of yield* Audit.events) {
    if (event.capability === "Environment") yield* Console.log(`audit: ${event.component} Environment ${event.resource} ${event.decision}`)
  }
}).pipe(Effect.provide(CommandHost))
// #endregion environment

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "airssys-howto-")))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const step = <E, R>(title: string, effect: Effect.Effect<void, E, R>) =>
  Effect.andThen(Console.log(`\n== ${title}`), effect)

NodeRuntime.runMain(Effect.gen(function*() {
  yield* step("config", fromConfig)
  yield* step("linking", linked)
  yield* step("host code", onBehalf)
  yield* step("audit log", auditTrail)
  yield* step("filesystem, stdio, http", Effect.flatMap(tempDir, wasi))
  yield* step("named preopen", Effect.flatMap(tempDir, namedPreopen))
  yield* step("environment and exit", environment)
}).pipe(Effect.scoped, Effect.provide(Host)))
