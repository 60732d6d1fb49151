import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, Effect, Exit, Layer, Logger, References, Scope } from "effect"
import * as ConfigProvider from "effect/ConfigProvider"
import { TestClock } from "effect/testing"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Audit from "../src/Audit.ts"
import * as AuditRecorder from "../src/internal/audit/auditRecorder.ts"
import { failuresUnderEnv } from "./fixtures.ts"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "airssys-audit-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const fileRead = (resource: string, decision: "granted" | "denied" = "granted"): Audit.Entry => ({
  kind: "capability",
  component: "billing",
  capability: "FileRead",
  resource,
  decision
})

/** Records `count` events (a mix of kinds) with a fresh JSONL layer; returns the chain head. */
const writeLog = (file: string, count: number, first = 1) =>
  Effect.gen(function*() {
    const audit = yield* Audit.Audit
    for (let i = first; i < first + count; i++) {
      yield* audit.record(
        i % 3 === 0
          ? { kind: "lifecycle", component: "billing", action: "restarted", detail: `attempt ${i}` }
          : fileRead(`/data/${i}.txt`)
      )
    }
    return yield* audit.head
  }).pipe(Effect.provide(Audit.layerJsonl(file)))

const lines = (file: string): Array<string> => fs.readFileSync(file, "utf8").split("\n").slice(0, -1)
const writeLines = (file: string, content: ReadonlyArray<string>, newline = true) =>
  fs.writeFileSync(file, content.join("\n") + (newline ? "\n" : ""))

const violation = (file: string, options?: Audit.VerifyOptions) =>
  Audit.verifyFile(file, options).pipe(
    Effect.flip,
    Effect.map((error) => ({ reason: error.reason, line: error._tag === "VerifyError" ? error.line : -1 }))
  )

const genesisHash = "0".repeat(64)

