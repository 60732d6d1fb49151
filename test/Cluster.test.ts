/**
 * The cluster suite (`clusterSuite.ts`) over SQLite: one database file for the three runner processes
 * and this one, as on one machine.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { clusterSuite } from "./clusterSuite.ts"

const work = fs.mkdtempSync(path.join(os.tmpdir(), "airssys-cluster-"))
const database = path.join(work, "cluster.db")
afterAll(() => fs.rmSync(work, { recursive: true, force: true }))

clusterSuite("SQLite", `sqlite:${database}`, SqliteClient.layer({ filename: database }))
