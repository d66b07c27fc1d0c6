import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { InvocationLogs } from './invocation-logs.ts';
import { describeExit, type SandboxProcess } from './process.ts';
import { InitFailure, initTimeoutError, responseTooLarge, type ExitInfo, type FunctionError, type FunctionSpec, type Instance, type InvokeOutcome, type InvokeRequest, type LogLine } from './types.ts';

const PREFIX = '/2018-06-01/runtime';

export interface ProvidedInstanceOptions {
  logCapBytes: number;
  /** Lambda: 6 MB for a response; larger posts get 413. */
  maxResponseBytes: number;
  /** The bootstrap must make its first poll within this. */
  initTimeoutMs: number;
  /** Starts the package's `bootstrap` with this environment (the sandbox decides how). */
  spawn: (spec: FunctionSpec, env: Record<string, string>) => SandboxProcess;
  onBusyChange: (instance: ProvidedInstance, busy: boolean) => void;
}

interface Current {
  request: InvokeRequest;
  /** Absolute, ms since the epoch: the Lambda-Runtime-Deadline-Ms header. */
  deadlineMs: number;
  logs: InvocationLogs;
  done: (o: InvokeOutcome) => void;
  timer: NodeJS.Timeout;
  delivered: boolean;
}

/**
 * A `provided` runtime: any executable `bootstrap` speaking the AWS Lambda Runtime API
 * (2018-06-01). Each instance gets its own Runtime API listener on loopback, so a poll can
 * only ever receive its own function's events.
 */
export class ProvidedInstance implements Instance {
  readonly id = randomUUID();
  readonly runtime = 'provided' as const;
  readonly canQueue = false;
  readonly #opts: ProvidedInstanceOptions;
  #server: Server | undefined;
  #proc: SandboxProcess | undefined;
  #spec: FunctionSpec | undefined;
  /** The bootstrap's parked `GET …/invocation/next`, if it is waiting. */
  #poll: ServerResponse | undefined;
  #current: Current | undefined;
  #init: { resolve: () => void; reject: (e: FunctionError) => void; logs: LogLine[] } | undefined;
  #lastRequestId: string | null = null;
  #strayLogSink: (requestId: string | null, line: LogLine) => void = () => {};
  readonly #exitListeners: ((info: ExitInfo) => void)[] = [];

  constructor(opts: ProvidedInstanceOptions) {
    this.#opts = opts;
  }

  get alive(): boolean {
    return this.#proc?.alive ?? true;
  }

  get spec(): FunctionSpec | undefined {
    return this.#spec;
  }

  setStrayLogSink(sink: (requestId: string | null, line: LogLine) => void): void {
    this.#strayLogSink = sink;
  }

