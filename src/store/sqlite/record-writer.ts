import { Worker } from 'node:worker_threads';
import type { LogRecord, RecordWriter } from '../types.ts';
import type { InvocationBlock, InvocationBlockData } from '../invocation-block.ts';

/**
 * A batch for the worker: the invocations as a block whose buffers move to it, the log lines
 * as JSON text (cheaper to hand over than a structured clone).
 */
export interface WriteMessage {
  seq: number;
  invocations: InvocationBlockData;
  logs: string;
}

export interface WriteReply {
  seq: number;
  error?: string;
}

/**
 * Writes invocation records and log lines to the SQLite file from a worker thread with its own
 * connection, so the main thread, which serves every request, spends no time in SQLite for
 * them (~4 µs per row, and the page writes and checkpoints behind them). WAL mode lets the
 * main connection read what the worker committed; the worker's transactions are short slices,
 * so a write on the main connection waits at most about a millisecond for one.
 */
export class SqliteRecordWriter implements RecordWriter {
  readonly #worker: Worker;
  readonly #fallback: RecordWriter;
  readonly #pending = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  #seq = 0;
  #failed = false;

  /** `fallback` takes over, on the calling thread, if the worker thread fails. */
  constructor(file: string, opts: { fallback: RecordWriter; warn: (message: string) => void }) {
    this.#fallback = opts.fallback;
    this.#worker = new Worker(new URL('./record-writer-worker.ts', import.meta.url), { workerData: { file }, name: 'aviary-records' });
    this.#worker.unref(); // never what keeps the process alive
    this.#worker.on('message', (reply: WriteReply) => {
      const p = this.#pending.get(reply.seq);
      this.#pending.delete(reply.seq);
      if (reply.error === undefined) p?.resolve();
      else p?.reject(new Error(reply.error));
    });
    const fail = (err: Error): void => {
      if (this.#failed) return;
      this.#failed = true;
      opts.warn(`the thread writing invocation records stopped (${err.message}); writing them on the main thread from now on`);
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  }

  write(invocations: InvocationBlock, logs: LogRecord[]): Promise<void> {
    if (this.#failed) return this.#fallback.write(invocations, logs);
    if (invocations.length === 0 && logs.length === 0) return Promise.resolve();
    const seq = ++this.#seq;
    const { data, transfer } = invocations.take();
    const message: WriteMessage = { seq, invocations: data, logs: JSON.stringify(logs) };
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject });
      this.#worker.postMessage(message, transfer);
    });
  }

  async close(): Promise<void> {
    if (this.#failed) return;
    this.#failed = true; // a deliberate stop, not a failure to report
    await this.#worker.terminate();
  }
}
