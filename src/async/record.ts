import { functionArn } from '../invoke/index.ts';
import type { Condition } from './queue.ts';

/** What a run returned, for the record's responseContext and responsePayload. */
export type RecordResponse =
  | { ok: true; version: number; resultJson: string }
  /** `functionError`: the function itself failed (Lambda's "Unhandled"), rather than the platform. */
  | { ok: false; version: number | null; errorJson: string; functionError: boolean; statusCode: number };

export interface RecordInput {
  eventId: string;
  functionName: string;
  qualifier: string | null;
  condition: Condition;
  attempts: number;
  /** The event as JSON text. */
  payload: string;
  at: number;
  /** Null when the event never ran (its age ran out before the first attempt). */
  response: RecordResponse | null;
}

/**
 * Lambda's destination record (the shape on-success and on-failure destinations receive), as
 * JSON text. The payload and result are spliced in as the text they are stored as.
 */
export function destinationRecord(i: RecordInput): string {
  const requestContext = {
    requestId: i.eventId,
    functionArn: functionArn(i.functionName, i.qualifier ?? '$LATEST'),
    condition: i.condition,
    approximateInvokeCount: i.attempts,
  };
  let text = `{"version":"1.0","timestamp":${JSON.stringify(new Date(i.at).toISOString())},"requestContext":${JSON.stringify(requestContext)},"requestPayload":${i.payload}`;
  const r = i.response;
  if (r !== null) {
    const executedVersion = r.version === null ? '$LATEST' : String(r.version);
    const responseContext = r.ok
      ? { statusCode: 200, executedVersion }
      : { statusCode: r.statusCode, executedVersion, ...(r.functionError ? { functionError: 'Unhandled' } : {}) };
    text += `,"responseContext":${JSON.stringify(responseContext)},"responsePayload":${r.ok ? r.resultJson : r.errorJson}`;
  }
  return `${text}}`;
}
