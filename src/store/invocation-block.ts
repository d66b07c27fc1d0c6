import type { InvocationRecord } from './types.ts';

// The numbers kept per record, in this order.
const VERSION = 0;
const COLD = 1;
const STARTED_AT = 2;
const DURATION_MS = 3;
const INIT_MS = 4; // NaN: none
const NAMESPACE = 5; // the rest are codes into `strings`
const FUNCTION_ID = 6;
const SOURCE = 7;
const STATUS = 8;
const WIDTH = 9;

/** Request ids are UUIDs: 36 ASCII characters each. Other ids are kept aside. */
const ID_BYTES = 36;
const FIRST_CAPACITY = 64;

/**
 * A block as it crosses to the record writer's thread: plain data, and two ArrayBuffers that
 * thread takes over without a copy.
 */
export interface InvocationBlockData {
  count: number;
  /** Float64, WIDTH per record (the buffer may hold room for more than `count`). */
  numbers: ArrayBuffer;
  /** ASCII, ID_BYTES per record (as `numbers`). */
  ids: ArrayBuffer;
  /** Ids that are not 36 ASCII characters, by record index. */
  otherIds: [number, string][];
  /** What the string codes in `numbers` stand for. */
  strings: string[];
  /** [record index, errorType, errorMessage] of the records that have them. */
  errors: [number, string | null, string | null][];
}

/**
 * Invocation records of one batch, kept in columns. A record lives ~200 ms before it is
 * written, long enough to survive the young generation: as objects (and their id strings), a
 * batch cost the main thread ~1.5 µs per request at 32 connections, mostly garbage collection.
 * Here adding one allocates nothing that outlives the call, and the block reaches the writer's
 * thread by moving two buffers.
 */
export class InvocationBlock {
  #count = 0;
  #numbers = new Float64Array(FIRST_CAPACITY * WIDTH);
  #ids = Buffer.from(new ArrayBuffer(FIRST_CAPACITY * ID_BYTES)); // its own ArrayBuffer, never the shared pool, so it can move
  #codes = new Map<string, number>();
  #strings: string[] = [];
  #otherIds: [number, string][] = [];
  #errors: [number, string | null, string | null][] = [];

  get length(): number {
    return this.#count;
  }

  add(r: InvocationRecord): void {
    const i = this.#count;
    if ((i + 1) * WIDTH > this.#numbers.length) this.#grow();
    const n = this.#numbers;
    const at = i * WIDTH;
    n[at + VERSION] = r.version;
    n[at + COLD] = r.cold ? 1 : 0;
    n[at + STARTED_AT] = r.startedAt;
    n[at + DURATION_MS] = r.durationMs;
    n[at + INIT_MS] = r.initMs ?? Number.NaN;
    n[at + NAMESPACE] = this.#code(r.namespace);
    n[at + FUNCTION_ID] = this.#code(r.functionId);
    n[at + SOURCE] = this.#code(r.source);
    n[at + STATUS] = this.#code(r.status);
    // as many UTF-8 bytes as characters only when every character is ASCII
    if (r.id.length === ID_BYTES && Buffer.byteLength(r.id) === ID_BYTES) this.#ids.write(r.id, i * ID_BYTES, ID_BYTES, 'latin1');
    else this.#otherIds.push([i, r.id]);
    if (r.errorType !== null || r.errorMessage !== null) this.#errors.push([i, r.errorType, r.errorMessage]);
    this.#count = i + 1;
  }

  /** The block's contents for the writer's thread, and the buffers to transfer; the block is spent. */
  take(): { data: InvocationBlockData; transfer: ArrayBuffer[] } {
    // whole buffers, moved rather than copied; only the first `count` records are read
    const numbers = this.#numbers.buffer;
    const ids = this.#ids.buffer;
    return {
      data: { count: this.#count, numbers, ids, otherIds: this.#otherIds, strings: this.#strings, errors: this.#errors },
      transfer: [numbers, ids],
    };
  }

  /** The records of this block (for writers on the same thread). */
  records(): InvocationRecord[] {
    return InvocationBlock.records(this.take().data);
  }

  /** The records of a block taken with `take()`. */
  static records(d: InvocationBlockData): InvocationRecord[] {
    const n = new Float64Array(d.numbers);
    const ids = Buffer.from(d.ids);
    const other = new Map(d.otherIds);
    const errors = new Map(d.errors.map(([i, type, message]) => [i, { type, message }]));
    const out: InvocationRecord[] = [];
    for (let i = 0; i < d.count; i++) {
      const at = i * WIDTH;
      const initMs = n[at + INIT_MS]!;
      const error = errors.get(i);
      out.push({
        id: other.get(i) ?? ids.toString('latin1', i * ID_BYTES, (i + 1) * ID_BYTES),
        namespace: d.strings[n[at + NAMESPACE]!]!,
        functionId: d.strings[n[at + FUNCTION_ID]!]!,
        version: n[at + VERSION]!,
        source: d.strings[n[at + SOURCE]!]!,
        status: d.strings[n[at + STATUS]!] as InvocationRecord['status'],
        cold: n[at + COLD] === 1,
        startedAt: n[at + STARTED_AT]!,
        durationMs: n[at + DURATION_MS]!,
        initMs: Number.isNaN(initMs) ? null : initMs,
        errorType: error?.type ?? null,
        errorMessage: error?.message ?? null,
      });
    }
    return out;
  }

  #code(s: string): number {
    let c = this.#codes.get(s);
    if (c === undefined) {
      c = this.#strings.length;
      this.#strings.push(s);
      this.#codes.set(s, c);
    }
    return c;
  }

  #grow(): void {
    const numbers = new Float64Array(this.#numbers.length * 2);
    numbers.set(this.#numbers);
    this.#numbers = numbers;
    const ids = Buffer.from(new ArrayBuffer(this.#ids.length * 2));
    this.#ids.copy(ids);
    this.#ids = ids;
  }
}
