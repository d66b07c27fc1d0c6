// The record writer's thread (record-writer.ts): its own connection to the database file,
// batches written in short transactions, one reply per batch, in order.
import { readlinkSync } from 'node:fs';
import os from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteDatabase } from './database.ts';
import { SqliteStore } from './sqlite-store.ts';
import { InvocationBlock } from '../invocation-block.ts';
import { WRITE_SLICE } from '../record-writer.ts';
import type { LogRecord } from '../types.ts';
import type { WriteMessage, WriteReply } from './record-writer.ts';

lowerOwnPriority();

const store = new SqliteStore(new SqliteDatabase((workerData as { file: string }).file));
const port = parentPort!;

port.on('message', async (m: WriteMessage) => {
  const reply: WriteReply = { seq: m.seq };
  try {
    const invocations = InvocationBlock.records(m.invocations);
    const logs = JSON.parse(m.logs) as LogRecord[];
    // synchronous underneath: the next batch's message is handled only after this one
    for (let i = 0; i < invocations.length; i += WRITE_SLICE) await store.insertInvocations(invocations.slice(i, i + WRITE_SLICE));
    for (let i = 0; i < logs.length; i += WRITE_SLICE) await store.insertLogs(logs.slice(i, i + WRITE_SLICE));
  } catch (err) {
    reply.error = (err as Error).message;
  }
  port.postMessage(reply);
});

/**
 * Records are background work: at nice 10 this thread no longer preempts the main thread (or
 * the function instances) when it wakes for a batch, yet still gets the idle CPU it needs. At
 * 32 connections the server's main thread was preempted on ~0.4–0.6 requests in 1 before, ~0.2
 * after. Linux sets a nice value per thread; elsewhere, or if refused, it runs as it is.
 */
function lowerOwnPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').at(-1));
    if (Number.isSafeInteger(tid) && tid > 0) os.setPriority(tid, Math.max(os.getPriority(tid), 10));
  } catch {
    // not Linux, or /proc not mounted
  }
}
