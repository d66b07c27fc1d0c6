import { createHash } from 'node:crypto';
import type { QueueMessage } from './source.ts';

export const REGION = 'local';
export const ACCOUNT = '000000000000';

/** One record of Lambda's SQS event, as handlers written for SQS read it. */
export interface SqsRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: {
    ApproximateReceiveCount: string;
    SentTimestamp: string;
    SenderId: string;
    ApproximateFirstReceiveTimestamp: string;
  };
  messageAttributes: Record<string, { stringValue: string; stringListValues: string[]; binaryListValues: string[]; dataType: 'String' }>;
  md5OfBody: string;
  eventSource: string;
  eventSourceARN: string;
  awsRegion: string;
}

/** The record of one message. `receiptHandle` names this delivery (message and receive count). */
export function toRecord(m: QueueMessage, eventSource: string, arn: string, triggerName: string): SqsRecord {
  const messageAttributes: SqsRecord['messageAttributes'] = {};
  for (const [k, v] of Object.entries(m.attributes)) {
    messageAttributes[k] = { stringValue: v, stringListValues: [], binaryListValues: [], dataType: 'String' };
  }
  return {
    messageId: m.id,
    receiptHandle: Buffer.from(`${triggerName}/${m.id}/${m.receiveCount}`).toString('base64url'),
    body: m.body,
    attributes: {
      ApproximateReceiveCount: String(m.receiveCount),
      SentTimestamp: String(m.sentAt),
      SenderId: 'aviary',
      ApproximateFirstReceiveTimestamp: String(m.firstReceivedAt),
    },
    messageAttributes,
    md5OfBody: createHash('md5').update(m.body).digest('hex'),
    eventSource,
    eventSourceARN: arn,
    awsRegion: REGION,
  };
}

/** Splits records into events of at most `maxBytes` of JSON each (the synchronous payload limit). Each record is serialised once. */
export function toEvents(records: SqsRecord[], maxBytes: number): { json: string; records: SqsRecord[] }[] {
  const events: { json: string; records: SqsRecord[] }[] = [];
  const wrap = '{"Records":[]}'.length;
  let parts: string[] = [];
  let current: SqsRecord[] = [];
  let size = wrap;
  const flush = (): void => {
    events.push({ json: `{"Records":[${parts.join(',')}]}`, records: current });
    parts = [];
    current = [];
    size = wrap;
  };
  for (const r of records) {
    const json = JSON.stringify(r);
    const len = Buffer.byteLength(json);
    if (parts.length > 0 && size + len + 1 > maxBytes) flush();
    size += len + (parts.length > 0 ? 1 : 0);
    parts.push(json);
    current.push(r);
  }
  if (parts.length > 0) flush();
  return events;
}

/**
 * The messages to retry after a successful invocation, by Lambda's rules for
 * `ReportBatchItemFailures`: no `batchItemFailures` (or an empty list) means all succeeded;
 * a list naming message ids retries those; a malformed answer (an entry without an
 * `itemIdentifier`, or one naming no message of the batch) fails the whole batch.
 */
export function failedItems(result: unknown, batchIds: ReadonlySet<string>): { retry: Set<string> | 'all'; problem?: string } {
  if (result === null || typeof result !== 'object' || !('batchItemFailures' in result)) return { retry: new Set() };
  const list = (result as { batchItemFailures: unknown }).batchItemFailures;
  if (list === null || list === undefined) return { retry: new Set() };
  if (!Array.isArray(list)) return { retry: 'all', problem: 'batchItemFailures is not a list; the whole batch is retried' };
  const retry = new Set<string>();
  for (const item of list) {
    const id = (item as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '') return { retry: 'all', problem: 'a batchItemFailures entry has no itemIdentifier; the whole batch is retried' };
    if (!batchIds.has(id)) return { retry: 'all', problem: `batchItemFailures names ${JSON.stringify(id)}, which is not in the batch; the whole batch is retried` };
    retry.add(id);
  }
  return { retry };
}
