/**
 * How a cluster delivers: how long a call waits, how long a persisted message may take to handle, how long
 * an idle actor stays activated, and how many calls queue for one actor. The layers read `Delivery` (the
 * defaults, unless `layerConfig` or `Layer.succeed(Delivery, ...)` provides others) when they are built;
 * their `delivery` option overrides single fields. Re-exported by `Cluster`.
 *
 * The trade-offs:
 *
 * - `requestTimeout` (5 s) bounds every `request`, `send` and `where` that gives no timeout of its own:
 *   it is how long a caller waits for an actor whose runner died before the shard moves (up to the
 *   shard-lock expiry, 6 s with `shardingDefaults`), so a call fails with `RequestTimeout` rather than
 *   hangs. Shorter fails sooner during a failover; longer rides one out.
 * - `persistedHandlingTimeout` (60 s) bounds the guest's handling of a persisted `send`, which no caller
 *   waits for. A persisted message counts as processed once handled, so one that takes longer fails with
 *   `RequestTimeout` on the runner and is not delivered again. (A persisted `request` is bounded by its
 *   own timeout.)
 * - `maxIdleTime` (1 minute) is how long an actor with no message stays activated before it is passivated:
 *   its instance, supervisor and registration released, its memory lost; its next message activates it
 *   afresh from the spec. Shorter frees memory (V8 holds ~16,000 wasm memories per process) and loses
 *   guest state sooner; longer keeps hot actors warm. effect/cluster looks for idle entities every
 *   `min(maxIdleTime, 30 s)`, never more often than every 5 s, so an actor is passivated between
 *   `maxIdleTime` and `maxIdleTime` plus that interval after its last message.
 * - `mailboxCapacity` (4,096) is how many calls may wait for one actor on its runner (effect/cluster's
 *   entity mailbox). Past it a volatile call fails with `MailboxFull`; persisted messages wait in SQL and
 *   are delivered as room frees.
 *
 * @since 0.1.0
 */
import { Config, Context, Duration, Layer, Schema } from "effect"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category models
 */
export interface DeliverySettings {
  /** The timeout of a call that gives none (default 5 seconds). */
  readonly requestTimeout: Duration.Duration
  /** The bound on the guest's handling of a persisted `send` (default 60 seconds). */
  readonly persistedHandlingTimeout: Duration.Duration
  /** How long an actor with no message stays activated (default 1 minute). */
  readonly maxIdleTime: Duration.Duration
  /** How many calls may wait for one actor on its runner (default 4,096). */
  readonly mailboxCapacity: number
}

/**
 * @since 0.1.0
 * @category models
 */
export const deliveryDefaults: DeliverySettings = {
  requestTimeout: Duration.seconds(5),
  persistedHandlingTimeout: Duration.seconds(60),
  maxIdleTime: Duration.minutes(1),
  mailboxCapacity: 4096
}

// -----------------------------------------------------------------------------
// services
// -----------------------------------------------------------------------------

/**
 * The settings the cluster layers are built with: `deliveryDefaults` unless a layer (`layerDeliveryConfig`,
 * or `Layer.succeed(Delivery, ...)`) provides others.
 *
 * @since 0.1.0
 * @category services
 */
export const Delivery: Context.Reference<DeliverySettings> = Context.Reference<DeliverySettings>(
  "airssys-wasm/Cluster/Delivery",
  { defaultValue: () => deliveryDefaults }
)

/**
 * The settings a layer is built with: `Delivery`, with the layer's own `delivery` option on top.
 *
 * @internal
 */
export const resolve = (settings: DeliverySettings, overrides: Partial<DeliverySettings> | undefined): DeliverySettings =>
  overrides === undefined ? settings : { ...settings, ...definedOnly(overrides) }

const definedOnly = (overrides: Partial<DeliverySettings>): Partial<DeliverySettings> =>
  Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined))

// -----------------------------------------------------------------------------
// config
// -----------------------------------------------------------------------------

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))

/**
 * The settings read from configuration, each name optional (missing: its default):
 *
 * - `CLUSTER_REQUEST_TIMEOUT`: a duration such as `"5 seconds"`;
 * - `CLUSTER_PERSISTED_HANDLING_TIMEOUT`: a duration (default 60 seconds);
 * - `CLUSTER_MAX_IDLE_TIME`: a duration (default 1 minute; `"Infinity"` never passivates);
 * - `CLUSTER_MAILBOX_CAPACITY`: a positive integer (default 4096).
 *
 * With `ConfigProvider.fromUnknown` the names are paths: `{ CLUSTER: { MAX_IDLE_TIME: "10 minutes" } }`.
 *
 * @since 0.1.0
 * @category config
 */
export const deliveryConfig: Config.Config<DeliverySettings> = Config.all({
  requestTimeout: Config.Duration("REQUEST_TIMEOUT").pipe(Config.withDefault(deliveryDefaults.requestTimeout)),
  persistedHandlingTimeout: Config.Duration("PERSISTED_HANDLING_TIMEOUT").pipe(
    Config.withDefault(deliveryDefaults.persistedHandlingTimeout)
  ),
  maxIdleTime: Config.Duration("MAX_IDLE_TIME").pipe(Config.withDefault(deliveryDefaults.maxIdleTime)),
  mailboxCapacity: Config.schema(PositiveInt, "MAILBOX_CAPACITY").pipe(Config.withDefault(deliveryDefaults.mailboxCapacity))
}).pipe(Config.nested("CLUSTER"))

/**
 * Provides `Delivery` read from configuration: `deliveryConfig` (the `CLUSTER_*` names) unless another
 * `Config` is given. A value that is present but invalid fails the layer with a `ConfigError`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDeliveryConfig = (
  options: Config.Config<DeliverySettings> = deliveryConfig
): Layer.Layer<never, Config.ConfigError> => Layer.effect(Delivery, Config.unwrap(options))
