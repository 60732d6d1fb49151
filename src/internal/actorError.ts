/**
 * The typed errors of talking to an actor: a leaf that both the public `ActorError` and the actor engine
 * under `internal/run/` import. Documented here, re-exported by `ActorError.ts`.
 *
 * @internal
 */
import { Schema } from "effect"

/**
 * The mailbox is full and the sender asked to fail fast rather than wait.
 *
 * @since 0.1.0
 * @category errors
 */
export class MailboxFull extends Schema.TaggedError<MailboxFull>()("MailboxFull", {
  actorId: Schema.String,
  capacity: Schema.Number
}) {
  override get message(): string {
    return `mailbox of ${this.actorId} is full (${this.capacity} messages)`
  }
}

/**
 * No reply arrived in time. The request stays accounted for: if the actor reaches it later, it goes to
 * dead letters as expired instead of being handled.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestTimeout extends Schema.TaggedError<RequestTimeout>()("RequestTimeout", {
  actorId: Schema.String,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `no reply from ${this.actorId} within ${this.timeoutMillis} ms`
  }
}

/**
 * Why an actor is stopped for good.
 *
 * - `Stopped`: `ref.stop` (under a supervisor: its `terminateChild`, not restarted).
 * - `ScopeClosed`: the scope the actor was made in closed.
 * - `NotRestarted`: it ended and its supervisor does not restart it (`Temporary`, or `Transient` after a
 *   normal exit).
 * - `Terminated`: its supervisor's `terminateChild`.
 * - `SupervisorStopped`: its supervisor stopped (or escalated) and nothing will start it again.
 *
 * @since 0.1.0
 * @category models
 */
export const StopReason = Schema.Literals(["Stopped", "ScopeClosed", "NotRestarted", "Terminated", "SupervisorStopped"])

/**
 * @since 0.1.0
 * @category models
 */
export type StopReason = typeof StopReason.Type

const stopReasonText: Record<StopReason, string> = {
  Stopped: "",
  ScopeClosed: "its scope closed",
  NotRestarted: "it ended and its supervisor does not restart it",
  Terminated: "its supervisor terminated it",
  SupervisorStopped: "its supervisor stopped"
}

/**
 * The actor is stopping or stopped and takes no more messages (OTP's `noproc`): `reason` says why. A call
 * to an actor that is only waiting for its supervisor to restart it does not fail: it waits.
 *
 * @since 0.1.0
 * @category errors
 */
export class ActorStopped extends Schema.TaggedError<ActorStopped>()("ActorStopped", {
  actorId: Schema.String,
  reason: StopReason
}) {
  override get message(): string {
    // `ref.stop` needs no explanation: the message stays what it always was.
    return this.reason === "Stopped"
      ? `actor ${this.actorId} is stopped`
      : `actor ${this.actorId} is stopped: ${stopReasonText[this.reason]}`
  }
}

/**
 * An incarnation of the actor ended abnormally: its guest trapped or hit a resource limit (while handling
 * a message or in `lifecycle.init`), or it could not be instantiated (`StartFailed`; also when its scope
 * has closed), or it already runs an incarnation (`AlreadyRunning`: one `ref.run` at a time), or it was
 * asked to restart (`ActorRef.restart`, reason `Restarted`). Its supervisor decides what happens next.
 *
 * @since 0.1.0
 * @category errors
 */
export class ActorCrashed extends Schema.TaggedError<ActorCrashed>()("ActorCrashed", {
  actorId: Schema.String,
  reason: Schema.Literals(["Trap", "LimitExceeded", "InitFailed", "StartFailed", "AlreadyRunning", "Restarted"]),
  message: Schema.String
}) {}
