import { InvocationBlock, type InvocationRecord, type LogRecord, type RecordWriter, type Store } from '../store/index.ts';
import type { Clock } from '../shared/clock.ts';
import { systemClock } from '../shared/clock.ts';

const FLUSH_EVERY_MS = 200;
const FLUSH_AT_RECORDS = 2000;
const PRUNE_EVERY_MS = 3600_000;
/**
 * Batches handed to the writer and not yet written (10 s or more of records). A writer that
 * falls further behind (its thread runs at a low priority, and the store may be slow) loses the
 * newest batches, and says so, rather than holding records in memory without bound.
 */
export const MAX_PENDING_BATCHES = 50;
const DROP_WARNING_EVERY_MS = 60_000;

/**
 * Invocation records and log lines, written in batches off the hot path: an invocation only
 * appends to an array, and the writer may work on another thread. Observation never blocks or
 * fails an invocation; a failed write is reported and dropped.
 */
export class Recorder {
  readonly #store: Store;
  readonly #writer: RecordWriter;
  readonly #clock: Clock;
  readonly #retentionMs: number;
  readonly #warn: (message: string) => void;
  #invocations = new InvocationBlock();
  #logs: LogRecord[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #pendingBatches = 0;
  /** Dropped for a backlog since the last warning, and when that warning was. */
  #dropped = { invocations: 0, logs: 0, warnedAt: Number.NEGATIVE_INFINITY };
  readonly #pruner: NodeJS.Timeout;

  constructor(opts: { store: Store; writer: RecordWriter; retentionMs: number; warn: (message: string) => void; clock?: Clock }) {
    this.#store = opts.store;
    this.#writer = opts.writer;
    this.#clock = opts.clock ?? systemClock;
    this.#retentionMs = opts.retentionMs;
    this.#warn = opts.warn;
    this.#pruner = setInterval(() => void this.prune(), PRUNE_EVERY_MS);
    this.#pruner.unref();
  }

  /** Copies `record` into the current batch (the object itself is not kept). */
  invocation(record: InvocationRecord, logs: LogRecord[]): void {
    this.#invocations.add(record);
    for (const l of logs) this.#logs.push(l);
    this.#schedule();
  }

  logs(lines: LogRecord[]): void {
    for (const l of lines) this.#logs.push(l);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#invocations.length + this.#logs.length >= FLUSH_AT_RECORDS) {
      void this.flush();
      return;
    }
    if (!this.#timer) {
      this.#timer = setTimeout(() => void this.flush(), FLUSH_EVERY_MS);
      this.#timer.unref();
    }
  }

  /** Writes everything buffered; resolves once it is in the store (used by reads and shutdown). */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const invocations = this.#invocations;
    const logs = this.#logs;
    this.#invocations = new InvocationBlock();
    this.#logs = [];
    if (this.#pendingBatches >= MAX_PENDING_BATCHES) {
      this.#dropForBacklog(invocations.length, logs.length);
      return this.#flushing;
    }
    this.#pendingBatches++;
    this.#flushing = this.#flushing.then(async () => {
      try {
        await this.#writer.write(invocations, logs);
      } catch (err) {
        this.#warn(`dropped ${invocations.length} invocation records and ${logs.length} log lines: ${(err as Error).message}`);
      } finally {
        this.#pendingBatches--;
      }
    });
    return this.#flushing;
  }

  #dropForBacklog(invocations: number, logs: number): void {
    const d = this.#dropped;
    d.invocations += invocations;
    d.logs += logs;
    const now = this.#clock.now();
    if (now - d.warnedAt < DROP_WARNING_EVERY_MS) return;
    this.#warn(`dropped ${d.invocations} invocation records and ${d.logs} log lines: writing them falls behind (${MAX_PENDING_BATCHES} batches waiting); the machine is short of CPU or the store is slow`);
    d.invocations = 0;
    d.logs = 0;
    d.warnedAt = now;
  }

  async prune(): Promise<void> {
    try {
      await this.#store.prune(this.#clock.now() - this.#retentionMs);
    } catch (err) {
      this.#warn(`pruning old logs failed: ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#pruner);
    await this.flush();
    await this.#writer.close();
  }
}
