import type { LogRecord, RecordWriter, Store } from './types.ts';
import type { InvocationBlock } from './invocation-block.ts';

/** Rows per write: ~1 ms of work, so requests never wait long behind a batch. */
export const WRITE_SLICE = 128;

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Writes records through a store on the calling thread, in slices with a turn of the event loop
 * between them: one big transaction would stall every request waiting behind it. For stores
 * that are not already off the main thread (networked ones, an in-memory SQLite).
 */
export class StoreRecordWriter implements RecordWriter {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  async write(block: InvocationBlock, logs: LogRecord[]): Promise<void> {
    const invocations = block.records();
    for (let i = 0; i < invocations.length; i += WRITE_SLICE) {
      await this.#store.insertInvocations(invocations.slice(i, i + WRITE_SLICE));
      await yieldToEventLoop();
    }
    for (let i = 0; i < logs.length; i += WRITE_SLICE) {
      await this.#store.insertLogs(logs.slice(i, i + WRITE_SLICE));
      await yieldToEventLoop();
    }
  }

  async close(): Promise<void> {}
}
