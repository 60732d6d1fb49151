/**
 * A token bucket per sender, refilled from the clock's millisecond reading on every take: `burst` tokens
 * at most, `perMillisecond` tokens added per elapsed millisecond. Plain numbers, no allocation, so the
 * router can consult it on every message; the caller passes the time so `TestClock` drives it.
 *
 * @internal
 */

export interface TokenBucket {
  tokens: number
  last: number
}

/** Takes one token if there is one. */
export const take = (bucket: TokenBucket, now: number, perMillisecond: number, burst: number): boolean => {
  const elapsed = now - bucket.last
  if (elapsed > 0) {
    const tokens = bucket.tokens + elapsed * perMillisecond
    bucket.tokens = tokens > burst ? burst : tokens
    bucket.last = now
  }
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1
    return true
  }
  return false
}

/** Milliseconds until the next token, at least 1. */
export const retryAfterMillis = (bucket: TokenBucket, perMillisecond: number): number =>
  Math.max(1, Math.ceil((1 - bucket.tokens) / perMillisecond))
