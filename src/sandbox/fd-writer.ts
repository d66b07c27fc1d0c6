import { writeSync } from 'node:fs';
import type { Writable } from 'node:stream';

/**
 * Writes frames to a runtime's channel pipe with one `write(2)` each, straight on its file
 * descriptor, skipping the stream machinery (a write request object, callbacks, a `nextTick`
 * per write), which costs about as much as the system call itself on the warm path. The pipe is
 * non-blocking: what does not fit (a large event, a runtime that stopped reading) goes to the
 * stream, which queues it, and later frames follow it there until the stream has drained, so
 * frames are never reordered or interleaved.
 */
export class FdWriter {
  readonly #stream: Writable & { _handle?: { fd?: unknown } | null };

  constructor(stream: Writable) {
    this.#stream = stream;
    stream.on('error', () => {}); // EPIPE when the runtime died; its exit is reported by the caller
  }

  write(text: string): void {
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
