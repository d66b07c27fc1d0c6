import type { Clock } from '../../shared/clock.ts';

/**
 * Messages a push-based source (JetStream, MQTT) has received and not yet handed out.
 * `take` implements the batching contract of `QueueSource.receive`: wait for the first
 * message, then up to the batch window for more. Its size is bounded by the broker's flow
 * control (JetStream `max_ack_pending`, MQTT receive maximum), not here.
 */
export class MessageBuffer<T> {
  readonly #clock: Clock;
  #items: T[] = [];
  readonly #waiters = new Set<() => void>();
  #error: Error | undefined;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    this.#items.push(item);
    this.#wake();
  }

  /** Every later `take` rejects with `err` (the source broke). */
  fail(err: Error): void {
    this.#error ??= err;
    this.#wake();
  }

  /** Empties the buffer, returning what it held. */
  drain(): T[] {
    const items = this.#items;
    this.#items = [];
    return items;
  }

  async take(max: number, windowMs: number, signal: AbortSignal): Promise<T[]> {
    while (this.#items.length === 0) {
      if (this.#error) throw this.#error;
      if (signal.aborted) return [];
      await this.#wait(signal);
    }
    if (this.#items.length < max && windowMs > 0) {
      const deadline = this.#clock.now() + windowMs;
      for (let left = windowMs; this.#items.length < max && left > 0; left = deadline - this.#clock.now()) {
        if (this.#error) throw this.#error;
        if (signal.aborted) return [];
        await this.#wait(signal, left);
      }
    }
    if (this.#error) throw this.#error;
    if (signal.aborted) return [];
    return this.#items.splice(0, max);
  }

  /** Resolves on the next push, failure or abort, or after `ms`. */
  #wait(signal: AbortSignal, ms?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: unknown;
      const done = (): void => {
        this.#waiters.delete(done);
        signal.removeEventListener('abort', done);
        if (timer !== undefined) this.#clock.clearTimeout(timer);
        resolve();
      };
      this.#waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
      if (ms !== undefined) timer = this.#clock.setTimeout(done, ms);
    });
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }
}

/** Resolves after `ms` on `clock`, or at once when `signal` aborts. */
export function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      signal.removeEventListener('abort', done);
      clock.clearTimeout(timer);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
