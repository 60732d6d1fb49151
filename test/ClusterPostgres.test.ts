/**
 * The cluster suites (`clusterSuite.ts`, `clusterGroupsSuite.ts`) over PostgreSQL, as on several machines: a throwaway server
 * (Debian's `postgresql`: `initdb` + `pg_ctl`) on 127.0.0.1 and a free port, in a temporary directory,
 * run as the `postgres` user when the tests run as root (CI), stopped at the end.
 *
 * Without PostgreSQL installed the suite is skipped with the command that installs it; with `CI=true`
 * that is a failure (`.ci/run` installs it).
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { clusterGroupsSuite } from "./clusterGroupsSuite.ts"
import { clusterSuite } from "./clusterSuite.ts"

const install = "apt-get install -y postgresql"

/** `initdb` and `pg_ctl` from PATH, else from Debian's versioned directory. */
const binDirectory = (): string | undefined => {
  const candidates = [
    ...(process.env.PATH ?? "").split(path.delimiter),
    ...(fs.existsSync("/usr/lib/postgresql")
      ? fs.readdirSync("/usr/lib/postgresql").sort().reverse().map((version) => path.join("/usr/lib/postgresql", version, "bin"))
      : [])
  ]
  return candidates.find((dir) => fs.existsSync(path.join(dir, "initdb")) && fs.existsSync(path.join(dir, "pg_ctl")))
}

const freePortSync = (): number =>
  Number(execFileSync(process.execPath, [
    "-e",
    "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close() })"
  ], { encoding: "utf8" }).trim())

const bin = binDirectory()

if (bin === undefined) {
  if (process.env.CI === "true") {
    it("PostgreSQL is installed for the cluster suite", () => {
      assert.fail(`initdb and pg_ctl not found: ${install}`)
    })
  } else {
    console.warn(`skipped the cluster suite on PostgreSQL: PostgreSQL is not installed (${install})`)
    describe.skip(`Cluster - PostgreSQL (not installed: ${install})`, () => {
      it("skipped", () => {})
    })
  }
} else {
  const root = process.getuid?.() === 0
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-pg-"))
  // The server refuses to run as root: hand its directory to `postgres` and run as that user.
  const asServerUser = (command: string, args: ReadonlyArray<string>) => {
    const file = path.join(bin, command)
    return root
      ? execFileSync("runuser", ["-u", "postgres", "--", file, ...args], { encoding: "utf8", stdio: "pipe" })
      : execFileSync(file, [...args], { encoding: "utf8", stdio: "pipe" })
  }
  if (root) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim())
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim())
    fs.chownSync(dataDir, uid, gid)
  }
  const port = freePortSync()
  asServerUser("initdb", ["-D", dataDir, "-A", "trust", "-U", "postgres", "--no-sync"])
  asServerUser("pg_ctl", [
    "-D",
    dataDir,
    "-l",
    path.join(dataDir, "server.log"),
    "-o",
    `-c listen_addresses=127.0.0.1 -p ${port} -k ${dataDir} -c fsync=off`,
    "-w",
    "start"
  ])
  afterAll(() => {
    asServerUser("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"])
    fs.rmSync(dataDir, { recursive: true, force: true })
  })

  const sql = PgClient.layer({ host: "127.0.0.1", port, username: "postgres", database: "postgres" })
  clusterSuite("PostgreSQL", `pg:127.0.0.1:${port}`, sql)
  // Runner groups matter most here: effect/cluster numbers PostgreSQL's shard locks by group.
  clusterGroupsSuite("PostgreSQL", `pg:127.0.0.1:${port}`, sql)
}
