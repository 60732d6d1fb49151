/**
 * Hostile guests against the WASI filesystem: a real component (`guests/fs-probe.wat`) trying to
 * leave its preopened directory or write where it may only read. Each attempt must be denied with a
 * typed error (the WASI error-code for the guest, a `FilesystemError` on the host side), audited as
 * denied, leave the host and the guest serving, and write nothing (checked on disk).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Audit from "../src/Audit.ts"
import * as Filesystem from "../src/capability/Filesystem.ts"
import * as Stdio from "../src/capability/Stdio.ts"
import * as Capability from "../src/Capability.ts"
import * as Component from "../src/Component.ts"
import * as Linker from "../src/Linker.ts"
import { decode, guestPath, text } from "./fixtures.ts"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "airssys-hostile-fs-")))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/**
 * `ROOT/sandbox` is preopened; `ROOT/outside` is not. Inside the sandbox: `data/a.txt`, a directory
 * symlink to `outside`, a file symlink to the secret, an absolute symlink to it, and a dangling
 * symlink to a file that does not exist yet outside.
 */
const layout = (root: string) => {
  const sandbox = path.join(root, "sandbox")
  const outside = path.join(root, "outside")
  fs.mkdirSync(path.join(sandbox, "data"), { recursive: true })
  fs.mkdirSync(outside)
  fs.writeFileSync(path.join(sandbox, "data", "a.txt"), "alpha")
  fs.writeFileSync(path.join(outside, "secret.txt"), "top secret")
  fs.symlinkSync("../outside", path.join(sandbox, "link"))
  fs.symlinkSync("../outside/secret.txt", path.join(sandbox, "leak.txt"))
  fs.symlinkSync(path.join(outside, "secret.txt"), path.join(sandbox, "abs-leak.txt"))
  fs.symlinkSync("../outside/created.txt", path.join(sandbox, "dangling"))
  return { sandbox, outside }
}

/** Every file under `dir` with its contents, to show that nothing changed. */
const snapshot = (dir: string): Record<string, string> => {
  const files: Record<string, string> = {}
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name)
    files[path.relative(dir, full)] = entry.isSymbolicLink()
      ? `-> ${fs.readlinkSync(full)}`
      : entry.isFile()
      ? fs.readFileSync(full, "utf8")
      : "<dir>"
  }
  return files
}

const host = (sandbox: string, auditFile: string) =>
  Linker.layer([...Filesystem.hostInterfaces, ...Stdio.hostInterfaces]).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        Filesystem.layer({ preopens: [{ path: sandbox, as: "/" }] }),
        Stdio.layerMemory,
        Audit.combine(Audit.layerMemory({ capacity: 1000 }), Audit.layerJsonl(auditFile))
      )
    )
  )

const guestError = (effect: Effect.Effect<unknown, unknown>) =>
  Effect.map(Effect.flip(effect), (error) => {
    assert.strictEqual((error as { _tag: string })._tag, "GuestError")
    return String((error as { payload: unknown }).payload)
  })

/** Paths that leave the sandbox, with what the host calls each. */
const escapes = (root: string): ReadonlyArray<readonly [path: string, reason: Filesystem.FilesystemFailure]> => [
  ["../outside/secret.txt", "Escape"],
  ["../../../../../../etc/passwd", "Escape"],
  ["data/../../outside/secret.txt", "Escape"],
  ["./data/./../../outside/secret.txt", "Escape"],
  ["data//..//..//outside/secret.txt", "Escape"],
  ["..", "Escape"],
  ["%2e%2e/outside/secret.txt", "Encoded"],
  ["%2E%2E%2Foutside%2Fsecret.txt", "Encoded"],
  ["..%2foutside/secret.txt", "Encoded"],
  ["data/%2e%2e/%2e%2e/outside/secret.txt", "Encoded"],
  ["\uff0e\uff0e/outside/secret.txt", "Encoded"],
  ["..\\outside\\secret.txt", "Backslash"],
  ["data/a.txt\u0000/../../outside/secret.txt", "NulByte"],
  ["/etc/passwd", "Absolute"],
  [`${root}/outside/secret.txt`, "Absolute"],
  [`${root}/sandbox/data/a.txt`, "Absolute"],
  ["link/secret.txt", "SymlinkEscape"],
  ["link", "SymlinkEscape"],
  ["leak.txt", "SymlinkEscape"],
  ["abs-leak.txt", "SymlinkEscape"],
  ["data/../link/secret.txt", "SymlinkEscape"]
]

