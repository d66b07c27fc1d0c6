import type { Clock } from '../../src/shared/clock.ts';

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/**
 * A Clock whose time moves only when a test says so. `advance` runs due timers in time order,
 * each with `now()` at its due time, so code under test sees the times it would see for real.
 */
export class FakeClock implements Clock {
  #now: number;
  #nextId = 1;
  readonly #timers = new Map<number, Timer>();

  constructor(start: number | string | Date) {
    this.#now = new Date(start).getTime();
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): { unref(): unknown; id: number } {
    const id = this.#nextId++;
    this.#timers.set(id, { id, at: this.#now + Math.max(0, ms), fn });
    return { id, unref: () => undefined };
  }

  clearTimeout(handle: unknown): void {
    const id = (handle as { id?: number } | undefined)?.id;
    if (id !== undefined) this.#timers.delete(id);
  }

  /** Timers still pending, soonest first, as delays from now. */
  pending(): number[] {
    return [...this.#timers.values()].map((t) => t.at - this.#now).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, running every timer that falls due on the way. */
  advance(ms: number): void {
    this.set(this.#now + ms);
  }

  /** Moves time to `t` (never backwards), running every timer due by then. */
  set(t: number | string | Date): void {
    const target = new Date(t).getTime();
    for (;;) {
      let next: Timer | undefined;
      for (const timer of this.#timers.values()) if (timer.at <= target && (!next || timer.at < next.at)) next = timer;
      if (!next) break;
      this.#timers.delete(next.id);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = Math.max(this.#now, target);
  }
}
