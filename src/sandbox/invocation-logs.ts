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
    // UTF-8 bytes plus the newline: a line of 'é' counts twice its length, as it would on disk
    this.#bytes += Buffer.byteLength(line.message) + 1;
    if (this.#bytes > this.#cap) {
      this.#truncated = true;
      this.lines.push({ time: line.time, stream: 'stderr', message: `[aviary: log truncated: this invocation wrote more than ${this.#cap} bytes]` });
      return;
    }
    this.lines.push(line);
  }
}
