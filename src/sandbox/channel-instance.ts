import type { Writable, Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { jsonString } from '../shared/json.ts';
import { FdWriter } from './fd-writer.ts';
import { InvocationLogs } from './invocation-logs.ts';
import { LineSplitter } from './lines.ts';
import { linkTree } from './link-tree.ts';
import { describeExit, type SandboxProcess } from './process.ts';
import { InitFailure, initTimeoutError, responseTooLarge, type ExitInfo, type FunctionError, type FunctionSpec, type Instance, type InvokeOutcome, type InvokeRequest, type LogLine } from './types.ts';

/** Frames the runtime may send (src/runtimes/PROTOCOL.md), checked before use. */
type RuntimeFrame =
  | { t: 'hello' }
  | { t: 'pong' }
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
    case 'pong':
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
  timeoutMs: number;
  /** performance.now() when the runtime started it (set when it becomes the running one). */
  startedAt: number;
  /** Made when the first line arrives: most invocations of a warm function log nothing. */
  logs: InvocationLogs | undefined;
  done: (o: InvokeOutcome) => void;
}

/** How long an exited runtime's last frames may take to arrive before the exit is handled. */
const EXIT_DRAIN_MS = 200;

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
  readonly canQueue = true;
  readonly #proc: SandboxProcess;
  readonly #out: FdWriter;
  readonly #opts: ChannelInstanceOptions;
  /** The last `invokedFunctionArn` sent and its JSON (a function's callers mostly use one). */
  #arn = '';
  #arnJson = '""';
  #spec: FunctionSpec | undefined;
  /** The invocation the runtime is running. */
  #running: Pending | undefined;
  /** Invocations sent after it, started by the runtime in order as each answer goes out. */
  #queued: Pending[] = [];
  /** Settled by the start-up handshake: the runtime's hello, our ping, its pong. */
  #handshake: { resolve: () => void; reject: (e: Error) => void } | undefined;
  #init: { resolve: (ms: number) => void; reject: (e: FunctionError) => void; logs: LogLine[] } | undefined;
  #lastRequestId: string | null = null;
  /**
   * The running invocation's timeout: one timer per instance, armed at most once per timeout
   * period rather than once per invocation (re-arming a timer is a list removal and insertion on
   * the hot path). Starting an invocation only notes the time; when the timer fires it looks at
   * the invocation running then, and waits for the rest of that one's time if it has any left.
   */
  #deadline: NodeJS.Timeout | undefined;
  /** performance.now() when the armed timer fires. */
  #deadlineAt = 0;
  #strayLogSink: (requestId: string | null, line: LogLine) => void = () => {};
  readonly started: Promise<void>;

  constructor(proc: SandboxProcess, opts: ChannelInstanceOptions) {
    this.runtime = opts.runtime;
    this.#proc = proc;
    this.#opts = opts;
    this.#out = new FdWriter(proc.child.stdio[3] as Writable);
    const frames = new LineSplitter((line) => this.#onFrame(line), {
      maxLineBytes: opts.maxResponseBytes,
      onOverflow: () => this.#failPending(responseTooLarge(opts.resultLimitBytes), true),
    });
    const input = proc.child.stdio[4] as Readable;
    input.on('data', (chunk: Buffer) => frames.push(chunk));
    const drained = new Promise<void>((resolve) => input.once('close', resolve));
    proc.onOutput = (line) => this.#onLog(null, line);
    this.started = new Promise<void>((resolve, reject) => { this.#handshake = { resolve, reject }; });
    // Frames the runtime wrote just before it exited (an answer, then a crash in the next
    // queued invocation) are read first: what ran and what never started depends on them.
    proc.onExit((info) => {
      let timer: NodeJS.Timeout | undefined;
      void Promise.race([drained, new Promise<void>((resolve) => { timer = setTimeout(resolve, EXIT_DRAIN_MS); })])
        .then(() => { clearTimeout(timer); this.#onExit(info); });
    });
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

  overMemory(limitBytes: number): boolean {
    return this.#proc.overMemory(limitBytes);
  }

  limitNote(): string | undefined {
    return this.#proc.cgroup?.limitNote();
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

  invoke(req: InvokeRequest, done: (outcome: InvokeOutcome) => void): void {
    if (!this.#spec) throw new Error('invoke before specialise');
    if (!this.alive) {
      done(notStarted([]));
      return;
    }
    const p: Pending = { requestId: req.requestId, timeoutMs: req.timeoutMs, startedAt: 0, logs: undefined, done };
    // The event is spliced in as text: validated by the caller, never re-serialised. A frame is
    // one line, and in valid JSON a raw CR/LF can only be whitespace between tokens, so
    // blanking them keeps the value and the framing intact.
    const event = req.eventJsonOneLine === true || !(req.eventJson.includes('\n') || req.eventJson.includes('\r'))
      ? req.eventJson
      : req.eventJson.replace(/[\r\n]/g, ' ');
    if (req.invokedFunctionArn !== this.#arn) {
      this.#arn = req.invokedFunctionArn;
      this.#arnJson = jsonString(req.invokedFunctionArn);
    }
    const traceId = req.traceId === null ? 'null' : jsonString(req.traceId);
    const clientContext = req.clientContext === null || req.clientContext === undefined ? 'null' : JSON.stringify(req.clientContext);
    this.#out.write(`{"t":"invoke","id":${jsonString(req.requestId)},"timeoutMs":${req.timeoutMs},"invokedFunctionArn":${this.#arnJson},"traceId":${traceId},"clientContext":${clientContext},"identity":null,"event":${event}}\n`);
    // sent at once even when queued: the runtime finds it waiting when it answers the current one
    if (this.#running) this.#queued.push(p);
    else this.#start(p);
  }

  #start(p: Pending): void {
    this.#running = p;
    this.#lastRequestId = p.requestId;
    p.startedAt = performance.now();
    // an armed timer fires no later than this invocation's deadline (all of an instance's
    // invocations have its version's timeout), and then looks again
    if (this.#deadline === undefined || this.#deadlineAt > p.startedAt + p.timeoutMs) this.#armDeadline(p.timeoutMs);
    this.#opts.onBusyChange(this, true);
  }

  #armDeadline(ms: number): void {
    clearTimeout(this.#deadline);
    this.#deadlineAt = performance.now() + ms;
    this.#deadline = setTimeout(() => {
      this.#deadline = undefined;
      const p = this.#running;
      if (!p) return;
      const left = p.startedAt + p.timeoutMs - performance.now();
      // node's timers count from the event loop's cached time, so one may fire a little early
      if (left > 0) this.#armDeadline(Math.max(1, Math.ceil(left)));
      else this.#timedOut();
    }, ms);
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
        // one round trip before the instance counts as started: the runtime's first read of its
        // channel (~2 ms in a fresh Node process) happens now, not in the cold start that takes it
        this.#send({ t: 'ping' });
        return;
      case 'pong':
        this.#handshake?.resolve();
        this.#handshake = undefined;
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
        const p = this.#running;
        if (!p || p.requestId !== frame.id) return; // an answer for an invocation we already gave up on
        // the frame is the result plus ~40 bytes of framing; measure bytes only when it could be over
        const limit = this.#opts.resultLimitBytes;
        if (frame.t === 'result' && line.length * 3 > limit && Buffer.byteLength(line) - 40 - frame.id.length > limit) {
          this.#settle({ ok: false, error: responseTooLarge(limit), logs: linesOf(p), retire: false });
          return;
        }
        this.#settle(frame.t === 'result'
          ? { ok: true, result: frame.result ?? null, logs: linesOf(p) }
          : { ok: false, error: frame.error, logs: linesOf(p), retire: frame.fatal === true });
        return;
      }
    }
  }

  #onLog(requestId: string | null, line: LogLine): void {
    if (this.#init) {
      this.#init.logs.push(line);
      return;
    }
    const p = this.#running;
    if (p && (requestId === null || requestId === p.requestId)) (p.logs ??= new InvocationLogs(this.#opts.logCapBytes)).add(line);
    else this.#strayLogSink(requestId ?? this.#lastRequestId, line);
  }

  /** Answers the running invocation; the runtime has already started the next queued one. */
  #settle(outcome: InvokeOutcome): void {
    const p = this.#running;
    if (!p) return;
    this.#running = undefined;
    const next = this.#queued.shift();
    if (next) this.#start(next);
    else this.#opts.onBusyChange(this, false);
    p.done(outcome);
  }

  #failPending(error: FunctionError, retire: boolean): void {
    if (retire) this.#abandonQueued();
    const p = this.#running;
    if (p) this.#settle({ ok: false, error, logs: linesOf(p), retire });
    if (retire) this.kill();
  }

  /** The instance is ending: queued invocations never began, so they may run elsewhere. */
  #abandonQueued(): void {
    for (const q of this.#queued.splice(0)) q.done(notStarted(linesOf(q)));
  }

  #timedOut(): void {
    const spec = this.#spec!;
    this.#failPending({ errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${(spec.timeoutMs / 1000).toFixed(2)} seconds` }, true);
  }

  #onExit(info: ExitInfo): void {
    clearTimeout(this.#deadline);
    const memoryMB = this.#spec?.memoryMB ?? 0;
    const error = { ...describeExit(info, memoryMB, this.#proc.stderrTail) };
    this.#handshake?.reject(new Error(`runtime process exited before it started (${error.errorMessage}): ${this.#proc.stderrTail.join('\n')}`));
    this.#handshake = undefined;
    if (this.#init) {
      const init = this.#init;
      this.#init = undefined;
      init.reject({ errorType: 'Runtime.ExitError', errorMessage: `${error.errorMessage} during init` });
    }
    this.#abandonQueued();
    const p = this.#running;
    if (p) this.#settle({ ok: false, error: { ...error, errorMessage: `RequestId: ${p.requestId} Error: ${error.errorMessage}` }, logs: linesOf(p), retire: true });
  }
}

/** The lines an invocation logged so far. */
function linesOf(p: Pending): LogLine[] {
  return p.logs === undefined ? [] : p.logs.lines;
}

function notStarted(logs: LogLine[]): InvokeOutcome {
  return { ok: false, error: { errorType: 'Runtime.ExitError', errorMessage: 'Runtime exited before the invocation started' }, logs, retire: true, notStarted: true };
}
