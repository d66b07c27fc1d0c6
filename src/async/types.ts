/**
 * The contract between event sources and the durable async queue. Schedules, the event bus,
 * destinations and the Lambda Invoke API's `Event` type all enqueue through `AsyncInvoker`;
 * the queue's dispatcher then runs each event through the one invoke pipeline.
 */

export type AsyncSource = 'api' | 'lambda' | 'schedule' | 'event' | 'destination' | 'topic';

export interface AsyncEventInput {
  namespace: string;
  /** `name` or `name:qualifier`; resolved when enqueued (unknown → FunctionNotFound), run as the qualifier says when dispatched. */
  functionRef: string;
  /** The event as JSON text (already validated). */
  eventJson: string;
  source: AsyncSource;
  /** Same key within 24 h: the first event's id is returned and nothing new is queued. */
  idempotencyKey?: string | undefined;
}

export interface EnqueueResult {
  /** The invocation id, usable with GET /v1/invocations/{id}. */
  id: string;
  /** True when the idempotency key matched an earlier event. */
  duplicate: boolean;
}

export interface AsyncInvoker {
  /** Durable when it resolves: the event survives a crash of the server from then on. */
  enqueue(input: AsyncEventInput): Promise<EnqueueResult>;
}