  onExit(listener: (info: ExitInfo) => void): void {
    if (this.#proc) this.#proc.onExit(listener);
    else this.#exitListeners.push(listener);
  }

  kill(): void {
    this.#proc?.kill('killed');
  }

  killForMemory(): void {
    this.#proc?.kill('memory');
  }

  overMemory(limitBytes: number): boolean {
    return this.#proc?.overMemory(limitBytes) ?? false;
  }

  limitNote(): string | undefined {
    return this.#proc?.cgroup?.limitNote();
  }

  async specialise(spec: FunctionSpec): Promise<{ initMs: number; logs: LogLine[] }> {
    this.#spec = spec;
    const server = createServer((req, res) => this.#route(req, res));
    server.keepAliveTimeout = 0; // long-polls must not be cut by the keep-alive timer
    server.requestTimeout = 0;
    server.headersTimeout = 0;
    this.#server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const logs: LogLine[] = [];
    const started = performance.now();
    const ready = new Promise<void>((resolve, reject) => {
      this.#init = { resolve, reject: (e) => reject(new InitFailure(e, logs)), logs };
    });
    const proc = this.#opts.spawn(spec, { ...spec.env, AWS_LAMBDA_RUNTIME_API: `127.0.0.1:${port}` });
    this.#proc = proc;
    proc.onOutput = (line) => this.#onLog(line);
    for (const l of this.#exitListeners.splice(0)) proc.onExit(l);
    proc.onExit((info) => this.#onExit(info));
    const timer = setTimeout(() => {
      const init = this.#init;
      this.#init = undefined;
      init?.reject(initTimeoutError(this.#opts.initTimeoutMs));
      this.kill();
    }, this.#opts.initTimeoutMs);
    await ready.finally(() => clearTimeout(timer));
    return { initMs: performance.now() - started, logs };
  }

  invoke(request: InvokeRequest, done: (outcome: InvokeOutcome) => void): void {
    if (this.#current) throw new Error('instance is busy: one invocation at a time');
    const logs = new InvocationLogs(this.#opts.logCapBytes);
    if (!this.alive) {
      done({ ok: false, error: { errorType: 'Runtime.ExitError', errorMessage: 'Runtime exited before the invocation started' }, logs: logs.lines, retire: true, notStarted: true });
      return;
    }
    const timer = setTimeout(() => this.#timedOut(), request.timeoutMs);
    this.#current = { request, deadlineMs: Date.now() + request.timeoutMs, logs, done, timer, delivered: false };
    this.#lastRequestId = request.requestId;
    this.#opts.onBusyChange(this, true);
    if (this.#poll) this.#deliver(this.#poll);
  }

  #deliver(res: ServerResponse): void {
    const c = this.#current!;
    this.#poll = undefined;
    c.delivered = true;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'lambda-runtime-aws-request-id': c.request.requestId,
      'lambda-runtime-deadline-ms': String(c.deadlineMs),
      'lambda-runtime-invoked-function-arn': c.request.invokedFunctionArn,
    };
    if (c.request.traceId) headers['lambda-runtime-trace-id'] = c.request.traceId;
    if (c.request.clientContext != null) headers['lambda-runtime-client-context'] = JSON.stringify(c.request.clientContext);
    res.writeHead(200, headers).end(c.request.eventJson);
  }

  #route(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '';
    if (req.method === 'GET' && url === `${PREFIX}/invocation/next`) {
      if (this.#init) {
        const init = this.#init;
        this.#init = undefined;
        init.resolve(); // the first poll means init is done
      }
      this.#poll = res;
      res.on('close', () => { if (this.#poll === res) this.#poll = undefined; });
      if (this.#current && !this.#current.delivered) this.#deliver(res);
      return;
    }
    if (req.method === 'POST' && url === `${PREFIX}/init/error`) {
      void readBody(req, this.#opts.maxResponseBytes).then((body) => {
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"OK"}');
        const init = this.#init;
        this.#init = undefined;
        init?.reject(toFunctionError(body, req.headers['lambda-runtime-function-error-type'], 'Runtime.InitError'));
        this.kill();
      });
      return;
    }
    const m = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
    if (req.method === 'POST' && m) {
      const id = decodeURIComponent(m[1]!);
      const c = this.#current;
      if (!c || !c.delivered || c.request.requestId !== id) {
        req.resume();
        reply(res, 400, 'InvalidRequestID', `unknown or already answered request id ${id}`);
        return;
      }
      void readBody(req, this.#opts.maxResponseBytes).then((body) => {
        if (body === undefined) {
          reply(res, 413, 'RequestEntityTooLarge', `payload exceeds ${this.#opts.maxResponseBytes} bytes`);
          this.#settle({ ok: false, error: responseTooLarge(this.#opts.maxResponseBytes), logs: c.logs.lines, retire: false });
          return;
        }
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"OK"}');
        if (m[2] === 'response') this.#settle({ ok: true, result: parseResult(body), logs: c.logs.lines });
        else this.#settle({ ok: false, error: toFunctionError(body, req.headers['lambda-runtime-function-error-type'], 'Runtime.Unknown'), logs: c.logs.lines, retire: false });
      });
      return;
    }
    req.resume();
    reply(res, 404, 'NotFound', `no Runtime API route ${req.method} ${url}`);
  }

  #onLog(line: LogLine): void {
    if (this.#init) this.#init.logs.push(line);
    else if (this.#current) this.#current.logs.add(line);
    else this.#strayLogSink(this.#lastRequestId, line);
  }

  #settle(outcome: InvokeOutcome): void {
    const c = this.#current;
    if (!c) return;
    this.#current = undefined;
    clearTimeout(c.timer);
    this.#opts.onBusyChange(this, false);
    c.done(outcome);
  }

  #timedOut(): void {
    const c = this.#current;
    if (!c) return;
    this.#settle({ ok: false, error: { errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${(this.#spec!.timeoutMs / 1000).toFixed(2)} seconds` }, logs: c.logs.lines, retire: true });
    this.kill();
  }

  #onExit(info: ExitInfo): void {
    this.#server?.close();
    this.#server?.closeAllConnections();
    const error = describeExit(info, this.#spec?.memoryMB ?? 0, this.#proc?.stderrTail ?? []);
    if (this.#init) {
      const init = this.#init;
      this.#init = undefined;
      init.reject({ errorType: 'Runtime.ExitError', errorMessage: `${error.errorMessage} during init` });
    }
    const c = this.#current;
    if (c) this.#settle({ ok: false, error: { ...error, errorMessage: `RequestId: ${c.request.requestId} Error: ${error.errorMessage}` }, logs: c.logs.lines, retire: true });
  }
}

function reply(res: ServerResponse, status: number, errorType: string, errorMessage: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ errorType, errorMessage }));
}

/** Reads a request body up to `limit` bytes; undefined when it is larger. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', () => resolve(undefined));
  });
}

/** A custom runtime may answer any bytes; JSON is passed on as a value, anything else as a string. */
function parseResult(body: Buffer): unknown {
  const text = body.toString('utf8');
  if (text.length === 0) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function toFunctionError(body: Buffer | undefined, typeHeader: string | string[] | undefined, fallbackType: string): FunctionError {
  const headerType = typeof typeHeader === 'string' ? typeHeader : undefined;
  try {
    const parsed = JSON.parse(body?.toString('utf8') ?? '') as Partial<FunctionError> & { stackTrace?: unknown; trace?: unknown };
    return {
      errorType: typeof parsed.errorType === 'string' ? parsed.errorType : headerType ?? fallbackType,
      errorMessage: typeof parsed.errorMessage === 'string' ? parsed.errorMessage : '',
      ...(Array.isArray(parsed.stackTrace) ? { stackTrace: parsed.stackTrace.map(String) } : {}),
      // the Node runtime interface client names it `trace`
      ...(Array.isArray(parsed.trace) ? { trace: parsed.trace.map(String) } : {}),
    };
  } catch {
    return { errorType: headerType ?? fallbackType, errorMessage: body?.toString('utf8') ?? '' };
  }
}
