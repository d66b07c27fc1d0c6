// Test helper: spawns a bootstrap (src/runtimes/{node,python}) directly, without a sandbox, and
// speaks the host channel of src/runtimes/PROTOCOL.md to it (fd 3 host → runtime, fd 4 back).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';

export const NODE_BOOTSTRAP = fileURLToPath(new URL('../../src/runtimes/node/bootstrap.mjs', import.meta.url));
export const PYTHON_BOOTSTRAP = fileURLToPath(new URL('../../src/runtimes/python/bootstrap.py', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../fixtures/functions/', import.meta.url));

/** One message of the channel, e.g. {t:'log', id, stream, data}. */
export type Frame = { t: string; [key: string]: unknown };
export type Exit = { code: number | null; signal: NodeJS.Signals | null };

type Waiter = { match: (f: Frame) => boolean; resolve: (frames: Frame[]) => void; reject: (e: Error) => void };

export class RuntimeChannel {
  readonly child: ChildProcess;
  /** Frames received and not yet consumed by next()/until(). */
  readonly pending: Frame[] = [];
  /** Everything the process wrote to fd 1 / fd 2 outside the capture. */
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exit>;
  #waiter: Waiter | undefined;
  #closed = false;
  #partial: Buffer[] = [];

  constructor(command: string, args: string[]) {
    this.child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH },
    });
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => (this.stdout += s));
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    const out = this.child.stdio[4] as Readable;
    out.on('data', (chunk: Buffer) => this.#onData(chunk));
    // A crashed runtime closes its end; writes to it must not crash the test process.
    (this.child.stdio[3] as Writable).on('error', () => {});
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        // fd 4 may still hold data; give its 'end' a moment before failing waiters.
        out.once('close', () => this.#close());
        setTimeout(() => this.#close(), 200);
        resolve({ code, signal });
      });
    });
  }

  static node(): RuntimeChannel {
    return new RuntimeChannel(process.execPath, ['--enable-source-maps', NODE_BOOTSTRAP]);
  }

  static python(): RuntimeChannel {
    return new RuntimeChannel('python3', [PYTHON_BOOTSTRAP]);
  }

  send(message: object): void {
    (this.child.stdio[3] as Writable).write(JSON.stringify(message) + '\n');
  }

  /** Resolves with all pending frames up to and including the first that matches. */
  until(match: (f: Frame) => boolean, timeoutMs = 10_000): Promise<Frame[]> {
    const i = this.pending.findIndex(match);
    if (i !== -1) return Promise.resolve(this.pending.splice(0, i + 1));
    if (this.#closed) return Promise.reject(new Error(`channel closed; pending: ${JSON.stringify(this.pending)}; stderr: ${this.stderr}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        reject(new Error(`timed out; pending: ${JSON.stringify(this.pending).slice(0, 2000)}; stderr: ${this.stderr}`));
      }, timeoutMs);
      this.#waiter = {
        match,
        resolve: (frames) => (clearTimeout(timer), resolve(frames)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
    });
  }

  /** The next frame of type `t` (frames before it are dropped). */
  async next(t: string, timeoutMs?: number): Promise<Frame> {
    const frames = await this.until((f) => f.t === t, timeoutMs);
    return frames[frames.length - 1]!;
  }

  /** Sends init and returns the answer (ready or initError) with the log frames before it. */
  async init(fixture: string, handler: string, extra: Record<string, unknown> = {}): Promise<{ answer: Frame; logs: Frame[] }> {
    this.send({
      t: 'init',
      taskRoot: FIXTURES + fixture,
      handler,
      env: { AWS_LAMBDA_FUNCTION_NAME: fixture },
      functionName: fixture,
      functionVersion: '1',
      memoryMB: 256,
      logGroupName: `/aviary/default/${fixture}`,
      logStreamName: '2026/01/01/[1]test',
      invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${fixture}`,
      ...extra,
    });
    const frames = await this.until((f) => f.t === 'ready' || f.t === 'initError');
    return { answer: frames.pop()!, logs: frames.filter((f) => f.t === 'log') };
  }

  #seq = 0;

  /** Sends an invoke and returns the answer (result or error) with the log frames before it. */
  async invoke(event: unknown, extra: Record<string, unknown> = {}): Promise<{ answer: Frame; logs: Frame[]; id: string }> {
    const id = `req-${++this.#seq}-${process.pid}`;
    this.send({
      t: 'invoke',
      id,
      timeoutMs: 30_000,
      invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:test:1',
      traceId: null,
      clientContext: null,
      identity: null,
      ...extra,
      event,
    });
    const frames = await this.until((f) => (f.t === 'result' || f.t === 'error') && f.id === id, 20_000);
    return { answer: frames.pop()!, logs: frames.filter((f) => f.t === 'log'), id };
  }

  /** Closes fd 3 (the runtime exits) and waits for the exit; kills it if it lingers. */
  async close(): Promise<Exit> {
    (this.child.stdio[3] as Writable).end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  #onData(chunk: Buffer): void {
    let start = 0;
    let nl: number;
    while ((nl = chunk.indexOf(10, start)) !== -1) {
      this.#partial.push(chunk.subarray(start, nl));
      const line = Buffer.concat(this.#partial).toString('utf8');
      this.#partial = [];
      start = nl + 1;
      this.pending.push(JSON.parse(line) as Frame);
    }
    if (start < chunk.length) this.#partial.push(chunk.subarray(start));
    const w = this.#waiter;
    if (w) {
      const i = this.pending.findIndex(w.match);
      if (i !== -1) {
        this.#waiter = undefined;
        w.resolve(this.pending.splice(0, i + 1));
      }
    }
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(new Error(`runtime exited; pending: ${JSON.stringify(this.pending).slice(0, 2000)}; stderr: ${this.stderr}`));
  }
}
