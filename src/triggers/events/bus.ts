import { createHash } from 'node:crypto';
import type { AsyncInvoker } from '../../async/types.ts';
import type { CloudEvent } from './cloudevents.ts';
import type { Rules } from './rules.ts';

export interface PublishResult {
  /** The event's id, as published. */
  id: string;
  /** Names of the rules that matched, in the order of `invocations`. */
  matched: string[];
  /** One async invocation id per matched rule. */
  invocations: string[];
  /** True when this event (same source and id) had already been published: nothing new was queued. */
  duplicate: boolean;
}

/**
 * The event bus: an accepted event is matched against the enabled rules of its namespace and
 * becomes one async invocation per matching rule; the bus keeps nothing else of it. Each
 * enqueue carries an idempotency key made of the rule, the event's source and its id, so a
 * client that re-sends an event (CloudEvents: same source and id means the same event) gets
 * the first invocations back instead of new ones, and a publish that failed part-way can be
 * retried safely.
 */
export class EventBus {
  readonly #rules: Rules;
  readonly #invoker: AsyncInvoker;

  constructor(options: { rules: Rules; invoker: AsyncInvoker }) {
    this.#rules = options.rules;
    this.#invoker = options.invoker;
  }

  async publish(namespace: string, event: CloudEvent): Promise<PublishResult> {
    const matches = this.#rules.match(namespace, event);
    const result: PublishResult = { id: event.id, matched: [], invocations: [], duplicate: false };
    if (matches.length === 0) return result;
    const eventJson = JSON.stringify(event);
    let duplicates = 0;
    // one at a time: a failure leaves a clear prefix delivered, which a retry completes
    for (const { record } of matches) {
      const functionRef = this.#rules.functionRef(record);
      if (functionRef === undefined) continue; // the function was deleted while we matched
      const { id, duplicate } = await this.#invoker.enqueue({
        namespace,
        functionRef,
        eventJson,
        source: 'event',
        idempotencyKey: idempotencyKey(record.id, event),
      });
      result.matched.push(record.name);
      result.invocations.push(id);
      if (duplicate) duplicates++;
    }
    result.duplicate = duplicates > 0 && duplicates === result.invocations.length;
    return result;
  }
}

/** Bounded whatever the lengths of source and id. */
function idempotencyKey(ruleId: string, event: CloudEvent): string {
  return `event:${createHash('sha256').update(JSON.stringify([ruleId, event.source, event.id])).digest('base64url')}`;
}
