import { writeSync } from 'node:fs';
import type { Writable } from 'node:stream';

/** Writers holding frames for the end of this event-loop turn, flushed by one `setImmediate`. */
const due = new Set<FdWriter>();
let flushScheduled = false;

function flushDue(): void {
  flushScheduled = false;
  for (const writer of due) writer.flush();
  due.clear();
}

/**
 * Writes frames to a runtime's channel pipe. Frames written during one turn of the event loop
 * go out together in one `write(2)` at the end of the turn (the check phase, after every socket
 * that was ready has been read): under load one turn handles many requests, and one write per
 * instance per turn, instead of one per request, saves the system calls and, above all, the
 * wake-ups of an instance that went to sleep between frames (a cross-CPU wake-up costs more than
 * the call itself). An idle server's frame waits only for the rest of its own turn.
 *
 * The write goes straight to the pipe's file descriptor, skipping the stream machinery (a write
 * request object, callbacks, a `nextTick` per write). The pipe is non-blocking: what does not
 * fit (a large event, a runtime that stopped reading) goes to the stream, which queues it, and
 * later frames follow it there until the stream has drained, so frames are never reordered or
 * interleaved.
 */
export class FdWriter {
  readonly #stream: Writable & { _handle?: { fd?: unknown } | null };
  /** Frames written this turn, not yet sent. */
  #pending = '';

  constructor(stream: Writable) {
    this.#stream = stream;
    stream.on('error', () => {}); // EPIPE when the runtime died; its exit is reported by the caller
  }

  /** Queues `text` (whole frames) for this turn's write. */
  write(text: string): void {
    if (this.#pending !== '') {
      this.#pending += text;
      return;
    }
    this.#pending = text;
    due.add(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushDue);
    }
  }

  /** Sends what this turn queued (called at the end of the turn). */
  flush(): void {
    const text = this.#pending;
    if (text === '') return;
    this.#pending = '';
    const stream = this.#stream;
    // the descriptor is read from libuv's live pipe handle each time: once the stream is closed
    // the handle is gone, and its old number may already belong to another file
    const fd = stream._handle?.fd;
    if (typeof fd !== 'number' || fd < 0 || stream.writableLength > 0 || stream.destroyed) {
      stream.write(text);
      return;
    }
    let written = 0;
    try {
      written = writeSync(fd, text); // as UTF-8; the count is in bytes
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') return; // EPIPE, EBADF: the runtime is gone
    }
    if (written === Buffer.byteLength(text)) return;
    stream.write(Buffer.from(text, 'utf8').subarray(written));
  }
}
