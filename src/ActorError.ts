/**
 * The typed errors of talking to an actor.
 *
 * @since 0.1.0
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
 * The actor is stopping or stopped and takes no more messages.
 *
 * @since 0.1.0
 * @category errors
 */
export class ActorStopped extends Schema.TaggedError<ActorStopped>()("ActorStopped", {
  actorId: Schema.String
}) {
  override get message(): string {
    return `actor ${this.actorId} is stopped`
  }
}

/**
 * An incarnation of the actor ended abnormally: its guest trapped or hit a resource limit (while handling
 * a message or in `lifecycle.init`), it could not be instantiated, or it was asked to restart
 * (`ActorRef.restart`, reason `Restarted`). Its supervisor decides what happens next.
 *
 * @since 0.1.0
 * @category errors
 */
export class ActorCrashed extends Schema.TaggedError<ActorCrashed>()("ActorCrashed", {
  actorId: Schema.String,
  reason: Schema.Literals(["Trap", "LimitExceeded", "InitFailed", "StartFailed", "Restarted"]),
  message: Schema.String
}) {}
