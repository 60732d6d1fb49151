/**
 * The JSONL audit file: opened once for appending, one synchronous write per line, so lines land in
 * the order they were recorded and are in the kernel (surviving a crash of this process) before
 * `record` returns.
 *
 * @internal
 */
import * as fs from "node:fs"

/** Opens (creating if needed) a log for reading its tail and appending. */
export const open = (path: string): number => fs.openSync(path, "a+", 0o600)

export const read = (path: string): string => fs.readFileSync(path, "utf8")

export const close = (fd: number): void => fs.closeSync(fd)

/** Appends `text` in full: a short write is continued rather than dropped. */
export const append = (fd: number, text: string): void => {
  const written = fs.writeSync(fd, text)
  if (written === text.length && written === Buffer.byteLength(text)) return
  const bytes = Buffer.from(text)
  for (let offset = written; offset < bytes.length;) offset += fs.writeSync(fd, bytes, offset)
}

export const sync = (fd: number): void => fs.fsyncSync(fd)

/**
 * The last line of the log: `undefined` for an empty log, `{ complete: false }` when the log does not
 * end with a newline (the last write was cut short). Reads backwards from the end, so the cost does
 * not grow with the log.
 */
export type LastLine = { readonly complete: true; readonly line: string } | { readonly complete: false }

export const lastLine = (fd: number): LastLine | undefined => {
  const size = fs.fstatSync(fd).size
  if (size === 0) return undefined
  let window = Math.min(size, 64 * 1024)
  for (;;) {
    const buffer = Buffer.alloc(window)
    fs.readSync(fd, buffer, 0, window, size - window)
    if (buffer[window - 1] !== 10) return { complete: false }
    const start = buffer.lastIndexOf(10, window - 2)
    if (start !== -1 || window === size) {
      return { complete: true, line: buffer.toString("utf8", start + 1, window - 1) }
    }
    window = Math.min(size, window * 4)
  }
}
