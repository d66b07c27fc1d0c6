import type { InvokeResult } from '../../invoke/index.ts';

/** `X-Amz-Log-Result` carries at most this many bytes of the log's end (Lambda's 4 KB). */
export const LOG_TAIL_BYTES = 4096;

/**
 * The invocation's log as Lambda's tail shows it — START, the function's output, END, REPORT —
 * cut to its last 4 KB and base64-encoded.
 */
export function logTail(result: Pick<InvokeResult, 'requestId' | 'version' | 'logs' | 'durationMs' | 'initMs' | 'cold'>): string {
  const id = result.requestId;
  const lines = [`START RequestId: ${id} Version: ${result.version.version}`];
  for (const l of result.logs) lines.push(l.message);
  lines.push(`END RequestId: ${id}`);
  const init = result.cold && result.initMs !== null ? `\tInit Duration: ${result.initMs.toFixed(2)} ms` : '';
  lines.push(`REPORT RequestId: ${id}\tDuration: ${result.durationMs.toFixed(2)} ms\tBilled Duration: ${Math.max(1, Math.ceil(result.durationMs))} ms\tMemory Size: ${result.version.memory} MB${init}\t`);
  const bytes = Buffer.from(`${lines.join('\n')}\n`);
  return bytes.subarray(Math.max(0, bytes.length - LOG_TAIL_BYTES)).toString('base64');
}
