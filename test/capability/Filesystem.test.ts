/**
 * The WASI filesystem driven by a real guest (`guests/fs-probe.wat`, which imports
 * `wasi:filesystem/types`, `wasi:filesystem/preopens` and `wasi:cli/stdout`) over real temp
 * directories, and over the in-memory backend.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Audit from "../../src/Audit.ts"
import * as Filesystem from "../../src/capability/Filesystem.ts"
import * as Stdio from "../../src/capability/Stdio.ts"
import * as Capability from "../../src/Capability.ts"
import * as Component from "../../src/Component.ts"
import * as Linker from "../../src/Linker.ts"
import { decode, guestPath, text } from "../fixtures.ts"

/** A real temp directory (its real path), removed with the scope. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "airssys-fs-")))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const host = (filesystem: Layer.Layer<Filesystem.Filesystem, Filesystem.PreopenError>) =>
  Linker.layer([...Filesystem.hostInterfaces, ...Stdio.hostInterfaces]).pipe(
    Layer.provideMerge(Layer.mergeAll(filesystem, Stdio.layerMemory, Audit.layerMemory({ capacity: 1000 })))
  )

const run = (instance: { process: (input: Uint8Array) => Effect.Effect<Uint8Array, unknown> }, command: string) =>
  Effect.map(instance.process(text(command)), decode)

const guestError = (effect: Effect.Effect<unknown, unknown>) =>
  Effect.map(Effect.flip(effect), (error) => {
    assert.strictEqual((error as { _tag: string })._tag, "GuestError")
    return String((error as { payload: unknown }).payload)
  })

const sorted = (listing: string) => listing.split("\n").filter((name) => name.length > 0).sort()

const seed = (root: string) => {
  fs.mkdirSync(path.join(root, "data", "sub"), { recursive: true })
  fs.writeFileSync(path.join(root, "data", "a.txt"), "alpha")
  fs.writeFileSync(path.join(root, "data", "sub", "b.txt"), "beta")
  fs.writeFileSync(path.join(root, "secret.txt"), "top secret")
}

describe("Filesystem", () => {
  it.effect("FileRead(data/**): read and list work; write there, and anything outside data, is denied and audited", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      seed(root)
      yield* Effect.gen(function*() {
        const component = yield* Component.fromFile(guestPath("fs-probe"))
        const grants = Capability.makeGrants([new Capability.FileRead({ glob: `${root}/data/**` })])
        const probe = yield* Linker.instantiate(component, { id: "reader", grants })

        assert.strictEqual(yield* run(probe, "read data/a.txt"), "alpha")
        assert.strictEqual(yield* run(probe, "read data/sub/b.txt"), "beta")
        assert.strictEqual(yield* run(probe, "read ./data/sub/../a.txt"), "alpha")
        assert.deepStrictEqual(sorted(yield* run(probe, "list data")), ["a.txt", "sub"])
        const stat = yield* probe.process(text("stat data/a.txt"))
        assert.strictEqual(stat[0], 6) // regular-file
        assert.strictEqual(new DataView(stat.buffer, stat.byteOffset + 1).getBigUint64(0, true), 5n)

        // Read-only grant: no write, no mkdir, no delete; nothing outside data/.
        assert.strictEqual(yield* guestError(run(probe, "write data/new.txt hello")), "access")
        assert.strictEqual(yield* guestError(run(probe, "write data/a.txt overwritten")), "access")
        assert.strictEqual(yield* guestError(run(probe, "mkdir data/dir")), "access")
        assert.strictEqual(yield* guestError(run(probe, "rm data/a.txt")), "access")
        assert.strictEqual(yield* guestError(run(probe, "read secret.txt")), "access")
        assert.strictEqual(yield* guestError(run(probe, "list .")), "access")
        assert.strictEqual(yield* guestError(run(probe, "read data/missing.txt")), "no-entry")
        assert.isFalse(fs.existsSync(path.join(root, "data", "new.txt")))
        assert.isFalse(fs.existsSync(path.join(root, "data", "dir")))
        assert.strictEqual(fs.readFileSync(path.join(root, "data", "a.txt"), "utf8"), "alpha")

        const events = (yield* Audit.events).filter((event) => event.kind === "capability")
        const summary = events.map((event) => `${event.decision} ${event.capability} ${event.resource} ${event.detail}`)
        assert.include(summary, `granted FileRead ${root}/data/a.txt wasi:filesystem/types@0.2.12#open-at`)
        assert.include(summary, `granted FileRead ${root}/data wasi:filesystem/types@0.2.12#open-at`)
        assert.include(summary, `denied FileWrite ${root}/data/new.txt wasi:filesystem/types@0.2.12#open-at: NotGranted`)
        assert.include(summary, `denied FileWrite ${root}/data/dir wasi:filesystem/types@0.2.12#create-directory-at: NotGranted`)
        assert.include(summary, `denied FileWrite ${root}/data/a.txt wasi:filesystem/types@0.2.12#unlink-file-at: NotGranted`)
        assert.include(summary, `denied FileRead ${root}/secret.txt wasi:filesystem/types@0.2.12#open-at: NotGranted`)
        assert.isTrue(events.every((event) => event.component === "reader"))
        assert.isFalse(probe.poisoned)
      }).pipe(Effect.provide(host(Filesystem.layer({ preopens: [{ path: root, as: "/" }] }))))
    }))

  it.effect("FileWrite(out/**): write, mkdir and delete reach the disk", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      seed(root)
      fs.mkdirSync(path.join(root, "out"))
      yield* Effect.gen(function*() {
        const component = yield* Component.fromFile(guestPath("fs-probe"))
        const grants = Capability.makeGrants([
          new Capability.FileWrite({ glob: `${root}/out/**` }),
          new Capability.FileRead({ glob: `${root}/out/**` })
        ])
        const probe = yield* Linker.instantiate(component, { id: "writer", grants })
        assert.strictEqual(yield* run(probe, "write out/note.txt hello world"), "")
        assert.strictEqual(fs.readFileSync(path.join(root, "out", "note.txt"), "utf8"), "hello world")
        assert.strictEqual(yield* run(probe, "read out/note.txt"), "hello world")
        // Truncates on rewrite.
        yield* run(probe, "write out/note.txt hi")
        assert.strictEqual(fs.readFileSync(path.join(root, "out", "note.txt"), "utf8"), "hi")
        yield* run(probe, "mkdir out/nested")
        yield* run(probe, "write out/nested/deep.txt x")
        assert.deepStrictEqual(sorted(yield* run(probe, "list out")), ["nested", "note.txt"])
        assert.strictEqual(yield* guestError(run(probe, "rmdir out/nested")), "not-empty")
        yield* run(probe, "rm out/nested/deep.txt")
        yield* run(probe, "rmdir out/nested")
        assert.isFalse(fs.existsSync(path.join(root, "out", "nested")))
        // The write grant covers out/ only.
        assert.strictEqual(yield* guestError(run(probe, "write data/a.txt pwned")), "access")
        assert.strictEqual(fs.readFileSync(path.join(root, "data", "a.txt"), "utf8"), "alpha")
        const granted = (yield* Audit.events).filter((event) => event.decision === "granted" && event.capability === "FileWrite")
        assert.include(granted.map((event) => event.resource), `${root}/out/note.txt`)
      }).pipe(Effect.provide(host(Filesystem.layer({ preopens: [{ path: root, as: "/" }] }))))
    }))

  it.effect("inside a read-write preopen, WASI semantics: symlinks, hard links, readlink, set-times, trailing slashes, NUL, sync flags", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      seed(root)
      fs.mkdirSync(path.join(root, "out"))
      const at = (name: string) => path.join(root, "out", name)
      yield* Effect.gen(function*() {
        const component = yield* Component.fromFile(guestPath("fs-probe"))
        const grants = Capability.makeGrants(yield* Filesystem.preopenGrants([{ path: root, as: "/", access: "read-write" }]))
        const probe = yield* Linker.instantiate(component, { id: "posix", grants })
        yield* run(probe, "write out/target.txt hello")

        // Symlinks: made as written (relative to the link), read through, read back; dangling is fine.
        assert.strictEqual(yield* run(probe, "symlink target.txt out/link"), "")
        assert.strictEqual(fs.readlinkSync(at("link")), "target.txt")
        assert.strictEqual(yield* run(probe, "readlink out/link"), "target.txt")
        assert.strictEqual(yield* run(probe, "read out/link"), "hello")
        yield* run(probe, "symlink ../data/a.txt out/up")
        assert.strictEqual(yield* run(probe, "read out/up"), "alpha")
        yield* run(probe, "symlink not-yet out/dangling")
        assert.strictEqual(fs.readlinkSync(at("dangling")), "not-yet")
        assert.strictEqual(yield* guestError(run(probe, "symlink x out/link")), "exist")
        assert.strictEqual(yield* guestError(run(probe, "symlink x out/new/")), "no-entry")
        assert.strictEqual(yield* guestError(run(probe, "readlink out/target.txt")), "invalid")

        // Hard links: the same file under two names; not of a directory, not over an existing name.
        yield* run(probe, "link out/target.txt out/hard")
        assert.strictEqual(fs.statSync(at("hard")).ino, fs.statSync(at("target.txt")).ino)
        assert.strictEqual(yield* guestError(run(probe, "link out/target.txt out/hard")), "exist")
        assert.strictEqual(yield* guestError(run(probe, "link out out/dir-link")), "not-permitted")
        // Following a symlink: the file it leads to is linked; a dangling one leads to nothing.
        yield* run(probe, "linkf out/link out/hard2")
        assert.strictEqual(fs.statSync(at("hard2")).ino, fs.statSync(at("target.txt")).ino)
        assert.isFalse(fs.lstatSync(at("hard2")).isSymbolicLink())
        assert.strictEqual(yield* guestError(run(probe, "linkf out/dangling out/hard3")), "no-entry")
        yield* run(probe, "link out/dangling out/hard3")
        assert.strictEqual(fs.readlinkSync(at("hard3")), "not-yet")

        // Times: set-times-at with explicit times, set-times on a descriptor leaving atime as it is.
        yield* run(probe, "touch out/target.txt")
        assert.strictEqual(fs.statSync(at("target.txt")).mtimeMs, 1234567890500)
        assert.strictEqual(fs.statSync(at("target.txt")).atimeMs, 1000000000000)
        yield* run(probe, "futime out/hard")
        assert.strictEqual(fs.statSync(at("target.txt")).mtimeMs, 1234567890000)
        assert.strictEqual(fs.statSync(at("target.txt")).atimeMs, 1000000000000)

        // Trailing slashes ask for a directory.
        assert.strictEqual(yield* guestError(run(probe, "rm out/target.txt/")), "not-directory")
        assert.strictEqual(yield* guestError(run(probe, "read out/target.txt/")), "not-directory")
        assert.strictEqual(yield* guestError(run(probe, "rmdir out/target.txt/")), "not-directory")
        assert.strictEqual(yield* guestError(run(probe, "mv out/target.txt/ out/moved")), "not-directory")
        yield* run(probe, "mkdir out/dir")
        assert.strictEqual(yield* guestError(run(probe, "rm out/dir")), "is-directory")
        assert.strictEqual(yield* guestError(run(probe, "rm out/dir/")), "is-directory")
        assert.deepStrictEqual(sorted(yield* run(probe, "list out/dir/")), [])
        yield* run(probe, "mv out/dir/ out/moved/")
        assert.isTrue(fs.statSync(at("moved")).isDirectory())

        // Renaming a directory over a non-empty one, removing a non-empty one: not-empty.
        yield* run(probe, "mkdir out/full")
        yield* run(probe, "write out/full/f x")
        assert.strictEqual(yield* guestError(run(probe, "mv out/moved out/full")), "not-empty")
        assert.strictEqual(yield* guestError(run(probe, "rmdir out/full")), "not-empty")

        // A NUL byte is no path: invalid.
        assert.strictEqual(yield* guestError(run(probe, "read out/target.txt\u0000")), "invalid")

        // get-flags reports the sync flags the file was opened with: write | file- | data-integrity-sync.
        assert.deepStrictEqual(Array.from(yield* probe.process(text("flags out/synced"))), [2 | 4 | 8])

        const granted = (yield* Audit.events).filter((event) => event.decision === "granted")
        assert.includeMembers(granted.map((event) => `${event.capability} ${event.resource} ${event.detail?.replace(/^.*#/, "")}`), [
          `FileWrite ${at("link")} symlink-at`,
          `FileWrite ${at("target.txt")} symlink-at`,
          `FileWrite ${at("hard")} link-at`,
          `FileRead ${at("link")} readlink-at`,
          `FileWrite ${at("target.txt")} set-times-at`,
          `FileWrite ${at("hard")} set-times`
        ])
        assert.isFalse(probe.poisoned)
      }).pipe(Effect.provide(host(Filesystem.layer({ preopens: [{ path: root, as: "/" }] }))))
    }))

  it.effect("preopenGrants: FileRead under each directory, FileWrite too when read-write; a glob character is a PreopenError", () =>
    Effect.gen(function*() {
      const grants = yield* Filesystem.preopenGrants([
        { path: "/srv/data", as: "data" },
        { path: "/srv/out", as: "out", access: "read-write" },
        { path: "/", as: "/", access: "read" }
      ])
      assert.deepStrictEqual(grants.map((grant) => `${grant._tag} ${grant.glob}`), [
        "FileRead /srv/data/**",
        "FileRead /srv/out/**",
        "FileWrite /srv/out/**",
        "FileRead /**"
      ])
      for (const bad of ["/srv/[data]", "relative", "/srv/../etc", "/srv/*"]) {
        const error = yield* Effect.flip(Filesystem.preopenGrants([{ path: bad, as: "x" }]))
        assert.strictEqual(error._tag, "PreopenError")
        assert.strictEqual(error.path, bad)
      }
    }))

  it.effect("no file grant: no preopens, so the guest has nothing to open", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      seed(root)
      yield* Effect.gen(function*() {
        const component = yield* Component.fromFile(guestPath("fs-probe"))
        const probe = yield* Linker.instantiate(component, { id: "nobody", grants: Capability.emptyGrants })
        assert.strictEqual(yield* guestError(run(probe, "read data/a.txt")), "no preopened directory")
      }).pipe(Effect.provide(host(Filesystem.layer({ preopens: [{ path: root, as: "/" }] }))))
    }))

  it.effect("layerMemory: the same guest over a tree in memory, same checks", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("fs-probe"))
      const grants = Capability.makeGrants([
        new Capability.FileRead({ glob: "/srv/**" }),
        new Capability.FileWrite({ glob: "/srv/out/**" })
      ])
      const probe = yield* Linker.instantiate(component, { id: "mem", grants })
      assert.strictEqual(yield* run(probe, "read docs/readme.md"), "# hi")
      assert.deepStrictEqual(sorted(yield* run(probe, "list .")), ["docs", "out"])
      yield* run(probe, "write out/x.txt memory")
      assert.strictEqual(yield* run(probe, "read out/x.txt"), "memory")
      assert.strictEqual(yield* guestError(run(probe, "write docs/readme.md no")), "access")
      assert.strictEqual(yield* guestError(run(probe, "read ../etc/passwd")), "not-permitted")
      const filesystem = yield* Filesystem.Filesystem
      assert.strictEqual(filesystem.backend.stat("/srv/out/x.txt").size, 6n)
    }).pipe(Effect.provide(host(Filesystem.layerMemory({
      preopens: [{ path: "/srv", as: "/" }],
      files: { "/srv/docs/readme.md": "# hi", "/srv/out/": "" }
    })))))

  it.effect("prewarm: an instance prepared before its imports are bound gets working descriptors", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("fs-probe"))
      assert.strictEqual(yield* Component.prewarm(component, 1), 1)
      const grants = Capability.makeGrants([new Capability.FileRead({ glob: "/srv/**" })])
      const warm = yield* Linker.instantiate(component, { id: "warm", grants })
      assert.strictEqual(yield* run(warm, "read docs/readme.md"), "# hi")
    }).pipe(Effect.provide(host(Filesystem.layerMemory({
      preopens: [{ path: "/srv", as: "/" }],
      files: { "/srv/docs/readme.md": "# hi" }
    })))))

  it.effect("layerDeny: no preopens at all", () =>
    Effect.gen(function*() {
      const component = yield* Component.fromFile(guestPath("fs-probe"))
      const grants = Capability.makeGrants([new Capability.FileRead({ glob: "/**" })])
      const probe = yield* Linker.instantiate(component, { id: "denied", grants })
      assert.strictEqual(yield* guestError(run(probe, "read etc/passwd")), "no preopened directory")
    }).pipe(Effect.provide(host(Filesystem.layerDeny))))

  it.effect("layer - a preopen that is not an absolute canonical path is a PreopenError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(Filesystem.layer({ preopens: [{ path: "relative/dir", as: "/" }] })))
      assert.strictEqual(error._tag, "PreopenError")
    }))

  it.effect("descriptor - the rest of the resource surface, called as jco calls it (streams, stat, rename, flags, links, times)", () =>
    Effect.gen(function*() {
      const bind = yield* Filesystem.preopensInterface.make
      const grants = Capability.makeGrants([
        new Capability.FileRead({ glob: "/srv/**" }),
        new Capability.FileWrite({ glob: "/srv/out/**" })
      ])
      const preopens = bind({ componentId: "direct", grants, interface: "wasi:filesystem/preopens@0.2.12" })
      const directories = (yield* (preopens["getDirectories"]!.run as () => Effect.Effect<Array<[Handle, string]>>)())
      assert.deepStrictEqual(directories.map(([, name]) => name), ["/"])
      const root = directories[0]![0]
      /** A method's `err` as the glue sees it: a thrown `{ payload }`. */
      const err = (f: () => unknown) =>
        Effect.map(Effect.flip(Effect.try({ try: f, catch: (thrown) => thrown as { payload: unknown } })), (e) => e.payload)

      assert.strictEqual(root.getType(), "directory")
      assert.strictEqual(root.stat().type, "directory")
      const file = root.openAt({ symlinkFollow: true }, "out/log.txt", { create: true }, { read: true, write: true })
      assert.deepStrictEqual(file.getFlags(), {
        read: true,
        write: true,
        fileIntegritySync: false,
        dataIntegritySync: false,
        requestedWriteSync: false,
        mutateDirectory: false
      })
      const output = file.writeViaStream(0n)
      assert.strictEqual(output.checkWrite(), 65536n)
      output.blockingWriteAndFlush(text("hello "))
      output.write(text("streams"))
      output[Symbol.dispose]()
      const input = file.readViaStream(6n)
      assert.strictEqual(decode(input.blockingRead(100n)), "streams")
      assert.deepStrictEqual(yield* err(() => input.read(100n)), { tag: "closed" })
      const [bytes, end] = file.read(5n, 0n)
      assert.strictEqual(decode(bytes), "hello")
      assert.isFalse(end)
      assert.strictEqual(file.stat().size, 13n)
      file.setSize(5n)
      assert.strictEqual(file.stat().size, 5n)
      const append = file.appendViaStream()
      append.blockingWriteAndFlush(text("!"))
      assert.strictEqual(decode(file.read(100n, 0n)[0]), "hello!")
      assert.isTrue(file.isSameObject(root.openAt({}, "out/log.txt", {}, { read: true })))
      assert.strictEqual(file.metadataHash().lower, root.metadataHashAt({}, "out/log.txt").lower)

      root.renameAt("out/log.txt", root, "out/renamed.txt")
      const entries = root.openAt({}, "out", { directory: true }, { read: true }).readDirectory()
      assert.deepStrictEqual(entries.readDirectoryEntry(), { type: "regular-file", name: "renamed.txt" })
      assert.isUndefined(entries.readDirectoryEntry())
      assert.strictEqual(yield* err(() => root.renameAt("docs/readme.md", root, "out/stolen.md")), "access")
      // Links: an absolute symlink target, or a hard link to a file outside the write grant, are refused.
      assert.strictEqual(yield* err(() => root.symlinkAt("/etc/passwd", "out/link")), "not-permitted")
      assert.strictEqual(yield* err(() => root.linkAt({}, "docs/readme.md", root, "out/hard")), "access")
      root.linkAt({}, "out/renamed.txt", root, "out/hard")
      assert.strictEqual(decode(root.openAt({}, "out/hard", {}, { read: true }).read(100n, 0n)[0]), "hello!")
      // The memory backend has no symlinks; readlink of a non-link is `invalid`, as POSIX says.
      assert.strictEqual(yield* err(() => root.symlinkAt("renamed.txt", "out/soft")), "unsupported")
      assert.strictEqual(yield* err(() => root.readlinkAt("docs")), "invalid")
      root.setTimesAt({}, "out/renamed.txt", { tag: "now" }, { tag: "no-change" })
      assert.strictEqual(yield* err(() => root.setTimesAt({}, "docs/readme.md", { tag: "now" }, { tag: "now" })), "access")
      // A read-only descriptor cannot be written through; a dropped one is gone.
      const readOnly = root.openAt({}, "docs/readme.md", {}, { read: true })
      assert.strictEqual(yield* err(() => readOnly.write(text("x"), 0n)), "bad-descriptor")
      readOnly[Symbol.dispose]()
      assert.strictEqual(yield* err(() => readOnly.read(1n, 0n)), "bad-descriptor")

      const denied = (yield* Audit.events).filter((event) => event.decision === "denied")
      assert.deepStrictEqual(denied.map((event) => event.detail), [
        "wasi:filesystem/types@0.2.12#rename-at: NotGranted",
        "wasi:filesystem/types@0.2.12#symlink-at: Absolute",
        "wasi:filesystem/types@0.2.12#link-at: NotGranted",
        "wasi:filesystem/types@0.2.12#set-times-at: NotGranted"
      ])
    }).pipe(Effect.provide(Layer.merge(
      Filesystem.layerMemory({ preopens: [{ path: "/srv", as: "/" }], files: { "/srv/docs/readme.md": "# hi", "/srv/out/": "" } }),
      Audit.layerMemory({ capacity: 100 })
    ))))
})

/** A host handle, called the way jco's glue calls it (untyped, as the glue sees it). */
type Handle = any
