// The record writer's thread (record-writer.ts): its own connection to the database file,
// batches written in short transactions, one reply per batch, in order.
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteDatabase } from './database.ts';
import { INVOCATION_WIDTH, SqliteStore, type InvocationRowValue } from './sqlite-store.ts';
import { WRITE_SLICE } from '../record-writer.ts';
import type { LogRecord } from '../types.ts';
import type { WriteMessage, WriteReply } from './record-writer.ts';

const store = new SqliteStore(new SqliteDatabase((workerData as { file: string }).file));
const port = parentPort!;

port.on('message', async (m: WriteMessage) => {
  const reply: WriteReply = { seq: m.seq };
  try {
    const rows = JSON.parse(m.invocations) as InvocationRowValue[];
    const logs = JSON.parse(m.logs) as LogRecord[];
    // synchronous: the next batch's message is handled only after this one
    const slice = WRITE_SLICE * INVOCATION_WIDTH;
    for (let i = 0; i < rows.length; i += slice) store.insertInvocationRows(rows.slice(i, i + slice));
    for (let i = 0; i < logs.length; i += WRITE_SLICE) await store.insertLogs(logs.slice(i, i + WRITE_SLICE));
  } catch (err) {
    reply.error = (err as Error).message;
  }
  port.postMessage(reply);
});
