/**
 * Worker entry of `instrumentFuelInWorker`: instruments the module in `workerData.bytes`, posts a
 * `WorkerReply`, and exits, taking binaryen's memory with it.
 *
 * @internal
 */
import { parentPort, workerData } from "node:worker_threads"
import { instrumentFuel, WasmRewriteError, type WorkerReply } from "./wasmRewrite.ts"

const { bytes } = workerData as { readonly bytes: Uint8Array }

const reply = (message: WorkerReply): void => parentPort?.postMessage(message)

instrumentFuel(bytes).then(
  (out) => reply({ ok: true, bytes: out }),
  (error: unknown) =>
    reply(
      error instanceof WasmRewriteError
        ? { ok: false, reason: error.reason, message: error.message }
        : { ok: false, reason: "InstrumentFailed", message: error instanceof Error ? error.message : String(error) }
    )
)
