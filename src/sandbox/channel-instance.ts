import type { Writable, Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { InvocationLogs } from './invocation-logs.ts';
import { LineSplitter } from './lines.ts';
import { linkTree } from './link-tree.ts';
import { describeExit, type SandboxProcess } from './process.ts';
import { InitFailure, initTimeoutError, responseTooLarge, type ExitInfo, type FunctionError, type FunctionSpec, type Instance, type InvokeOutcome, type InvokeRequest, type LogLine } from './types.ts';

/** Frames the runtime may send (src/runtimes/PROTOCOL.md), checked before use. */
type RuntimeFrame =
  | { t: 'hello' }
  | { t: 'ready'; initMs?: number }
  | { t: 'initError'; error: FunctionError }
  | { t: 'result'; id: string; result: unknown }
  | { t: 'error'; id: string; error: FunctionError; fatal?: boolean }
  | { t: 'log'; id: string | null; stream: 'stdout' | 'stderr'; data: string };

function parseFrame(line: string): RuntimeFrame {
  const f = JSON.parse(line) as Record<string, unknown>;
  if (f === null || typeof f !== 'object' || typeof f.t !== 'string') throw new Error('frame without a type');
  switch (f.t) {
    case 'hello':
    case 'ready':
      return f as RuntimeFrame;
    case 'initError':
    case 'error':
      if (!isFunctionError(f.error)) throw new Error(`${f.t} frame without a valid error`);
      return f as RuntimeFrame;
    case 'result':
      if (typeof f.id !== 'string') throw new Error('result frame without id');
      return f as RuntimeFrame;
    case 'log':
      if (typeof f.data !== 'string') throw new Error('log frame without data');
      return f as RuntimeFrame;
    default:
      throw new Error(`unknown frame type ${JSON.stringify(f.t)}`);
  }
}

function isFunctionError(e: unknown): e is FunctionError {
  return typeof e === 'object' && e !== null && typeof (e as FunctionError).errorType === 'string' && typeof (e as FunctionError).errorMessage === 'string';
}

interface Pending {
  requestId: string;
  logs: InvocationLogs;
  resolve: (o: InvokeOutcome) => void;
  timer: NodeJS.Timeout;
}

export interface ChannelInstanceOptions {
  runtime: 'node' | 'python';
  /** Host dir bound at /var/task when sandboxed (filled by hard links at specialise); undefined when not. */
  slotDir: string | undefined;
  logCapBytes: number;
  /** Largest result frame read at all (the response limit plus framing); past it the runtime is ended. */
  maxResponseBytes: number;
  /** Largest result (Lambda: 6 MB); a larger one fails the invocation. */
  resultLimitBytes: number;
  /** The init phase (loading the handler's module) must finish within this. */
  initTimeoutMs: number;
  /** Called once an invocation crossed its memory limit; the watchdog decides, we report. */
  onBusyChange: (instance: ChannelInstance, busy: boolean) => void;
}

/** An instance running one of our bootstraps, talking over fds 3 and 4. */
export class ChannelInstance implements Instance {
  readonly id = randomUUID();
  readonly runtime: 'node' | 'python';
  readonly #proc: SandboxProcess;
  readonly #out: Writable;
  readonly #opts: ChannelInstanceOptions;
  #spec: FunctionSpec | undefined;
  #pending: Pending | undefined;
  #hello: { resolve: () => void; reject: (e: Error) => void } | undefined;
  #init: { resolve: (ms: number) => void; reject: (e: FunctionError) => void; logs: LogLine[] } | undefined;
  #lastRequestId: string | null = null;
  #strayLogSink: (requestId: string | null, line: LogLine) => void = () => {};
  readonly started: Promise<void>;

  constructor(proc: SandboxProcess, opts: ChannelInstanceOptions) {
    this.runtime = opts.runtime;
    this.#proc = proc;
    this.#opts = opts;
    this.#out = proc.child.stdio[3] as Writable;
    this.#out.on('error', () => {}); // EPIPE when the runtime died; the exit handler reports it
    const frames = new LineSplitter((line) => this.#onFrame(line), {
      maxLineBytes: opts.maxResponseBytes,
      onOverflow: () => this.#failPending(responseTooLarge(opts.resultLimitBytes), true),
    });
    (proc.child.stdio[4] as Readable).on('data', (chunk: Buffer) => frames.push(chunk));
    proc.onOutput = (line) => this.#onLog(null, line);
    this.started = new Promise<void>((resolve, reject) => { this.#hello = { resolve, reject }; });
    proc.onExit((info) => this.#onExit(info));
  }

  get alive(): boolean {
    return this.#proc.alive;
  }

  get spec(): FunctionSpec | undefined {
    return this.#spec;
  }

  setStrayLogSink(sink: (requestId: string | null, line: LogLine) => void): void {
    this.#strayLogSink = sink;
  }

  onExit(listener: (info: ExitInfo) => void): void {
    this.#proc.onExit(listener);
  }

  kill(): void {
    this.#proc.kill('killed');
  }

  killForMemory(): void {
    this.#proc.kill('memory');
  }

  memoryBytes(): number {
    return this.#proc.memoryBytes();
  }

  async specialise(spec: FunctionSpec): Promise<{ initMs: number; logs: LogLine[] }> {
    this.#spec = spec;
    if (this.#opts.slotDir) await linkTree(spec.codeDir, this.#opts.slotDir);
    const logs: LogLine[] = [];
    let timer: NodeJS.Timeout | undefined;
    const initMs = await new Promise<number>((resolve, reject) => {
      this.#init = { resolve, reject: (e) => reject(new InitFailure(e, logs)), logs };
      timer = setTimeout(() => {
        const init = this.#init;
        this.#init = undefined;
        init?.reject(initTimeoutError(this.#opts.initTimeoutMs));
        this.kill();
      }, this.#opts.initTimeoutMs);
      this.#send({
        t: 'init',
        taskRoot: this.#opts.slotDir ? '/var/task' : spec.codeDir,
        handler: spec.handler,
        env: spec.env,
        functionName: spec.functionName,
        functionVersion: spec.functionVersion,
        memoryMB: spec.memoryMB,
        logGroupName: spec.logGroupName,
        logStreamName: spec.logStreamName,
        invokedFunctionArn: spec.invokedFunctionArn,
      });
    }).finally(() => clearTimeout(timer));
    return { initMs, logs };
  }

  invoke(req: InvokeRequest): Promise<InvokeOutcome> {
    const spec = this.#spec;
    if (!spec) throw new Error('invoke before specialise');
    if (this.#pending) throw new Error('instance is busy: one invocation at a time');
    return new Promise<InvokeOutcome>((resolve) => {
      const logs = new InvocationLogs(this.#opts.logCapBytes);
      if (!this.alive) {
        resolve({ ok: false, error: { errorType: 'Runtime.ExitError', errorMessage: 'Runtime exited before the invocation started' }, logs: logs.lines, retire: true });
        return;
      }
      const timer = setTimeout(() => this.#timedOut(), Math.max(0, req.deadlineMs - Date.now()));
      this.#pending = { requestId: req.requestId, logs, resolve, timer };
      this.#lastRequestId = req.requestId;
      this.#opts.onBusyChange(this, true);
      // The event is spliced in as text: validated by the caller, never re-serialised. A frame is
      // one line, and in valid JSON a raw CR/LF can only be whitespace between tokens, so
      // blanking them keeps the value and the framing intact.
      const event = req.eventJson.includes('\n') || req.eventJson.includes('\r') ? req.eventJson.replace(/[\r\n]/g, ' ') : req.eventJson;
      this.#out.write(`{"t":"invoke","id":${JSON.stringify(req.requestId)},"deadlineMs":${req.deadlineMs},"invokedFunctionArn":${JSON.stringify(req.invokedFunctionArn)},"traceId":${JSON.stringify(req.traceId)},"clientContext":${JSON.stringify(req.clientContext ?? null)},"identity":null,"event":${event}}\n`);
    });
  }

  #send(frame: object): void {
    this.#out.write(`${JSON.stringify(frame)}\n`);
  }

  #onFrame(line: string): void {
    let frame: RuntimeFrame;
    try {
      frame = parseFrame(line);
    } catch (err) {
      // a runtime that breaks the protocol cannot be trusted with another invocation
      this.#failPending({ errorType: 'Runtime.InvalidResponse', errorMessage: `runtime sent an invalid message: ${(err as Error).message}` }, true);
      return;
    }
    switch (frame.t) {
      case 'hello':
        this.#hello?.resolve();
        this.#hello = undefined;
        return;
      case 'ready':
        this.#init?.resolve(frame.initMs ?? 0);
        this.#init = undefined;
        return;
      case 'initError': {
        const init = this.#init;
        this.#init = undefined;
        init?.reject(frame.error);
        this.kill();
        return;
      }
      case 'log':
        this.#onLog(frame.id, { time: Date.now(), stream: frame.stream === 'stderr' ? 'stderr' : 'stdout', message: frame.data });
        return;
      case 'result':
      case 'error': {
        const p = this.#pending;
        if (!p || p.requestId !== frame.id) return; // an answer for an invocation we already gave up on
        // the frame is the result plus ~40 bytes of framing; measure bytes only when it could be over
        const limit = this.#opts.resultLimitBytes;
        if (frame.t === 'result' && line.length * 3 > limit && Buffer.byteLength(line) - 40 - frame.id.length > limit) {
          this.#settle({ ok: false, error: responseTooLarge(limit), logs: p.logs.lines, retire: false });
          return;
        }
        this.#settle(frame.t === 'result'
          ? { ok: true, result: frame.result ?? null, logs: p.logs.lines }
          : { ok: false, error: frame.error, logs: p.logs.lines, retire: frame.fatal === true });
        return;
      }
    }
  }

  #onLog(requestId: string | null, line: LogLine): void {
    if (this.#init) {
      this.#init.logs.push(line);
      return;
    }
    const p = this.#pending;
    if (p && (requestId === null || requestId === p.requestId)) p.logs.add(line);
    else this.#strayLogSink(requestId ?? this.#lastRequestId, line);
  }

  #settle(outcome: InvokeOutcome): void {
    const p = this.#pending;
    if (!p) return;
    this.#pending = undefined;
    clearTimeout(p.timer);
    this.#opts.onBusyChange(this, false);
    p.resolve(outcome);
  }

  #failPending(error: FunctionError, retire: boolean): void {
    const p = this.#pending;
    if (p) this.#settle({ ok: false, error, logs: p.logs.lines, retire });
    if (retire) this.kill();
  }

  #timedOut(): void {
    const spec = this.#spec!;
    this.#failPending({ errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${(spec.timeoutMs / 1000).toFixed(2)} seconds` }, true);
  }

  #onExit(info: ExitInfo): void {
    const memoryMB = this.#spec?.memoryMB ?? 0;
    const error = { ...describeExit(info, memoryMB, this.#proc.stderrTail) };
    this.#hello?.reject(new Error(`runtime process exited before it started (${error.errorMessage}): ${this.#proc.stderrTail.join('\n')}`));
    this.#hello = undefined;
    if (this.#init) {
      const init = this.#init;
      this.#init = undefined;
      init.reject({ errorType: 'Runtime.ExitError', errorMessage: `${error.errorMessage} during init` });
    }
    const p = this.#pending;
    if (p) this.#settle({ ok: false, error: { ...error, errorMessage: `RequestId: ${p.requestId} Error: ${error.errorMessage}` }, logs: p.logs.lines, retire: true });
  }
}
