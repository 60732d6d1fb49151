/**
 * The typed errors of talking to an actor.
 *
 * @since 0.1.0
 */
export { ActorCrashed, ActorStopped, MailboxFull, RequestTimeout, StopReason } from "./internal/actorError.ts"
