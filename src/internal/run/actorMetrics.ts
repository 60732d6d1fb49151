/**
 * An actor's metrics: the metric definitions, one actor's series of them (the component id as the `actor`
 * attribute, and the node as `node` where nodes are named: `Node.CurrentNode` when the actor is made), and
 * the bound on the series that actors leave behind when they are gone.
 *
 * Each guest call is timed on its own, with the monotonic clock, and recorded as it ends.
 *
 * @internal
 */
import { Clock, Context, Metric } from "effect"
import { CurrentNode } from "../node.ts"

const callDurationBoundaries = Metric.exponentialBoundaries({ start: 1e-6, factor: 4, count: 12 })

/** Documented where `Actor.ts` re-exports it. */
export const metrics = {
  handled: Metric.counter("airssys_actor_messages_handled_total", { description: "Messages handled by guests", incremental: true }),
  traps: Metric.counter("airssys_actor_traps_total", { description: "Guest traps while handling messages", incremental: true }),
  incarnations: Metric.counter("airssys_actor_incarnations_total", { description: "Actor incarnations started (first start and restarts)", incremental: true }),
  mailboxDepth: Metric.gauge("airssys_actor_mailbox_depth", { description: "Messages waiting in the mailbox" }),
  callDuration: Metric.histogram("airssys_actor_call_duration_seconds", {
    description: "Duration of guest handle-message calls",
    boundaries: callDurationBoundaries
  })
}

/** Documented where `Actor.ts` re-exports it. */
export const retainedStoppedSeries = 4096

/**
 * One actor's series. Made with the `actor` attribute rather than with `Metric.withAttributes`, which
 * copies the context on every update; updated synchronously (`updateUnsafe`), as `Metric.update` as an
 * effect costs a fiber step per message.
 */
const makeSeries = (id: string, node: string | undefined) => {
  const attributes: Record<string, string> = node === undefined ? { actor: id } : { actor: id, node }
  return {
    handled: Metric.counter(metrics.handled.id, { description: metrics.handled.description, incremental: true, attributes }),
    traps: Metric.counter(metrics.traps.id, { description: metrics.traps.description, incremental: true, attributes }),
    incarnations: Metric.counter(metrics.incarnations.id, {
      description: metrics.incarnations.description,
      incremental: true,
      attributes
    }),
    mailboxDepth: Metric.gauge(metrics.mailboxDepth.id, { description: metrics.mailboxDepth.description, attributes }),
    callDuration: Metric.histogram(metrics.callDuration.id, {
      description: metrics.callDuration.description,
      boundaries: callDurationBoundaries,
      attributes
    })
  }
}

type Series = ReturnType<typeof makeSeries>

/**
 * The series of gone actors stay for a while (an exporter may not have read their last figures); past
 * `retainedStoppedSeries` ids the oldest are removed, so a host that spawns actors under ever-new ids does
 * not grow its metric registry without bound.
 *
 * A respawn under a live or retained id takes the same series objects back: each one computes its
 * registry key (a JSON encoding) on its first update, which made a fresh set cost ~20 µs of CPU per spawn
 * (bench rows "actor: Actor.spawn, warm pool" and "actor: Actor.spawn → Running, prepared instance
 * (latency)", which spawn under the same ids round after round; issue 16).
 */
const liveById = new Map<string, { count: number; readonly series: Series }>()
/** Ids whose actors are all gone, oldest first: their series, and what names them (registry, attributes). */
const retiredById = new Map<string, { readonly series: Series; readonly registeredIn: Context.Context<never> }>()

/** The key of an actor's series: its id, and its node when named (one process may host several). */
const keyOf = (id: string, node: string | undefined): string => node === undefined ? id : `${id}\u0000${node}`

const acquire = (key: string, id: string, node: string | undefined): Series => {
  const live = liveById.get(key)
  if (live !== undefined) {
    live.count++
    return live.series
  }
  const series = retiredById.get(key)?.series ?? makeSeries(id, node)
  retiredById.delete(key)
  liveById.set(key, { count: 1, series })
  return series
}

/** One actor's metrics, recorded in `context` (the actor's). */
export interface ActorMetrics {
  /** Starts timing a guest call: pass what it returns to `callEnded`. */
  readonly callStarted: () => bigint
  /** A guest call ended: records its duration (returned, in nanoseconds). */
  readonly callEnded: (started: bigint) => bigint
  readonly handled: (count: number) => void
  readonly trapped: () => void
  readonly incarnation: () => void
  readonly depth: (size: number) => void
  /** The actor is gone (its scope closed): its series join the retained ones. */
  readonly release: () => void
}

export const make = (id: string, context: Context.Context<never>): ActorMetrics => {
  const node = Context.get(context, CurrentNode)
  const key = keyOf(id, node)
  const series = acquire(key, id, node)
  const clock = Context.get(context, Clock.Clock)
  return {
    callStarted: () => clock.monotonicTimeNanosUnsafe(),
    callEnded: (started) => {
      const elapsed = clock.monotonicTimeNanosUnsafe() - started
      series.callDuration.updateUnsafe(Number(elapsed) / 1e9, context)
      return elapsed
    },
    handled: (count) => series.handled.updateUnsafe(count, context),
    trapped: () => series.traps.updateUnsafe(1, context),
    incarnation: () => series.incarnations.updateUnsafe(1, context),
    depth: (size) => series.mailboxDepth.updateUnsafe(size, context),
    release: () => retire(key, context)
  }
}

const retire = (key: string, context: Context.Context<never>): void => {
  const live = liveById.get(key)
  if (live === undefined) return
  if (--live.count > 0) return
  liveById.delete(key)
  // Only what names the series: not the gone actor's whole context.
  const registeredIn = Context.make(Metric.MetricRegistry, Context.get(context, Metric.MetricRegistry)).pipe(
    Context.add(Metric.CurrentMetricAttributes, Context.get(context, Metric.CurrentMetricAttributes))
  )
  retiredById.set(key, { series: live.series, registeredIn })
  if (retiredById.size <= retainedStoppedSeries) return
  const [oldest, retired] = retiredById.entries().next().value!
  retiredById.delete(oldest)
  for (const metric of Object.values(retired.series)) {
    Metric.removeUnsafe(metric as Metric.Metric<number, unknown>, retired.registeredIn)
  }
}
