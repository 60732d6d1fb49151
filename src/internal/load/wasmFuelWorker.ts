/**
 * Fuel instrumentation in a worker thread of its own: `instrumentFuelInWorker` starts one per module, and
 * this same file is the worker's entry (it instruments `workerData.bytes`, posts a `WorkerReply`, and
 * exits, taking binaryen's memory with it).
 *
 * @internal
 */
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads"
import { type RewriteFailure, WasmRewriteError } from "./coreSections.ts"
import { instrumentFuel } from "./fuelInstrument.ts"

// The worker's module is this one: `.ts` in the repository, `.js` in the built package.
const moduleExtension = import.meta.url.slice(import.meta.url.lastIndexOf("."))

/** What the worker posts back. */
export type WorkerReply =
  | { readonly ok: true; readonly bytes: Uint8Array }
  | { readonly ok: false; readonly reason: RewriteFailure; readonly message: string }

interface FuelWorkerData {
  readonly airssysFuelWorker: true
  readonly bytes: Uint8Array
}

/**
 * Instruments a core module for fuel in a fresh worker thread, which exits afterwards: the event loop
 * stays free, binaryen's memory goes back to the OS, and a binaryen crash fails only this call.
 * binaryen's warnings (printed to stderr) are kept out of the host's output.
 */
export const instrumentFuelInWorker = (bytes: Uint8Array): Promise<Uint8Array> =>
  new Promise((resolve, reject) => {
    const worker = new Worker(new URL(`./wasmFuelWorker${moduleExtension}`, import.meta.url), {
      workerData: { airssysFuelWorker: true, bytes } satisfies FuelWorkerData,
      stdout: true,
      stderr: true
    })
    let stderr = ""
    worker.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000)
    })
    worker.stdout.resume()
    let settled = false
    const settle = (reply: WorkerReply): void => {
      if (settled) return
      settled = true
      if (reply.ok) resolve(reply.bytes)
      else reject(new WasmRewriteError({ reason: reply.reason, message: reply.message }))
    }
    const crashed = (what: string): WorkerReply => ({
      ok: false,
      reason: "InstrumentFailed",
      message: `fuel instrumentation ${what}${stderr.trim() === "" ? "" : `: ${stderr.trim().split("\n").slice(-3).join(" | ")}`}`
    })
    worker.once("message", (reply: WorkerReply) => settle(reply))
    worker.once("error", (error) => settle(crashed(`crashed (${error.message})`)))
    worker.once("exit", (code) => settle(crashed(`worker exited with code ${code}`)))
  })

// The worker side: this module, loaded in a thread started by `instrumentFuelInWorker`.
if (!isMainThread && (workerData as Partial<FuelWorkerData> | null)?.airssysFuelWorker === true) {
  const reply = (message: WorkerReply): void => parentPort?.postMessage(message)
  instrumentFuel((workerData as FuelWorkerData).bytes).then(
    (out) => reply({ ok: true, bytes: out }),
    (error: unknown) =>
      reply(
        error instanceof WasmRewriteError
          ? { ok: false, reason: error.reason, message: error.message }
          : { ok: false, reason: "InstrumentFailed", message: error instanceof Error ? error.message : String(error) }
      )
  )
}
