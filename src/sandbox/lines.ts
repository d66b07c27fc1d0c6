/**
 * Splits a byte stream into newline-terminated lines without quadratic copying: chunks are
 * kept until a newline arrives, then joined once. The common case (a chunk holding exactly
 * whole lines) allocates nothing beyond the strings themselves.
 */
export class LineSplitter {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  readonly #onLine: (line: string) => void;
  readonly #maxLineBytes: number;
  readonly #onOverflow: () => void;

  constructor(onLine: (line: string) => void, options: { maxLineBytes: number; onOverflow: () => void }) {
    this.#onLine = onLine;
    this.#maxLineBytes = options.maxLineBytes;
    this.#onOverflow = options.onOverflow;
  }

  push(chunk: Buffer): void {
    let start = 0;
    let nl = chunk.indexOf(10);
    while (nl !== -1) {
      if (this.#pending.length > 0) {
        this.#pending.push(chunk.subarray(start, nl));
        const line = Buffer.concat(this.#pending).toString('utf8');
        this.#pending = [];
        this.#pendingBytes = 0;
        this.#onLine(line);
      } else {
        this.#onLine(chunk.toString('utf8', start, nl));
      }
      start = nl + 1;
      nl = chunk.indexOf(10, start);
    }
    if (start < chunk.length) {
      this.#pending.push(chunk.subarray(start));
      this.#pendingBytes += chunk.length - start;
      if (this.#pendingBytes > this.#maxLineBytes) {
        this.#pending = [];
        this.#pendingBytes = 0;
        this.#onOverflow();
      }
    }
  }

  /** Returns whatever partial line is buffered (used for raw stdout/stderr at exit). */
  flush(): string | undefined {
    if (this.#pending.length === 0) return undefined;
    const rest = Buffer.concat(this.#pending).toString('utf8');
    this.#pending = [];
    this.#pendingBytes = 0;
    return rest;
  }
}