describe("Audit", () => {
  describe("record", () => {
    it.effect("record - stamps sequence and Clock time, and links each event to the previous one's hash", () =>
      Effect.gen(function*() {
        const start = yield* Clock.currentTimeMillis
        const audit = yield* Audit.Audit
        yield* audit.record(fileRead("/data/a.txt"))
        yield* TestClock.adjust("1500 millis")
        yield* audit.record({ kind: "lifecycle", component: "billing", action: "started" })
        yield* TestClock.adjust("1 minute")
        yield* audit.record(fileRead("/etc/passwd", "denied"))
        const events = yield* Audit.events
        assert.deepStrictEqual(events.map((event) => event.sequence), [1, 2, 3])
        assert.deepStrictEqual(events.map((event) => event.time), [start, start + 1500, start + 61_500])
        assert.strictEqual(events[0]!.prev, genesisHash)
        assert.strictEqual(events[1]!.prev, events[0]!.hash)
        assert.strictEqual(events[2]!.prev, events[1]!.hash)
        assert.strictEqual(new Set(events.map((event) => event.hash)).size, 3)
        assert.deepStrictEqual(
          [events[1]!.kind, events[1]!.action, events[1]!.decision],
          ["lifecycle", "started", undefined]
        )
        assert.deepStrictEqual([events[2]!.capability, events[2]!.resource, events[2]!.decision], [
          "FileRead",
          "/etc/passwd",
          "denied"
        ])
        assert.deepStrictEqual(yield* audit.head, { sequence: 3, hash: events[2]!.hash })
      }).pipe(Effect.provide(Audit.layerMemory({ capacity: 10 }))))

    it.effect("record - hash is sha-256 of the event's canonical JSON, prev included", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(1_700_000_000_000)
        yield* Audit.record({ ...fileRead("/data/\"quoted\"\n.txt"), detail: "ünïcode" })
        const [event] = yield* Audit.events
        const canonical = `{"sequence":1,"time":1700000000000,"component":"billing","kind":"capability",` +
          `"capability":"FileRead","resource":"/data/\\"quoted\\"\\n.txt","decision":"granted","detail":"ünïcode",` +
          `"prev":"${genesisHash}"}`
        assert.strictEqual(event!.hash, crypto.createHash("sha256").update(canonical, "utf8").digest("hex"))
      }).pipe(Effect.provide(Audit.layerMemory({ capacity: 1 }))))

    it.effect("layerMemory - the ring keeps the newest `capacity` events, oldest first", () =>
      Effect.gen(function*() {
        for (let i = 1; i <= 5; i++) yield* Audit.record(fileRead(`/data/${i}`))
        const events = yield* Audit.events
        assert.deepStrictEqual(events.map((event) => event.sequence), [3, 4, 5])
        assert.deepStrictEqual(events.map((event) => event.resource), ["/data/3", "/data/4", "/data/5"])
        yield* Audit.record(fileRead("/data/6"))
        assert.deepStrictEqual((yield* Audit.events).map((event) => event.sequence), [4, 5, 6])
      }).pipe(Effect.provide(Audit.layerMemory({ capacity: 3 }))))

    it.effect("layerLogger - logs every event to the fiber's loggers, denials as warnings, above the minimum level only", () =>
      Effect.gen(function*() {
        const logged: Array<{ level: string; summary: unknown }> = []
        const capture = Logger.make((options) => {
          logged.push({ level: options.logLevel, summary: (options.message as ReadonlyArray<unknown>)[0] })
        })
        const program = Effect.gen(function*() {
          yield* Audit.record(fileRead("/data/a.txt"))
          yield* Audit.record(fileRead("/etc/shadow", "denied"))
          yield* Audit.record(fileRead("/data/b.txt")).pipe(Effect.provideService(References.MinimumLogLevel, "Warn"))
        })
        yield* program.pipe(Effect.provide(Layer.merge(Audit.layerLogger, Logger.layer([capture]))))
        assert.deepStrictEqual(logged, [
          { level: "Info", summary: "audit #1 billing FileRead /data/a.txt granted" },
          { level: "Warn", summary: "audit #2 billing FileRead /etc/shadow denied" }
        ])
      }))

    it.effect("record - a sink that fails makes record die rather than drop the event", () =>
      Effect.gen(function*() {
        const failing: Audit.Sink = {
          write: () => {
            throw new Error("disk full")
          }
        }
        const audit = yield* Audit.make([failing])
        const exit = yield* Effect.exit(audit.record(fileRead("/data/a.txt")))
        assert.isTrue(Exit.hasDies(exit))
      }))
  })

  describe("layerConfig", () => {
    it.effect("layerConfig - the sink read from AUDIT_* names: jsonl with its path, memory with its capacity, the logger", () =>
      Effect.gen(function*() {
        const file = path.join(yield* tempDir, "audit.jsonl")
        const configured = (provider: ConfigProvider.ConfigProvider) =>
          Audit.layerConfig().pipe(Layer.provide(ConfigProvider.layer(provider)))
        yield* Effect.gen(function*() {
          for (let i = 0; i < 3; i++) yield* Audit.record(fileRead(`/data/${i}`))
        }).pipe(Effect.provide(configured(ConfigProvider.fromEnv({ env: { AUDIT_SINK: "jsonl", AUDIT_PATH: file } }))))
        assert.strictEqual((yield* Audit.verifyFile(file)).events, 3)
        const memory = yield* Effect.gen(function*() {
          for (let i = 0; i < 3; i++) yield* Audit.record(fileRead(`/data/${i}`))
          const sink = (yield* Audit.Audit).sinks[0] as Audit.MemorySink
          return (yield* sink.events).map((event) => event.resource)
        }).pipe(Effect.provide(configured(ConfigProvider.fromUnknown({ AUDIT: { SINK: "memory", CAPACITY: 2 } }))))
        assert.deepStrictEqual(memory, ["/data/1", "/data/2"])
        const sinks = yield* Audit.Audit.use((audit) => Effect.succeed(audit.sinks)).pipe(
          Effect.provide(configured(ConfigProvider.fromEnv({ env: { AUDIT_SINK: "logger" } })))
        )
        assert.deepStrictEqual(sinks, [Audit.loggerSink])
        assert.deepStrictEqual(yield* Audit.config.parse(ConfigProvider.fromUnknown({})), { sink: "memory", capacity: 10_000 })
      }))

    it.effect("layerConfig - an unknown sink, jsonl without a path, a bad capacity or fsync flag is a ConfigError", () =>
      Effect.gen(function*() {
        const envs = [
          { AUDIT_SINK: "disk" },
          { AUDIT_SINK: "jsonl" },
          { AUDIT_SINK: "jsonl", AUDIT_PATH: "audit.jsonl", AUDIT_FSYNC: "maybe" },
          { AUDIT_CAPACITY: "0" },
          { AUDIT_CAPACITY: "many" }
        ]
        assert.deepStrictEqual(yield* failuresUnderEnv(envs, Layer.build(Audit.layerConfig())), envs.map(() => "ConfigError"))
      }))
  })

  describe("batches", () => {
    const nextTick = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
    const entries = (count: number): Array<Audit.Entry> =>
      Array.from({ length: count }, (_, i) =>
        i % 4 === 3 ? { kind: "lifecycle", component: "billing", action: "stopped", detail: `n${i}` } : fileRead(`/data/${i}`, i % 2 ? "denied" : "granted"))

    it.effect("batched - the chain is the one sealing each event on its own would give", () =>
      Effect.gen(function*() {
        const sealedOneByOne: Array<Audit.AuditEvent> = []
        const eager = yield* Audit.make([{ write: (event) => void sealedOneByOne.push(event) }])
        const memory = Audit.memorySink({ capacity: 100 })
        const batched = yield* Audit.make([memory])
        for (const [i, entry] of entries(10).entries()) {
          yield* eager.record(entry)
          yield* batched.record(entry)
          if (i === 4) yield* TestClock.adjust("1 second")
        }
        // Nothing sealed yet: the batch waits for the end of the tick, or a read.
        assert.strictEqual(sealedOneByOne.length, 10)
        assert.deepStrictEqual(yield* memory.events, sealedOneByOne)
        assert.deepStrictEqual(yield* batched.head, yield* eager.head)
      }))

    it.effect("layerJsonl - lines reach the file at the end of the tick, in one write per batch, and at close", () =>
      Effect.gen(function*() {
        const file = path.join(yield* tempDir, "audit.jsonl")
        yield* Effect.gen(function*() {
          const audit = yield* Audit.Audit
          for (const entry of entries(3)) yield* audit.record(entry)
          assert.strictEqual(fs.readFileSync(file, "utf8"), "")
          yield* nextTick
          assert.strictEqual(lines(file).length, 3)
          yield* audit.record(fileRead("/data/last"))
        }).pipe(Effect.provide(Audit.layerJsonl(file)))
        // The layer's close flushed the last one.
        assert.strictEqual((yield* Audit.verifyFile(file)).events, 4)
      }))

    it.effect("layerJsonl - a guest that never yields fills at most maxPending before a synchronous flush", () =>
      Effect.gen(function*() {
        const file = path.join(yield* tempDir, "audit.jsonl")
        yield* Effect.gen(function*() {
          const audit = yield* Audit.Audit
          // As a guest's host calls come: one synchronous stretch that never returns to the event loop.
          yield* Effect.withFiber((fiber) => {
            const fast = AuditRecorder.fastPathOf(audit)!
            for (let i = 0; i < Audit.maxPending + 10; i++) fast.recordUnsafe(fileRead(`/data/${i}`), fiber)
            return Effect.void
          })
          assert.strictEqual(lines(file).length, Audit.maxPending)
        }).pipe(Effect.provide(Audit.layerJsonl(file)))
        assert.strictEqual((yield* Audit.verifyFile(file)).events, Audit.maxPending + 10)
      }))

    it.effect("layerJsonl with fsync - every line is in the file when record returns", () =>
      Effect.gen(function*() {
        const file = path.join(yield* tempDir, "audit.jsonl")
        yield* Effect.gen(function*() {
          yield* Audit.record(fileRead("/data/a"))
          assert.strictEqual(lines(file).length, 1)
        }).pipe(Effect.provide(Audit.layerJsonl(file, { fsync: true })))
      }))

    it.effect("batched - a batch that fails to flush at the end of a tick is logged, and the next record dies with AuditError Unwritable", () =>
      Effect.gen(function*() {
        let fail = false
        const logged: Array<{ level: string; message: unknown }> = []
        const capture = Logger.make((options) => {
          logged.push({ level: options.logLevel, message: (options.message as ReadonlyArray<unknown>)[0] })
        })
        const audit = yield* Audit.make([{
          write: () => {},
          writeBatch: () => {
            if (fail) throw new Error("disk full")
          }
        }]).pipe(Effect.provide(Logger.layer([capture])))
        yield* audit.record(fileRead("/data/a"))
        yield* audit.flush
        fail = true
        yield* audit.record(fileRead("/data/b"))
        assert.deepStrictEqual(logged, [])
        yield* nextTick
        // The flushing fiber (forked with the audit, under its logger) reported the failure.
        assert.deepStrictEqual(logged, [{ level: "Error", message: "airssys-wasm: audit events could not be written; the next record dies" }])
        const exit = yield* Effect.exit(audit.record(fileRead("/data/c")))
        assert.isTrue(Exit.hasDies(exit))
        const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        assert.instanceOf(defect, Audit.AuditError)
        assert.strictEqual((defect as Audit.AuditError).reason, "Unwritable")
        assert.include((defect as Audit.AuditError).message, "disk full")
        assert.isTrue(Exit.hasDies(yield* Effect.exit(audit.head)))
      }))
    it.effect("batched - an entry recorded again is encoded afresh unless frozen; either way the chain verifies", () =>
      Effect.gen(function*() {
        let text = ""
        const audit = yield* Audit.make([{ write: () => {}, writeBatch: (_events, lines) => void (text += lines) }])
        const frozen = Object.freeze(fileRead("/data/frozen"))
        // Pending entries are read when their batch is sealed: changed only after a flush.
        const reused = { kind: "capability" as const, component: "billing", capability: "FileRead", resource: "/data/one", decision: "granted" as const }
        for (let i = 0; i < 3; i++) {
          yield* audit.record(frozen)
          yield* audit.record(reused)
          yield* audit.flush
          reused.resource = `/data/${i + 2}`
          yield* TestClock.adjust("1 millis")
        }
        const head = yield* audit.head
        const events = text.trimEnd().split("\n").map((line) => JSON.parse(line) as Audit.AuditEvent)
        assert.deepStrictEqual(
          events.map((event) => `${event.resource} ${event.time}`),
          ["/data/frozen 0", "/data/one 0", "/data/frozen 1", "/data/2 1", "/data/frozen 2", "/data/3 2"]
        )
        assert.deepStrictEqual(yield* Audit.verify(text, { expect: head }), { events: 6, head })
      }))

    it.effect("recordAtUnsafe - appends stamped with the caller's time, in sequence with record; leaves a batch's last slot, a kept failure and a closed audit to record", () =>
      Effect.gen(function*() {
        let fail = false
        const written: Array<Audit.AuditEvent> = []
        let text = ""
        const scope = yield* Scope.make()
        const audit = yield* Audit.make([{
          write: () => {},
          writeBatch: (events, lines) => {
            if (fail) throw new Error("disk full")
            written.push(...events)
            text += lines
          }
        }]).pipe(Scope.provide(scope))
        const recordAt = AuditRecorder.fastPathOf(audit)!.recordAtUnsafe!
        yield* TestClock.adjust("3 millis")
        assert.isTrue(recordAt(fileRead("/data/a"), 1))
        yield* audit.record(fileRead("/data/b"))
        assert.isTrue(recordAt(fileRead("/data/c", "denied"), 2))
        assert.deepStrictEqual(written, [])
        const head = yield* audit.head
        assert.deepStrictEqual(
          written.map((event) => `${event.sequence} ${event.resource} ${event.time}`),
          ["1 /data/a 1", "2 /data/b 3", "3 /data/c 2"]
        )
        assert.deepStrictEqual(yield* Audit.verify(text, { expect: head }), { events: 3, head })

        // The append that fills the batch is record's: its synchronous flush may fail, in a fiber.
        for (let i = 0; i < Audit.maxPending - 1; i++) assert.isTrue(recordAt(fileRead(`/data/${i}`), 4))
        assert.isFalse(recordAt(fileRead("/data/full"), 4))
        yield* audit.record(fileRead("/data/full"))
        assert.strictEqual(written.length, 3 + Audit.maxPending)

        fail = true
        assert.isTrue(recordAt(fileRead("/data/lost"), 5))
        yield* nextTick
        assert.isFalse(recordAt(fileRead("/data/after"), 5))
        assert.isTrue(Exit.hasDies(yield* Effect.exit(audit.record(fileRead("/data/after")))))
        yield* Scope.close(scope, Exit.void)

        const closing = yield* Scope.make()
        const closed = yield* Audit.make([{ write: () => {}, writeBatch: () => {} }]).pipe(Scope.provide(closing))
        yield* Scope.close(closing, Exit.void)
        assert.isFalse(AuditRecorder.fastPathOf(closed)!.recordAtUnsafe!(fileRead("/data/late"), 6))
      }))
  })

  describe("jsonl", () => {
    it.effect("layerJsonl - appends one canonical line per event, in order, even from concurrent fibers", () =>
      Effect.gen(function*() {
        const file = path.join(yield* tempDir, "audit.jsonl")
        const head = yield* Effect.gen(function*() {
          const audit = yield* Audit.Audit
          yield* Effect.forEach(
            Array.from({ length: 200 }, (_, i) => i),
            (i) => Effect.yieldNow.pipe(Effect.andThen(audit.record(fileRead(`/data/${i}.txt`)))),
            { concurrency: "unbounded", discard: true }
          )
          return yield* audit.head
        }).pipe(Effect.provide(Audit.layerJsonl(file)))
        const written = lines(file)
        assert.strictEqual(written.length, 200)
        assert.deepStrictEqual(written.map((line) => JSON.parse(line).sequence), Array.from({ length: 200 }, (_, i) => i + 1))
        assert.strictEqual(JSON.parse(written[199]!).hash, head.hash)
        assert.deepStrictEqual(yield* Audit.verifyFile(file), { events: 200, head })
      }))

    it.effect("layerJsonl - a new layer on an existing file continues its chain", () =>
      Effect.gen(function*() {
        const file = path.join(yield* tempDir, "audit.jsonl")
        const first = yield* writeLog(file, 3)
        const second = yield* writeLog(file, 2, 4)
        assert.strictEqual(first.sequence, 3)
        assert.strictEqual(second.sequence, 5)
        assert.strictEqual(JSON.parse(lines(file)[3]!).prev, first.hash)
        assert.deepStrictEqual(yield* Audit.verifyFile(file, { expect: second }), { events: 5, head: second })
      }))

    it.effect("layerJsonl - refuses to continue a file whose last line is cut off", () =>
      Effect.gen(function*() {
        const file = path.join(yield* tempDir, "audit.jsonl")
        yield* writeLog(file, 2)
        fs.appendFileSync(file, "{\"sequence\":3,\"ti")
        const error = yield* Effect.flip(writeLog(file, 1))
        assert.strictEqual(error.reason, "Corrupt")
        assert.include(error.message, "cut off")
      }))

    it.effect("combine - memory and JSONL sinks get the same events behind one chain", () =>
      Effect.gen(function*() {
        const file = path.join(yield* tempDir, "audit.jsonl")
        const recorded = yield* Effect.gen(function*() {
          yield* Audit.record(fileRead("/data/a.txt"))
          yield* Audit.record({ kind: "lifecycle", component: "billing", action: "stopped" })
          return yield* Audit.events
        }).pipe(Effect.provide(Audit.combine(Audit.layerMemory({ capacity: 10 }), Audit.layerJsonl(file))))
        assert.deepStrictEqual(recorded.map((event) => event.hash), lines(file).map((line) => JSON.parse(line).hash))
        assert.strictEqual((yield* Audit.verifyFile(file)).events, 2)
      }))

    it.effect("combine - a memory sink continues the chain stored in a JSONL file", () =>
      Effect.gen(function*() {
        const file = path.join(yield* tempDir, "audit.jsonl")
        const stored = yield* writeLog(file, 4)
        const [event] = yield* Effect.gen(function*() {
          yield* Audit.record(fileRead("/data/next.txt"))
          return yield* Audit.events
        }).pipe(Effect.provide(Audit.combine(Audit.layerMemory({ capacity: 10 }), Audit.layerJsonl(file))))
        assert.strictEqual(event!.sequence, 5)
        assert.strictEqual(event!.prev, stored.hash)
      }))

    it.effect("combine - files holding different chains cannot be continued together", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        yield* writeLog(path.join(dir, "a.jsonl"), 2)
        yield* writeLog(path.join(dir, "b.jsonl"), 3)
        const error = yield* Effect.flip(
          Audit.record(fileRead("/x")).pipe(
            Effect.provide(Audit.combine(Audit.layerJsonl(path.join(dir, "a.jsonl")), Audit.layerJsonl(path.join(dir, "b.jsonl"))))
          )
        )
        assert.strictEqual(error.reason, "Diverged")
      }))
  })

  describe("verify", () => {
    /** A clean log of 6 events in a temp dir. */
    const cleanLog = Effect.gen(function*() {
      const file = path.join(yield* tempDir, "audit.jsonl")
      const head = yield* writeLog(file, 6)
      return { file, head, original: lines(file) }
    })

    it.effect("verify - a clean log passes, with its event count and head", () =>
      Effect.gen(function*() {
        const { file, head } = yield* cleanLog
        assert.deepStrictEqual(yield* Audit.verifyFile(file), { events: 6, head })
        assert.deepStrictEqual(yield* Audit.verifyFile(file, { expect: head }), { events: 6, head })
        assert.deepStrictEqual(yield* Audit.verify(""), { events: 0, head: Audit.genesis })
      }))

    it.effect("verify - an edited line is reported at that line", () =>
      Effect.gen(function*() {
        const { file, original } = yield* cleanLog
        writeLines(file, original.map((line, i) => i === 3 ? line.replace("/data/4.txt", "/data/9.txt") : line))
        assert.deepStrictEqual(yield* violation(file), { reason: "Edited", line: 4 })
      }))

    it.effect("verify - a flipped decision is an edit", () =>
      Effect.gen(function*() {
        const { file, original } = yield* cleanLog
        writeLines(file, original.map((line, i) => i === 1 ? line.replace("\"granted\"", "\"denied\"") : line))
        assert.deepStrictEqual(yield* violation(file), { reason: "Edited", line: 2 })
      }))

    it.effect("verify - an edited line with a recomputed hash breaks the link of the next line", () =>
      Effect.gen(function*() {
        const { file, original } = yield* cleanLog
        const event = JSON.parse(original[2]!)
        const { hash: _hash, ...body } = { ...event, detail: "forged" }
        const ordered = {
          sequence: body.sequence,
          time: body.time,
          component: body.component,
          kind: body.kind,
          action: body.action,
          detail: body.detail,
          prev: body.prev
        }
        const encoded = JSON.stringify(ordered)
        const forged = `${encoded.slice(0, -1)},"hash":"${crypto.hash("sha256", encoded)}"}`
        writeLines(file, original.map((line, i) => i === 2 ? forged : line))
        assert.deepStrictEqual(yield* violation(file), { reason: "Unlinked", line: 4 })
      }))

    it.effect("verify - a deleted middle line is reported where the sequence jumps", () =>
      Effect.gen(function*() {
        const { file, original } = yield* cleanLog
        writeLines(file, original.filter((_, i) => i !== 2))
        assert.deepStrictEqual(yield* violation(file), { reason: "OutOfSequence", line: 3 })
      }))

    it.effect("verify - a deleted first line is reported at line 1", () =>
      Effect.gen(function*() {
        const { file, original } = yield* cleanLog
        writeLines(file, original.slice(1))
        assert.deepStrictEqual(yield* violation(file), { reason: "OutOfSequence", line: 1 })
      }))

    it.effect("verify - reordered lines are reported at the first one out of place", () =>
      Effect.gen(function*() {
        const { file, original } = yield* cleanLog
        writeLines(file, [original[0]!, original[1]!, original[3]!, original[2]!, original[4]!, original[5]!])
        assert.deepStrictEqual(yield* violation(file), { reason: "OutOfSequence", line: 3 })
      }))

    it.effect("verify - a duplicated line is reported at the copy", () =>
      Effect.gen(function*() {
        const { file, original } = yield* cleanLog
        writeLines(file, [...original.slice(0, 4), original[3]!, ...original.slice(4)])
        assert.deepStrictEqual(yield* violation(file), { reason: "OutOfSequence", line: 5 })
      }))

    it.effect("verify - a broken JSON line is reported at that line", () =>
      Effect.gen(function*() {
        const { file, original } = yield* cleanLog
        writeLines(file, original.map((line, i) => i === 4 ? line.slice(0, 40) : line))
        assert.deepStrictEqual(yield* violation(file), { reason: "Malformed", line: 5 })
      }))

    it.effect("verify - a line with an extra field is not an audit event", () =>
      Effect.gen(function*() {
        const { file, original } = yield* cleanLog
        writeLines(file, original.map((line, i) => i === 1 ? line.replace("{", "{\"approvedBy\":\"mallory\",") : line))
        assert.deepStrictEqual(yield* violation(file), { reason: "Malformed", line: 2 })
      }))

    it.effect("verify - a cut-off last line is reported as truncated at that line", () =>
      Effect.gen(function*() {
        const { file, original } = yield* cleanLog
        writeLines(file, [...original.slice(0, 5), original[5]!.slice(0, 30)], false)
        assert.deepStrictEqual(yield* violation(file), { reason: "Truncated", line: 6 })
      }))

    it.effect("verify - whole lines cut from the tail are caught only against a stored head", () =>
      Effect.gen(function*() {
        const { file, head, original } = yield* cleanLog
        writeLines(file, original.slice(0, 4))
        assert.strictEqual((yield* Audit.verifyFile(file)).events, 4)
        assert.deepStrictEqual(yield* violation(file, { expect: head }), { reason: "Truncated", line: 5 })
      }))

    it.effect("verify - a tail rewritten after the stored head's event is caught against it", () =>
      Effect.gen(function*() {
        const { file, head } = yield* cleanLog
        const forged = { sequence: head.sequence, hash: "f".repeat(64) }
        assert.deepStrictEqual(yield* violation(file, { expect: forged }), { reason: "Diverged", line: 6 })
      }))

    it.effect("verifyFile - a missing file is an AuditError", () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const error = yield* Effect.flip(Audit.verifyFile(path.join(dir, "missing.jsonl")))
        assert.strictEqual(error._tag, "AuditError")
      }))
  })
})
