/**
 * The durable async queue, backend-agnostic: `SqliteQueue` on the embedded database; a
 * PostgreSQL or JetStream queue implements the same contract and runs the same contract tests
 * (test/contract/async-queue.contract.ts). Times are ms since the epoch, passed in by the
 * caller (the dispatcher's clock), never read here.
 */

export type EventStatus = 'queued' | 'running' | 'succeeded' | 'failed';
export type DeadLetterReason = 'RetriesExhausted' | 'EventAgeExceeded';
export type Condition = 'Success' | DeadLetterReason;

/** An event as accepted: everything needed to run it later. */
export interface NewEvent {
  id: string;
  namespace: string;
  functionId: string;
  functionName: string;
  /** The version or alias to run; null runs the newest version at the time of each attempt. */
  qualifier: string | null;
  source: string;
  /** The event as JSON text. */
  payload: string;
  /** Destination hops that led to this event (0 for an event from a client). */
  depth: number;
  enqueuedAt: number;
}

/** One finished run of an event. */
export interface AttemptRecord {
  requestId: string;
  startedAt: number;
  durationMs: number;
  version: number | null;
  status: 'succeeded' | 'failed';
  errorType?: string;
}

/** Where a destination record went, and how that went. */
export interface DestinationDelivery {
  type: 'function' | 'webhook' | 'topic';
  /** Function name, URL or topic name. */
  target: string;
  condition: Condition;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  /** The event queued for a function destination. */
  eventId?: string;
  error?: string;
  at: number;
}

export interface QueuedEvent extends NewEvent {
  status: EventStatus;
  /** Runs started, including one cut short by a crash (at-least-once). */
  attempts: number;
  /** When the event is next due; null once finished. */
  nextAttemptAt: number | null;
  leaseUntil: number | null;
  /** Identifies the current claim; transitions name it, so a stale claim changes nothing. */
  leaseToken: number;
  firstAttemptAt: number | null;
  finishedAt: number | null;
  /** The function's result as JSON text (null when it failed, or was too large to keep). */
  result: string | null;
  resultBytes: number | null;
  /** The last error as JSON text: `{errorType, errorMessage, trace?}`. */
  error: string | null;
  history: AttemptRecord[];
  deadLetter: DeadLetterReason | null;
  destination: DestinationDelivery | null;
}

/** A dead letter keeps the event as accepted (its id as `eventId`), plus why and when it gave up. */
export interface DeadLetter extends Omit<NewEvent, 'id'> {
  eventId: string;
  reason: DeadLetterReason;
  attempts: number;
  error: string | null;
  deadLetteredAt: number;
}

export interface IdempotencyInput {
  key: string;
  now: number;
  expiresAt: number;
}

/** A function with queued events, and when the first of them is due. */
export interface DueFunction {
  functionId: string;
  nextAttemptAt: number;
}

export interface ClaimOptions {
  now: number;
  /** Up to `limit` due events of each of these functions, leased until `leaseUntil`. */
  functions: readonly { functionId: string; limit: number; leaseUntil: number }[];
}

/** How an event ends. The transition, dead letter and follow-up event commit together. */
export interface Finish {
  status: 'succeeded' | 'failed';
  at: number;
  /** The run that ended it; null when it ended without running (its age ran out first). */
  attempt: AttemptRecord | null;
  result: string | null;
  resultBytes: number | null;
  error: string | null;
  deadLetter: DeadLetterReason | null;
  destination: DestinationDelivery | null;
  /** Kept while a webhook delivery is pending, so a crash does not lose it. */
  destinationRecord: string | null;
  /** A function destination's event, queued in the same transaction. */
  followUp: NewEvent | null;
}

export interface Retry {
  nextAttemptAt: number;
  /** The failed run; null when the event did not really run (throttled, shutting down): the attempt is not counted. */
  attempt: AttemptRecord | null;
  error: string | null;
}

export interface ListQuery {
  functionId: string;
  status?: EventStatus | undefined;
  limit: number;
}

export interface AsyncConfigRecord {
  functionId: string;
  namespace: string;
  retries: number;
  maxEventAgeSeconds: number;
  /** Destinations as JSON text. */
  onSuccess: string | null;
  onFailure: string | null;
  updatedAt: number;
}

export interface AsyncQueue {
  /**
   * Stores the event durably (committed when this resolves). With an idempotency key that was
   * used for this function and has not expired, stores nothing and returns the first event's id.
   */
  enqueue(event: NewEvent, idempotency?: IdempotencyInput): Promise<{ id: string; duplicate: boolean }>;
  /** Every function with queued events, with its earliest due time. Costs one index seek per function, whatever the backlog. */
  due(): Promise<DueFunction[]>;
  /** Marks due events of the functions asked for running under a lease, oldest due first per function, in one commit. */
  claim(options: ClaimOptions): Promise<QueuedEvent[]>;
  /** Ends a claimed event. False when the claim is stale (the event was recovered or deleted). */
  finish(id: string, leaseToken: number, finish: Finish): Promise<boolean>;
  /** Puts a claimed event back in the queue until `nextAttemptAt`. */
  retry(id: string, leaseToken: number, retry: Retry): Promise<boolean>;
  /** Records how a pending webhook delivery ended, and forgets its record. */
  recordDelivery(id: string, delivery: DestinationDelivery): Promise<void>;
  /** Events whose webhook delivery was pending when the server stopped, with their records. */
  pendingDeliveries(limit: number): Promise<{ event: QueuedEvent; record: string }[]>;
  /** Requeues running events whose lease ended before `expiredBefore`. Returns how many. */
  recover(expiredBefore: number, now: number): Promise<number>;

  get(namespace: string, id: string): Promise<QueuedEvent | undefined>;
  /** Newest first. */
  list(query: ListQuery): Promise<QueuedEvent[]>;

  /** Newest first. */
  deadLetters(functionId: string, limit: number): Promise<DeadLetter[]>;
  deadLetter(functionId: string, eventId: string): Promise<DeadLetter | undefined>;
  /**
   * Queues dead letters again under their ids, attempts and age reset: all of them, or `ids`.
   * When some of `ids` are not dead letters of this function, nothing changes and they are returned as `missing`.
   */
  redrive(functionId: string, ids: readonly string[] | undefined, now: number): Promise<{ ids: string[]; missing: string[] }>;
  /** Deletes dead letters (all, or `ids`). Returns how many. */
  purge(functionId: string, ids: readonly string[] | undefined): Promise<number>;

  getConfig(functionId: string): Promise<AsyncConfigRecord | undefined>;
  listConfigs(): Promise<AsyncConfigRecord[]>;
  putConfig(config: AsyncConfigRecord): Promise<void>;
  deleteConfig(functionId: string): Promise<boolean>;

  /** Everything of a deleted function: events, dead letters, keys, config. */
  deleteFunction(functionId: string): Promise<void>;
  /** Deletes events finished before `before` (once their delivery is settled) and expired idempotency keys. Returns rows deleted. */
  prune(before: number, now: number): Promise<number>;
}
