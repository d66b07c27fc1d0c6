/**
 * The one contract every queue trigger source implements (built-in topics, NATS JetStream,
 * MQTT). The runner (`poller.ts`) owns batching, invocation, retries, dead letters and
 * health; a source only connects, hands out messages and settles them.
 */

/** One message handed to a trigger, settled exactly once by `ack` or `retry`. */
export interface QueueMessage {
  /** Stable across redeliveries: the same message keeps its id. */
  readonly id: string;
  /** The payload as text (UTF-8); a payload that is not UTF-8 arrives base64-encoded, with `bodyEncoding: base64` in `attributes`. */
  readonly body: string;
  /** Deliveries so far, this one included (1 on the first). */
  readonly receiveCount: number;
  /** When the message was published (ms since the epoch). */
  readonly sentAt: number;
  /** When it was first handed to a trigger (ms since the epoch). */
  readonly firstReceivedAt: number;
  /** Source-specific metadata (NATS headers and subject, MQTT topic and user properties, topic message attributes). */
  readonly attributes: Readonly<Record<string, string>>;
  /** The function succeeded for it (or it was dead-lettered): remove it from the source for good. */
  ack(): Promise<void>;
  /** The function failed for it: deliver it again, no sooner than `delayMs` from now. */
  retry(delayMs: number): Promise<void>;
}

export interface QueueSource {
  /** `aviary:topic`, `aviary:nats`, `aviary:mqtt`: the `eventSource` of the records. */
  readonly eventSource: string;
  /** The `eventSourceARN` of the records. */
  readonly arn: string;
  /**
   * Connects (opens the topic, binds the durable consumer, subscribes). Rejects when the
   * broker cannot be reached or refuses; `onBroken` is called if the connection is lost
   * later. Either way the runner stops the source and starts it again after a backoff.
   */
  start(onBroken: (err: Error) => void): Promise<void>;
  /**
   * Up to `max` messages: waits (until `signal` aborts) for the first, then at most
   * `windowMs` more for the rest. Resolves to `[]` when aborted; rejects when the source broke.
   */
  receive(max: number, windowMs: number, signal: AbortSignal): Promise<QueueMessage[]>;
  /** Disconnects. Messages handed out and not settled are redelivered by the broker later. */
  stop(): Promise<void>;
  /** Removes what the trigger left on the broker (durable consumer, persistent session), best effort. */
  destroy?(): Promise<void>;
}
