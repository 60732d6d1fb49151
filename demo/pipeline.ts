/**
 * The demo's pipeline, shared by `npm start` (demo/host.ts, one process) and `npm run cluster`
 * (demo/cluster.ts, three runners): four stages, each a guest allowed to message only the next one, and
 * the last allowed only its storage namespace.
 */
import { Capability } from "../src/index.ts"

export const stages = [
  { name: "ingestion", guest: "pipeline-ingest", grant: new Capability.Messaging({ pattern: "validation" }) },
  { name: "validation", guest: "pipeline-validate", grant: new Capability.Messaging({ pattern: "processing" }) },
  { name: "processing", guest: "pipeline-process", grant: new Capability.Messaging({ pattern: "storage" }) },
  { name: "storage", guest: "pipeline-store", grant: new Capability.Storage({ namespace: "pipeline" }) }
] as const
