/**
 * `airssys-wasm/cluster`: component actors as `effect/cluster` entities across processes and machines,
 * on its own entry point because it loads effect/cluster and the Node socket transport of
 * `@effect/platform-node` (an optional peer): `import { Cluster } from "airssys-wasm/cluster"` needs it
 * installed, and a SQL driver for the cluster's database (`@effect/sql-sqlite-node` or `@effect/sql-pg`);
 * the root `airssys-wasm` never loads any of them.
 *
 * @since 0.1.0
 */
export * as Cluster from "../Cluster.ts"
