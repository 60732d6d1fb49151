/**
 * `airssys-wasm run` runs in a child process, so that SIGINT and SIGTERM end it whatever the guest is
 * doing.
 *
 * A guest that imports more than logging runs in the CLI's own thread (a worker can only call logging
 * back), where a loop that never calls the host holds the event loop: no signal handler runs until its
 * call ends, and with `--fuel unlimited` it never ends. So the executable is a thin parent that starts
 * the same CLI on the same arguments in a child process and only relays: its stdin, stdout and stderr
 * are the parent's own descriptors (bytes unchanged), SIGINT, SIGTERM and SIGHUP are forwarded, a child
 * that has not gone `grace` after a signal is killed (SIGKILL), and the parent exits with the child's
 * exit code (128 + the signal's number when it died by one, or when it was killed after one). Usage
 * errors, typed errors and exit codes are the child's, unchanged.
 *
 * The child notices a parent that died without relaying (SIGKILL, a crash): a small worker thread polls
 * the parent's pid, which the environment variable `marker` carries, and ends the child (SIGTERM, then
 * SIGKILL `grace` later) when its parent is no longer the one that started it. It has to be a thread of
 * its own: the main one may be inside the guest.
 *
 * Plain Node, no Effect: the parent loads nothing else, so the relay costs one Node start-up, not two
 * loads of the library.
 *
 * @since 0.1.0
 */
import { spawn } from "node:child_process"
import { constants } from "node:os"
import { Worker } from "node:worker_threads"

/**
 * The environment variable that marks the child: the parent's pid.
 *
 * @since 0.1.0
 * @category models
 */
export const marker = "AIRSSYS_WASM_CLI_PARENT"

/**
 * How long a child has, after a signal, to end by itself before it is killed.
 *
 * @since 0.1.0
 * @category models
 */
export const graceMillis = 500

const forwarded: ReadonlyArray<NodeJS.Signals> = ["SIGINT", "SIGTERM", "SIGHUP"]

/**
 * Whether these CLI arguments run a guest (`run`, with the CLI's own flags before it). A false positive
 * (a file named `run`) only costs a child process.
 *
 * @since 0.1.0
 * @category guards
 */
export const runsGuest = (args: ReadonlyArray<string>): boolean => {
  const end = args.indexOf("--")
  return (end < 0 ? args : args.slice(0, end)).includes("run")
}

// A debugger port cannot be opened twice: the child does without the parent's --inspect.
const childExecArgv = (): Array<string> => process.execArgv.filter((flag) => !/^--(inspect|debug)/.test(flag))

const exitCodeOf = (signal: NodeJS.Signals): number => 128 + (constants.signals[signal] ?? 0)

/**
 * Runs `script` (this CLI's entry) with `args` in a child process and relays, as described above; the
 * process exits when the child has. `fallback` runs the CLI here instead when no child can be started.
 *
 * @since 0.1.0
 * @category constructors
 */
export const relay = (script: string, args: ReadonlyArray<string>, fallback: () => void): void => {
  const child = spawn(process.execPath, [...childExecArgv(), script, ...args], {
    stdio: "inherit",
    env: { ...process.env, [marker]: String(process.pid) }
  })
  let received: NodeJS.Signals | undefined
  let killed = false
  const kill = () => {
    killed = true
    child.kill("SIGKILL")
  }
  const onSignal = (signal: NodeJS.Signals) => {
    // A second signal (Ctrl-C twice) does not wait.
    if (received !== undefined) return kill()
    received = signal
    child.kill(signal)
    setTimeout(kill, graceMillis).unref()
  }
  for (const signal of forwarded) process.on(signal, onSignal)
  child.on("error", (error) => {
    // Only a child that never started is worth a word; a failed kill means it is gone already.
    if (child.pid !== undefined) return
    for (const signal of forwarded) process.off(signal, onSignal)
    process.stderr.write(`airssys-wasm: cannot start a child process (${error.message}); running here, where a busy guest delays signals\n`)
    fallback()
  })
  child.on("exit", (code, signal) => {
    if (child.pid === undefined) return
    if (killed && received !== undefined) process.exit(exitCodeOf(received))
    process.exit(code ?? exitCodeOf(signal ?? "SIGKILL"))
  })
}

// Runs in the watchdog thread (CommonJS, evaluated from this string): `workerData` is the parent's pid.
const watchdog = `
const { workerData } = require("node:worker_threads")
const timer = setInterval(() => {
  if (process.ppid === workerData) return
  clearInterval(timer)
  process.kill(process.pid, "SIGTERM")
  setTimeout(() => process.kill(process.pid, "SIGKILL"), ${graceMillis})
}, 200)
`

/**
 * In the child: ends this process when `parent` is no longer its parent (it died without relaying a
 * signal). Keeps nothing alive: the process exits as it would without it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const watchParent = (parent: number): void => {
  new Worker(watchdog, { eval: true, workerData: parent }).unref()
}
