import { assert, describe, it } from "@effect/vitest"
import { Effect, Glob, Result } from "effect"
import * as Capability from "../src/Capability.ts"
import { matchesPathGlob, pathRuleKind } from "../src/internal/host/capabilityMatch.ts"

const grantsOf = (config: ReadonlyArray<Record<string, unknown>>) => Capability.decodeGrants(config)

const configError = (config: unknown) =>
  Capability.decode(config).pipe(
    Effect.flip,
    Effect.map((error) => ({ reason: error.reason, index: error.index, field: error.field }))
  )

const everyKind = [
  { type: "FileRead", glob: "/data/**/*.txt" },
  { type: "FileWrite", glob: "/tmp/plugin/**" },
  { type: "NetworkOutbound", host: "*.example.com", port: 443 },
  { type: "NetworkOutbound", host: "api.partner.net" },
  { type: "Messaging", pattern: "orders.*" },
  { type: "Storage", namespace: "plugin-a" },
  { type: "Custom", interface: "game:api/weapons", scope: "weapons" }
]

describe("Capability", () => {
  describe("decode", () => {
    it.effect("decode - every kind decodes from config and encodes back to it", () =>
      Effect.gen(function*() {
        const capabilities = yield* Capability.decode(everyKind)
        assert.deepStrictEqual(capabilities.map((capability) => capability._tag), [
          "FileRead",
          "FileWrite",
          "NetworkOutbound",
          "NetworkOutbound",
          "Messaging",
          "Storage",
          "Custom"
        ])
        assert.instanceOf(capabilities[0], Capability.FileRead)
        assert.strictEqual((capabilities[2] as Capability.NetworkOutbound).port, 443)
        assert.isFalse("port" in capabilities[3]!)
        assert.deepStrictEqual<unknown>(Capability.encode(capabilities), everyKind)
      }))

    it.effect("decode - an empty list is valid and grants nothing", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* Capability.decode([]), [])
      }))

    const bad: ReadonlyArray<[string, unknown, { reason: Capability.ConfigFailure; index?: number; field?: string }]> = [
      ["not a list", { type: "FileRead", glob: "/x" }, { reason: "Malformed" }],
      ["an entry that is not an object", [{ type: "Storage", namespace: "a" }, 3], { reason: "Malformed", index: 1 }],
      ["unknown type", [{ type: "FileReed", glob: "/x" }], { reason: "UnknownType", index: 0, field: "type" }],
      ["missing type", [{ glob: "/x" }], { reason: "MissingField", index: 0, field: "type" }],
      ["_tag instead of type", [{ _tag: "FileRead", glob: "/x" }], { reason: "MissingField", index: 0, field: "type" }],
      ["missing field", [{ type: "FileRead" }], { reason: "MissingField", index: 0, field: "glob" }],
      ["missing scope", [{ type: "Custom", interface: "game:api/weapons" }], { reason: "MissingField", index: 0, field: "scope" }],
      ["unknown field (a typo)", [{ type: "NetworkOutbound", host: "a.com", ports: 443 }], {
        reason: "UnknownField",
        index: 0,
        field: "ports"
      }],
      ["wrong field type", [{ type: "FileRead", glob: 42 }], { reason: "InvalidField", index: 0, field: "glob" }],
      ["empty glob", [{ type: "FileRead", glob: "" }], { reason: "EmptyPattern", index: 0, field: "glob" }],
      ["relative FileRead glob", [{ type: "FileRead", glob: "data/*.txt" }], { reason: "RelativePath", index: 0, field: "glob" }],
      ["relative FileWrite glob", [{ type: "FileWrite", glob: "./out/**" }], { reason: "RelativePath", index: 0, field: "glob" }],
      ["glob with ..", [{ type: "FileRead", glob: "/data/../etc/*" }], { reason: "NotCanonical", index: 0, field: "glob" }],
      ["glob with a trailing slash", [{ type: "FileRead", glob: "/data/" }], { reason: "NotCanonical", index: 0, field: "glob" }],
      ["glob with //", [{ type: "FileRead", glob: "//server/share/**" }], { reason: "NotCanonical", index: 0, field: "glob" }],
      ["host with a scheme", [{ type: "NetworkOutbound", host: "https://api.example.com" }], {
        reason: "HostWithScheme",
        index: 0,
        field: "host"
      }],
      ["host with a path", [{ type: "NetworkOutbound", host: "api.example.com/v1" }], {
        reason: "HostWithPath",
        index: 0,
        field: "host"
      }],
      ["host with a port", [{ type: "NetworkOutbound", host: "api.example.com:443" }], {
        reason: "HostWithPort",
        index: 0,
        field: "host"
      }],
      ["a CIDR range past its family's bits", [{ type: "NetworkOutbound", host: "10.0.0.0/33" }], {
        reason: "HostWithPath",
        index: 0,
        field: "host"
      }],
      ["host with an inner wildcard", [{ type: "NetworkOutbound", host: "api.*.com" }], {
        reason: "InvalidPattern",
        index: 0,
        field: "host"
      }],
      ["empty host", [{ type: "NetworkOutbound", host: "" }], { reason: "EmptyPattern", index: 0, field: "host" }],
      ["port above range", [{ type: "NetworkOutbound", host: "a.com", port: 65536 }], {
        reason: "PortOutOfRange",
        index: 0,
        field: "port"
      }],
      ["port zero", [{ type: "NetworkOutbound", host: "a.com", port: 0 }], { reason: "PortOutOfRange", index: 0, field: "port" }],
      ["fractional port", [{ type: "NetworkOutbound", host: "a.com", port: 80.5 }], {
        reason: "PortOutOfRange",
        index: 0,
        field: "port"
      }],
      ["port as a string", [{ type: "NetworkOutbound", host: "a.com", port: "443" }], {
        reason: "InvalidField",
        index: 0,
        field: "port"
      }],
      ["messaging ** in the middle", [{ type: "Messaging", pattern: "orders.**.eu" }], {
        reason: "InvalidPattern",
        index: 0,
        field: "pattern"
      }],
      ["messaging * inside a segment", [{ type: "Messaging", pattern: "ord*rs.new" }], {
        reason: "InvalidPattern",
        index: 0,
        field: "pattern"
      }],
      ["empty namespace", [{ type: "Storage", namespace: "" }], { reason: "EmptyPattern", index: 0, field: "namespace" }],
      ["namespace with a space", [{ type: "Storage", namespace: "my data" }], {
        reason: "InvalidPattern",
        index: 0,
        field: "namespace"
      }],
      ["bad interface name", [{ type: "Custom", interface: "weapons", scope: "x" }], {
        reason: "InvalidPattern",
        index: 0,
        field: "interface"
      }],
      ["the error names the offending entry", [{ type: "Storage", namespace: "ok" }, { type: "FileRead", glob: "rel" }], {
        reason: "RelativePath",
        index: 1,
        field: "glob"
      }]
    ]
    for (const [name, config, expected] of bad) {
      it.effect(`decode - rejects ${name}`, () =>
        Effect.gen(function*() {
          assert.deepStrictEqual(yield* configError(config), {
            reason: expected.reason,
            index: expected.index,
            field: expected.field
          })
        }))
    }

    it.effect("decode - messages say where and what", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Capability.decode([{ type: "Storage", namespace: "a" }, { type: "Nope" }]))
        assert.strictEqual(error._tag, "CapabilityConfigError")
        assert.include(error.message, "capabilities[1].type")
        assert.include(error.message, "\"Nope\"")
        assert.include(error.message, "FileRead")
      }))
  })

  describe("grants", () => {
    it.effect("emptyGrants - denies every kind of request", () =>
      Effect.gen(function*() {
        const none = Capability.emptyGrants
        assert.isFalse(Capability.allowsFileRead(none, "/"))
        assert.isFalse(Capability.allowsFileRead(none, "/data/a.txt"))
        assert.isFalse(Capability.allowsFileWrite(none, "/tmp/x"))
        assert.isFalse(Capability.allowsNetwork(none, "localhost", 80))
        assert.isFalse(Capability.allowsMessaging(none, "orders.created"))
        assert.isFalse(Capability.allowsStorage(none, "default"))
        assert.isFalse(Capability.allowsCustom(none, "game:api/weapons", "weapons"))
        const fromEmptyConfig = yield* Capability.decodeGrants([])
        assert.isFalse(Capability.allowsFileRead(fromEmptyConfig, "/data/a.txt"))
      }))

    it.effect("makeGrants - keeps the capabilities it was made from", () =>
      Effect.gen(function*() {
        const grants = yield* grantsOf(everyKind)
        assert.isTrue(Capability.isGrants(grants))
        assert.strictEqual(grants.capabilities.length, everyKind.length)
      }))
  })

  describe("files", () => {
    it.effect("allowsFileRead - /data/**/*.txt grants .txt files at any depth under /data, and nothing else", () =>
      Effect.gen(function*() {
        const grants = yield* grantsOf([{ type: "FileRead", glob: "/data/**/*.txt" }])
        for (const path of ["/data/a.txt", "/data/x/y/z.txt", "/data/.hidden/notes.txt", "/data/.txt"]) {
          assert.isTrue(Capability.allowsFileRead(grants, path), path)
        }
        for (
          const path of [
            "/data/a.csv",
            "/data/a.txt/inner",
            "/data2/a.txt",
            "/dat/a.txt",
            "/data",
            "/etc/passwd",
            "/data/x/../../etc/a.txt",
            "/data//a.txt",
            "/data/./a.txt",
            "data/a.txt",
            "/data/a.txt/",
            "/data/a\0.txt"
          ]
        ) {
          assert.isFalse(Capability.allowsFileRead(grants, path), path)
        }
      }))

    it.effect("allowsFileRead - a subtree grant covers the directory and everything in it, dotfiles included", () =>
      Effect.gen(function*() {
        const grants = yield* grantsOf([{ type: "FileRead", glob: "/data/**" }, { type: "FileRead", glob: "/etc/hosts" }])
        assert.isTrue(Capability.allowsFileRead(grants, "/data"))
        assert.isTrue(Capability.allowsFileRead(grants, "/data/a/b/c"))
        assert.isTrue(Capability.allowsFileRead(grants, "/data/.env"))
        assert.isTrue(Capability.allowsFileRead(grants, "/etc/hosts"))
        assert.isFalse(Capability.allowsFileRead(grants, "/database/a"))
        assert.isFalse(Capability.allowsFileRead(grants, "/etc/hosts.allow"))
        assert.isFalse(Capability.allowsFileRead(grants, "/etc/passwd"))
      }))

    it.effect("allowsFileRead - brace and class globs go through effect's Glob", () =>
      Effect.gen(function*() {
        const grants = yield* grantsOf([{ type: "FileRead", glob: "/var/log/{app,db}/[a-c]*.log" }])
        assert.isTrue(Capability.allowsFileRead(grants, "/var/log/app/access.log"))
        assert.isTrue(Capability.allowsFileRead(grants, "/var/log/db/checkpoint.log"))
        assert.isFalse(Capability.allowsFileRead(grants, "/var/log/db/slow.log"))
        assert.isFalse(Capability.allowsFileRead(grants, "/var/log/web/access.log"))
      }))

    it.effect("allowsFileWrite - read and write grants are separate", () =>
      Effect.gen(function*() {
        const grants = yield* grantsOf([
          { type: "FileRead", glob: "/data/**" },
          { type: "FileWrite", glob: "/tmp/out/*" }
        ])
        assert.isTrue(Capability.allowsFileRead(grants, "/data/a"))
        assert.isFalse(Capability.allowsFileWrite(grants, "/data/a"))
        assert.isTrue(Capability.allowsFileWrite(grants, "/tmp/out/result.json"))
        assert.isFalse(Capability.allowsFileWrite(grants, "/tmp/out/nested/result.json"))
        assert.isFalse(Capability.allowsFileRead(grants, "/tmp/out/result.json"))
      }))

    it("string matchers - agree with effect's Glob on canonical paths", () => {
      const globs = [
        "/data/**",
        "/**",
        "/data/*",
        "/data/*.txt",
        "/data/report-*",
        "/data/report-*.csv",
        "/data/**/*.txt",
        "/data/**/*",
        "/data/**/log-*.txt",
        "/**/*.txt",
        "/data/*/x.txt",
        "/data/**/x/*.txt",
        "/data/?.txt",
        "/data/{a,b}.txt",
        "/data/[ab]*.txt",
        "/data/a.txt",
        "/*",
        "/*.txt",
        "/data/.*",
        "/data/**/.*",
        "/data/\\*"
      ]
      const paths = [
        "/",
        "/data",
        "/database",
        "/data/a.txt",
        "/data/b.txt",
        "/data/ab.txt",
        "/data/.txt",
        "/data/.hidden",
        "/data/.hidden/a.txt",
        "/data/x.txt",
        "/data/x/x.txt",
        "/data/x/y/x.txt",
        "/data/x/y/z.txt",
        "/data/x/a.txt.bak",
        "/data/report-",
        "/data/report-1",
        "/data/report-1.csv",
        "/data/report-1.csv/x",
        "/data/log-1.txt",
        "/data/q/log-2.txt",
        "/data/q/xlog-2.txt",
        "/other/a.txt",
        "/a.txt",
        "/data/a.txt/b",
        "/.env",
        "/data/.env",
        "/data/x/.env",
        "/data/*"
      ]
      for (const glob of globs) {
        const reference = Glob.make(glob, { dot: true })
        for (const path of paths) {
          assert.strictEqual(matchesPathGlob(glob, path), Glob.match(reference, path), `${glob} vs ${path}`)
        }
      }
      // The string matchers are actually used for the common shapes.
      assert.deepStrictEqual(
        ["/a", "/a/**", "/a/*.txt", "/a/**/*.txt", "/a/{b,c}"].map(pathRuleKind),
        ["Exact", "Subtree", "Child", "Descendant", "Glob"]
      )
    })
  })

  describe("network", () => {
    it.effect("allowsNetwork - an exact host with a port", () =>
      Effect.gen(function*() {
        const grants = yield* grantsOf([{ type: "NetworkOutbound", host: "api.example.com", port: 443 }])
        assert.isTrue(Capability.allowsNetwork(grants, "api.example.com", 443))
        assert.isTrue(Capability.allowsNetwork(grants, "API.Example.COM", 443))
        assert.isTrue(Capability.allowsNetwork(grants, "api.example.com.", 443))
        assert.isFalse(Capability.allowsNetwork(grants, "api.example.com", 80))
        assert.isFalse(Capability.allowsNetwork(grants, "www.example.com", 443))
        assert.isFalse(Capability.allowsNetwork(grants, "x.api.example.com", 443))
      }))

    it.effect("allowsNetwork - *.example.com covers subdomains at any depth, not the domain or look-alikes", () =>
      Effect.gen(function*() {
        const grants = yield* grantsOf([{ type: "NetworkOutbound", host: "*.example.com" }])
        assert.isTrue(Capability.allowsNetwork(grants, "a.example.com", 443))
        assert.isTrue(Capability.allowsNetwork(grants, "a.b.example.com", 8080))
        assert.isFalse(Capability.allowsNetwork(grants, "example.com", 443))
        assert.isFalse(Capability.allowsNetwork(grants, "evilexample.com", 443))
        assert.isFalse(Capability.allowsNetwork(grants, "example.com.evil.net", 443))
      }))

    it.effect("allowsNetwork - ports add up per host, * alone is any host", () =>
      Effect.gen(function*() {
        const grants = yield* grantsOf([
          { type: "NetworkOutbound", host: "db.internal", port: 5432 },
          { type: "NetworkOutbound", host: "db.internal", port: 6432 },
          { type: "NetworkOutbound", host: "*", port: 443 }
        ])
        assert.isTrue(Capability.allowsNetwork(grants, "db.internal", 5432))
        assert.isTrue(Capability.allowsNetwork(grants, "db.internal", 6432))
        assert.isFalse(Capability.allowsNetwork(grants, "db.internal", 5433))
        assert.isTrue(Capability.allowsNetwork(grants, "anything.org", 443))
        assert.isTrue(Capability.allowsNetwork(grants, "10.0.0.1", 443))
        assert.isFalse(Capability.allowsNetwork(grants, "anything.org", 80))
      }))

    it.effect("address grants: an address or CIDR range (IPv4, IPv6) covers literals and resolved addresses; name grants cover none", () =>
      Effect.gen(function*() {
        const grants = yield* grantsOf([
          { type: "NetworkOutbound", host: "*" },
          { type: "NetworkOutbound", host: "10.0.0.0/8", port: 8080 },
          { type: "NetworkOutbound", host: "::1" },
          { type: "NetworkOutbound", host: "fd00::/8" },
          { type: "NetworkOutbound", host: "[fe80::1]" }
        ])
        // The name check: `*` covers any host, IPv6 literals (bracketed, as in a URL) included.
        assert.isTrue(Capability.allowsNetwork(grants, "[::1]", 443))
        // The address check: only address grants cover special-purpose addresses.
        assert.isTrue(Capability.allowsAddress(grants, "10.1.2.3", 8080))
        assert.isFalse(Capability.allowsAddress(grants, "10.1.2.3", 80))
        assert.isTrue(Capability.allowsAddress(grants, "::1", 443))
        assert.isTrue(Capability.allowsAddress(grants, "0:0:0:0:0:0:0:1", 443))
        assert.isTrue(Capability.allowsAddress(grants, "fd12:3456::1", 1))
        assert.isTrue(Capability.allowsAddress(grants, "fe80::1", 1))
        assert.isFalse(Capability.allowsAddress(grants, "fe80::2", 1))
        assert.isFalse(Capability.allowsAddress(grants, "127.0.0.1", 443))
        // IPv4-mapped IPv6 is its IPv4 address.
        assert.isTrue(Capability.allowsAddress(grants, "::ffff:10.9.9.9", 8080))
        assert.isFalse(Capability.allowsAddress(grants, "not an address", 443))
        // A name grant never counts as an address grant, whatever the name looks like.
        const named = yield* grantsOf([{ type: "NetworkOutbound", host: "localhost" }])
        assert.isFalse(Capability.allowsAddress(named, "127.0.0.1", 80))
      }))

    it.effect("allowsNetwork - requests that are not a host name and a valid port are denied", () =>
      Effect.gen(function*() {
        const grants = yield* grantsOf([{ type: "NetworkOutbound", host: "*" }])
        assert.isTrue(Capability.allowsNetwork(grants, "ok.example.com", 1))
        for (
          const host of [
            "",
            "evil.com/x.example.com",
            "a.example.com:443",
            "user@a.example.com",
            "a..example.com",
            ".example.com",
            "-a.example.com",
            "a.example.com\0",
            "[::1",
            "[127.0.0.1]"
          ]
        ) {
          assert.isFalse(Capability.allowsNetwork(grants, host, 443), host)
        }
        for (const port of [0, -1, 65536, 80.5, Number.NaN]) {
          assert.isFalse(Capability.allowsNetwork(grants, "ok.example.com", port), String(port))
        }
      }))
  })

  describe("names", () => {
    it.effect("allowsMessaging - * is one segment, ** is the rest, other characters are literal", () =>
      Effect.gen(function*() {
        const grants = yield* grantsOf([
          { type: "Messaging", pattern: "orders.*" },
          { type: "Messaging", pattern: "audit.**" },
          { type: "Messaging", pattern: "component:billing" },
          { type: "Messaging", pattern: "worker:*" },
          { type: "Messaging", pattern: "a+b" }
        ])
        assert.isTrue(Capability.allowsMessaging(grants, "orders.created"))
        assert.isFalse(Capability.allowsMessaging(grants, "orders"))
        assert.isFalse(Capability.allowsMessaging(grants, "orders."))
        assert.isFalse(Capability.allowsMessaging(grants, "orders.eu.created"))
        assert.isFalse(Capability.allowsMessaging(grants, "ordersX.created"))
        assert.isTrue(Capability.allowsMessaging(grants, "audit.eu.login"))
        assert.isFalse(Capability.allowsMessaging(grants, "audit"))
        assert.isTrue(Capability.allowsMessaging(grants, "component:billing"))
        assert.isFalse(Capability.allowsMessaging(grants, "component:billing2"))
        assert.isTrue(Capability.allowsMessaging(grants, "worker:7"))
        assert.isFalse(Capability.allowsMessaging(grants, "worker:7.shadow"))
        assert.isTrue(Capability.allowsMessaging(grants, "a+b"))
        assert.isFalse(Capability.allowsMessaging(grants, "aab"))
      }))

    it.effect("allowsStorage - exact and wildcard namespaces", () =>
      Effect.gen(function*() {
        const grants = yield* grantsOf([
          { type: "Storage", namespace: "plugin-a" },
          { type: "Storage", namespace: "cache.*" }
        ])
        assert.isTrue(Capability.allowsStorage(grants, "plugin-a"))
        assert.isTrue(Capability.allowsStorage(grants, "cache.images"))
        assert.isFalse(Capability.allowsStorage(grants, "plugin-b"))
        assert.isFalse(Capability.allowsStorage(grants, "cache"))
        assert.isFalse(Capability.allowsStorage(grants, "plugin-a.secrets"))
      }))

    it.effect("allowsCustom - an unversioned grant covers every version; scopes are name patterns", () =>
      Effect.gen(function*() {
        const grants = yield* grantsOf([
          { type: "Custom", interface: "game:api/weapons", scope: "weapons.*" },
          { type: "Custom", interface: "game:api/economy@2.0.0", scope: "shop" }
        ])
        assert.isTrue(Capability.allowsCustom(grants, "game:api/weapons", "weapons.fire"))
        assert.isTrue(Capability.allowsCustom(grants, "game:api/weapons@1.3.0", "weapons.reload"))
        assert.isFalse(Capability.allowsCustom(grants, "game:api/weapons", "armor.equip"))
        assert.isFalse(Capability.allowsCustom(grants, "game:api/weaponsmith", "weapons.fire"))
        assert.isTrue(Capability.allowsCustom(grants, "game:api/economy@2.0.0", "shop"))
        assert.isFalse(Capability.allowsCustom(grants, "game:api/economy@3.0.0", "shop"))
        assert.isFalse(Capability.allowsCustom(grants, "game:api/economy", "shop"))
      }))
  })

  describe("check", () => {
    it.effect("check - the decision for each kind of request, and the resource it is about", () =>
      Effect.gen(function*() {
        const grants = yield* grantsOf(everyKind)
        const cases: ReadonlyArray<[Capability.Request, Capability.Decision, string]> = [
          [{ _tag: "FileRead", path: "/data/a/b.txt" }, "granted", "/data/a/b.txt"],
          [{ _tag: "FileRead", path: "/data/a/b.csv" }, "denied", "/data/a/b.csv"],
          [{ _tag: "FileWrite", path: "/tmp/plugin/x" }, "granted", "/tmp/plugin/x"],
          [{ _tag: "FileWrite", path: "/data/a.txt" }, "denied", "/data/a.txt"],
          [{ _tag: "NetworkOutbound", host: "cdn.example.com", port: 443 }, "granted", "cdn.example.com:443"],
          [{ _tag: "NetworkOutbound", host: "cdn.example.com", port: 80 }, "denied", "cdn.example.com:80"],
          [{ _tag: "NetworkOutbound", host: "api.partner.net", port: 8443 }, "granted", "api.partner.net:8443"],
          [{ _tag: "Messaging", target: "orders.paid" }, "granted", "orders.paid"],
          [{ _tag: "Messaging", target: "payments.paid" }, "denied", "payments.paid"],
          [{ _tag: "Storage", namespace: "plugin-a" }, "granted", "plugin-a"],
          [{ _tag: "Storage", namespace: "plugin-b" }, "denied", "plugin-b"],
          [{ _tag: "Custom", interface: "game:api/weapons", scope: "weapons" }, "granted", "game:api/weapons#weapons"],
          [{ _tag: "Custom", interface: "game:api/weapons", scope: "armor" }, "denied", "game:api/weapons#armor"]
        ]
        for (const [request, decision, resource] of cases) {
          assert.strictEqual(Capability.check(grants, request), decision, JSON.stringify(request))
          assert.strictEqual(Capability.resourceOf(request), resource)
        }
        // A request built without the types, of a kind with no check (or a name off Object.prototype), is denied.
        for (const _tag of ["Environment", "toString", "constructor", "__proto__"]) {
          assert.strictEqual(Capability.check(grants, { _tag } as unknown as Capability.Request), "denied", _tag)
        }
      }))
  })

  describe("canonicalize", () => {
    const ok = (root: string, requested: string) => Result.getOrThrow(Capability.canonicalize(root, requested))
    const refused = (root: string, requested: string) => {
      const result = Capability.canonicalize(root, requested)
      return Result.isFailure(result) ? result.failure.reason : `accepted as ${result.success}`
    }

    it("canonicalize - resolves relative and absolute paths inside the root", () => {
      assert.strictEqual(ok("/sandbox", "a/b.txt"), "/sandbox/a/b.txt")
      assert.strictEqual(ok("/sandbox", "./a//b/./c"), "/sandbox/a/b/c")
      assert.strictEqual(ok("/sandbox", "a/../b"), "/sandbox/b")
      assert.strictEqual(ok("/sandbox", "."), "/sandbox")
      assert.strictEqual(ok("/sandbox", "a/"), "/sandbox/a")
      assert.strictEqual(ok("/sandbox/", "a"), "/sandbox/a")
      assert.strictEqual(ok("/sandbox", "/sandbox/a/b"), "/sandbox/a/b")
      assert.strictEqual(ok("/sandbox", "/sandbox"), "/sandbox")
      assert.strictEqual(ok("/", "etc/hosts"), "/etc/hosts")
      assert.strictEqual(ok("/", "/etc/hosts"), "/etc/hosts")
      assert.strictEqual(ok("/sandbox", "100%.txt"), "/sandbox/100%.txt")
      assert.strictEqual(ok("/sandbox", "café/menü.txt"), "/sandbox/café/menü.txt")
      assert.isTrue(Capability.isCanonical(ok("/sandbox", "x/./y/../z")))
    })

    it("canonicalize - refuses .. escapes, paths outside, encodings, NUL and backslashes", () => {
      const cases: ReadonlyArray<[string, string, Capability.PathFailure]> = [
        ["/sandbox", "..", "Escape"],
        ["/sandbox", "../etc/passwd", "Escape"],
        ["/sandbox", "a/../../etc/passwd", "Escape"],
        ["/sandbox", "a/../../sandbox/a", "Escape"],
        ["/sandbox", "/sandbox/../etc/passwd", "Escape"],
        ["/", "..", "Escape"],
        ["/sandbox", "/etc/passwd", "Outside"],
        ["/sandbox", "/sandboxed/secret", "Outside"],
        ["/sandbox", "/", "Outside"],
        ["/sandbox", "%2e%2e/etc/passwd", "Encoded"],
        ["/sandbox", "%2E%2E%2Fetc%2Fpasswd", "Encoded"],
        ["/sandbox", "a/%252e%252e/b", "Encoded"],
        ["/sandbox", "..%2fetc", "Encoded"],
        ["/sandbox", "%00", "Encoded"],
        ["/sandbox", "\uff0e\uff0e/etc/passwd", "Encoded"],
        ["/sandbox", "a\uff0fb", "Encoded"],
        ["/sandbox", "a\0.txt", "NulByte"],
        ["/sandbox", "..\\etc\\passwd", "Backslash"],
        ["/sandbox", "", "Empty"],
        ["/sandbox", "a/".repeat(2049), "TooLong"],
        ["sandbox", "a", "InvalidRoot"],
        ["/sandbox/../etc", "a", "InvalidRoot"],
        ["", "a", "InvalidRoot"]
      ]
      for (const [root, requested, reason] of cases) {
        assert.strictEqual(refused(root, requested), reason, `${root} + ${JSON.stringify(requested)}`)
      }
    })

    it("canonicalize - the error says what was refused", () => {
      const result = Capability.canonicalize("/sandbox", "../x")
      assert.isTrue(Result.isFailure(result))
      if (Result.isFailure(result)) {
        assert.strictEqual(result.failure._tag, "PathError")
        assert.strictEqual(result.failure.root, "/sandbox")
        assert.strictEqual(result.failure.path, "../x")
        assert.include(result.failure.message, "climbs above /sandbox")
      }
    })
  })
})