describe("Hostile guests: filesystem", () => {
  it.effect("path traversal, encodings, absolute paths and symlink escapes: not-permitted, audited, nothing read", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const { outside, sandbox } = layout(root)
      const auditFile = path.join(root, "audit.jsonl")
      const before = snapshot(root)
      yield* Effect.gen(function*() {
        const component = yield* Component.fromFile(guestPath("fs-probe"))
        // Read everything in the sandbox; write nowhere.
        const grants = Capability.makeGrants([new Capability.FileRead({ glob: `${sandbox}/**` })])
        const probe = yield* Linker.instantiate(component, { id: "intruder", grants })
        assert.strictEqual(decode(yield* probe.process(text("read data/a.txt"))), "alpha")
        const start = (yield* Audit.events).length

        const attempts = escapes(root)
        for (const [attempt, reason] of attempts) {
          const code = yield* guestError(probe.process(text(`read ${attempt}`)))
          // A NUL byte is no path at all: `invalid`, as WASI says; refused and audited all the same.
          assert.strictEqual(code, reason === "NulByte" ? "invalid" : "not-permitted", `read ${JSON.stringify(attempt)}`)
        }
        for (const attempt of ["../outside", "link", "%2e%2e"]) {
          assert.strictEqual(yield* guestError(probe.process(text(`list ${attempt}`))), "not-permitted")
        }
        for (const attempt of ["../outside/secret.txt", "leak.txt", "/etc/passwd"]) {
          assert.strictEqual(yield* guestError(probe.process(text(`stat ${attempt}`))), "not-permitted")
        }

        // Every attempt is one denied event, with the reason; none granted.
        const events = (yield* Audit.events).slice(start)
        assert.strictEqual(events.length, attempts.length + 6)
        assert.isTrue(events.every((event) => event.decision === "denied" && event.component === "intruder"))
        assert.isTrue(events.every((event) => event.capability === "FileRead"))
        assert.deepStrictEqual(
          events.slice(0, attempts.length).map((event) => event.detail),
          attempts.map(([, reason]) => `wasi:filesystem/types@0.2.12#open-at: ${reason}`)
        )
        // A symlink escape is recorded with where it led.
        const symlinked = events.find((event) => event.detail?.endsWith("SymlinkEscape"))
        assert.strictEqual(symlinked?.resource, `${outside}/secret.txt`)

        // Host side: the same checks as typed errors.
        for (const [attempt, reason] of attempts) {
          const error = yield* Effect.flip(
            Filesystem.authorize({ component: "intruder", grants, directory: sandbox, path: attempt, access: "read" })
          )
          assert.strictEqual(error._tag, "FilesystemError")
          assert.strictEqual(error.reason, reason, JSON.stringify(attempt))
          assert.strictEqual(error.code, reason === "NulByte" ? "invalid" : "not-permitted")
        }

        // Still serving.
        assert.isFalse(probe.poisoned)
        assert.strictEqual(decode(yield* probe.process(text("read data/a.txt"))), "alpha")
      }).pipe(Effect.provide(host(sandbox, auditFile)))
      const after = snapshot(root)
      delete after["audit.jsonl"]
      assert.deepStrictEqual(after, before)
      const verified = yield* Audit.verifyFile(auditFile)
      assert.isAbove(verified.events, escapes(root).length * 2)
    }))

  it.effect("writes where only read was granted, and out of the sandbox: access / not-permitted, audited, nothing written", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const { sandbox } = layout(root)
      const auditFile = path.join(root, "audit.jsonl")
      const before = snapshot(root)
      yield* Effect.gen(function*() {
        const component = yield* Component.fromFile(guestPath("fs-probe"))
        const grants = Capability.makeGrants([new Capability.FileRead({ glob: `${sandbox}/**` })])
        const reader = yield* Linker.instantiate(component, { id: "reader", grants })
        const start = (yield* Audit.events).length
        const attempts: ReadonlyArray<readonly [string, string]> = [
          ["write data/a.txt pwned", "access"],
          ["write data/new.txt pwned", "access"],
          ["mkdir data/dir", "access"],
          ["rm data/a.txt", "access"],
          ["rmdir data", "access"],
          ["write ../outside/secret.txt pwned", "not-permitted"],
          ["write ../outside/new.txt pwned", "not-permitted"],
          ["write link/new.txt pwned", "not-permitted"],
          ["write leak.txt pwned", "not-permitted"],
          ["write %2e%2e/outside/new.txt pwned", "not-permitted"],
          ["mkdir ../outside/dir", "not-permitted"],
          ["rm ../outside/secret.txt", "not-permitted"],
          ["rm link/secret.txt", "not-permitted"]
        ]
        for (const [command, code] of attempts) {
          assert.strictEqual(yield* guestError(reader.process(text(command))), code, command)
        }
        const events = (yield* Audit.events).slice(start)
        assert.strictEqual(events.length, attempts.length)
        assert.isTrue(events.every((event) => event.decision === "denied" && event.capability === "FileWrite"))
        assert.strictEqual(events[0]!.detail, "wasi:filesystem/types@0.2.12#open-at: NotGranted")
        assert.strictEqual(events[0]!.resource, `${sandbox}/data/a.txt`)

        const error = yield* Effect.flip(
          Filesystem.authorize({ component: "reader", grants, directory: sandbox, path: "data/a.txt", access: "write" })
        )
        assert.strictEqual(error.reason, "NotGranted")
        assert.strictEqual(error.code, "access")

        // A writer may write inside, but a dangling symlink pointing outside creates nothing there.
        const writer = yield* Linker.instantiate(component, {
          id: "writer",
          grants: Capability.makeGrants([new Capability.FileWrite({ glob: `${sandbox}/**` })])
        })
        assert.strictEqual(yield* guestError(writer.process(text("write dangling pwned"))), "loop")
        assert.strictEqual(yield* guestError(writer.process(text("write link/created.txt pwned"))), "not-permitted")
        assert.isFalse(reader.poisoned)
        assert.isFalse(writer.poisoned)
        assert.strictEqual(decode(yield* reader.process(text("read data/a.txt"))), "alpha")
      }).pipe(Effect.provide(host(sandbox, auditFile)))
      const after = snapshot(root)
      delete after["audit.jsonl"]
      assert.deepStrictEqual(after, before)
      yield* Audit.verifyFile(auditFile)
    }))

  it.effect("symlinks, hard links, readlink and times that would reach past the write grant: refused, audited, nothing made", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const { sandbox } = layout(root)
      fs.mkdirSync(path.join(sandbox, "out"))
      // A door out, inside the write grant: `door/../x` reads as out/x but leads to ROOT/x.
      fs.symlinkSync("../../outside", path.join(sandbox, "out", "door"))
      const auditFile = path.join(root, "audit.jsonl")
      const before = snapshot(root)
      yield* Effect.gen(function*() {
        const component = yield* Component.fromFile(guestPath("fs-probe"))
        // Read the sandbox, write only out/.
        const grants = Capability.makeGrants([
          new Capability.FileRead({ glob: `${sandbox}/**` }),
          new Capability.FileWrite({ glob: `${sandbox}/out/**` })
        ])
        const linker = yield* Linker.instantiate(component, { id: "linker", grants })
        const start = (yield* Audit.events).length
        const attempts: ReadonlyArray<readonly [command: string, code: string, reason: string]> = [
          // The target climbs out of the preopen, is absolute, or leads out through a symlink.
          ["symlink ../../outside/secret.txt out/s", "not-permitted", "Escape"],
          ["symlink /etc/passwd out/s", "not-permitted", "Absolute"],
          [`symlink ${root}/outside/secret.txt out/s`, "not-permitted", "Absolute"],
          ["symlink ../link/secret.txt out/s", "not-permitted", "SymlinkEscape"],
          ["symlink ../leak.txt out/s", "not-permitted", "SymlinkEscape"],
          ["symlink door/../x out/s", "not-permitted", "Escape"],
          ["symlink door/secret.txt out/s", "not-permitted", "SymlinkEscape"],
          // The target is inside but only readable; the link itself is not in the write grant.
          ["symlink ../data/a.txt out/s", "access", "NotGranted"],
          ["symlink out/x data/s", "access", "NotGranted"],
          ["symlink x ../outside/s", "not-permitted", "Escape"],
          // A hard link would make a read-only file writable under a second name, or reach outside.
          ["link data/a.txt out/h", "access", "NotGranted"],
          ["link leak.txt out/h", "access", "NotGranted"],
          ["link ../outside/secret.txt out/h", "not-permitted", "Escape"],
          ["link link/secret.txt out/h", "not-permitted", "SymlinkEscape"],
          // Times are a write.
          ["touch data/a.txt", "access", "NotGranted"],
          ["touch ../outside/secret.txt", "not-permitted", "Escape"],
          ["touch link/secret.txt", "not-permitted", "SymlinkEscape"]
        ]
        for (const [command, code] of attempts) {
          assert.strictEqual(yield* guestError(linker.process(text(command))), code, command)
        }
        const events = (yield* Audit.events).slice(start)
        // One denied FileWrite each (a symlink whose link is fine is audited granted, then its target denied).
        const denied = events.filter((event) => event.decision === "denied")
        assert.strictEqual(denied.length, attempts.length)
        assert.isTrue(denied.every((event) => event.capability === "FileWrite" && event.component === "linker"))
        assert.deepStrictEqual(
          denied.map((event) => event.detail!.replace(/^.*#/, "")),
          attempts.map(([command, , reason]) => {
            const verb = command.split(" ")[0]!
            return `${verb === "touch" ? "set-times-at" : `${verb}-at`}: ${reason}`
          })
        )
        // A symlink already there that points outside: readlink does not tell the host's absolute path.
        assert.strictEqual(yield* guestError(linker.process(text("readlink abs-leak.txt"))), "not-permitted")
        assert.strictEqual(decode(yield* linker.process(text("readlink leak.txt"))), "../outside/secret.txt")
        assert.isFalse(linker.poisoned)
      }).pipe(Effect.provide(host(sandbox, auditFile)))
      const after = snapshot(root)
      delete after["audit.jsonl"]
      assert.deepStrictEqual(after, before)
      // Nothing touched outside either: the secret's times are as they were.
      assert.notStrictEqual(fs.statSync(path.join(root, "outside", "secret.txt")).mtimeMs, 1234567890500)
      yield* Audit.verifyFile(auditFile)
    }))
})
