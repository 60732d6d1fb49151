/**
 * What a guest's `wasi:cli/exit` throws through its own stack: not an error of the host, but the end
 * of the call with a code. The host bridge lets it through unchanged (a host function dies with it),
 * the seam to jco recognises it, and the calling `Instance` turns it into `GuestExit`.
 *
 * @internal
 */
export class ExitSignal extends Error {
  override readonly name = "ExitSignal"
  readonly code: number
  constructor(code: number) {
    super(`guest exited with code ${code}`)
    this.code = code
  }
}
