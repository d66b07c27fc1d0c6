import type { LogLine } from './types.ts';

/** Collects one invocation's log lines up to a byte cap, then one truncation marker. */
export class InvocationLogs {
  readonly lines: LogLine[] = [];
  #bytes = 0;
  #truncated = false;
  readonly #cap: number;

  constructor(capBytes: number, initial: LogLine[] = []) {
    this.#cap = capBytes;
    for (const l of initial) this.add(l);
  }

  add(line: LogLine): void {
    if (this.#truncated) return;
    this.#bytes += line.message.length + 1;
    if (this.#bytes > this.#cap) {
      this.#truncated = true;
      this.lines.push({ time: line.time, stream: 'stderr', message: `[aviary: log truncated: this invocation wrote more than ${this.#cap} bytes]` });
      return;
    }
    this.lines.push(line);
  }
}
