import type { Runtime } from '../store/index.ts';

/** Everything an instance needs to become one function version. */
export interface FunctionSpec {
  functionName: string;
  functionVersion: string;
  namespace: string;
  runtime: Runtime;
  handler: string | null;
  memoryMB: number;
  timeoutMs: number;
  /** User env merged with the reserved AWS_* / LAMBDA_* variables. */
  env: Record<string, string>;
  /** Host directory of the built package; mounted read-only at /var/task. */
  codeDir: string;
  logGroupName: string;
  logStreamName: string;
  invokedFunctionArn: string;
}

export interface InvokeRequest {
  requestId: string;
  /** The event as JSON text (already validated), spliced into the frame without re-serialising. */
  eventJson: string;
  /** Set when `eventJson` is known to hold no raw CR or LF (the HTTP trigger writes it so): no need to look. */
  eventJsonOneLine?: boolean;
  /** The function's timeout; the clock starts when the instance starts this invocation (not when it was queued). */
  timeoutMs: number;
  invokedFunctionArn: string;
  traceId: string | null;
  clientContext: unknown;
}

/** The error a function invocation produced, in Lambda's shape. */
export interface FunctionError {
  errorType: string;
  errorMessage: string;
  trace?: string[];
  stackTrace?: string[];
}

export interface LogLine {
  time: number;
  stream: 'stdout' | 'stderr';
  message: string;
}

export type InvokeOutcome =
  | { ok: true; result: unknown; logs: LogLine[] }
  /**
   * `retire`: the instance must not be reused (it timed out, crashed or is exiting).
   * `notStarted`: the invocation was queued at the instance and never began (the instance died
   * first), so running it elsewhere cannot run it twice.
   */
  | { ok: false; error: FunctionError; logs: LogLine[]; retire: boolean; notStarted?: boolean };

/** Thrown by `specialise` when the function's init failed; the instance is dead afterwards. */
export class InitFailure extends Error {
  readonly error: FunctionError;
  readonly logs: LogLine[];
  constructor(error: FunctionError, logs: LogLine[]) {
    super(`${error.errorType}: ${error.errorMessage}`);
    this.name = 'InitFailure';
    this.error = error;
    this.logs = logs;
  }
}

/** Lambda limits the init phase to 10 s; so do we, so a hung init cannot hold a request forever. */
export const INIT_TIMEOUT_MS = 10_000;

export function initTimeoutError(ms: number): FunctionError {
  return {
    errorType: 'Sandbox.Timedout',
    errorMessage: `init timed out after ${(ms / 1000).toFixed(2)} seconds: the function's module-level code (or its bootstrap) did not finish starting; move slow work into the handler`,
  };
}

export function responseTooLarge(limitBytes: number): FunctionError {
  return { errorType: 'Function.ResponseSizeTooLarge', errorMessage: `Response payload size exceeded maximum allowed payload size (${limitBytes} bytes)` };
}

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  /** Why the host ended it, if it did. */
  reason: 'timeout' | 'memory' | 'killed' | null;
}

/** One sandboxed process. One invocation at a time (Lambda semantics). */
export interface Instance {
  readonly id: string;
  readonly runtime: Runtime;
  readonly alive: boolean;
  /**
   * Whether `invoke` may be called again before the previous invocation answered: the instance
   * then queues it and starts it right after, still running one at a time. Our own bootstraps
   * can (the next frame waits in the pipe); a Runtime API bootstrap cannot.
   */
  readonly canQueue: boolean;
  specialise(spec: FunctionSpec): Promise<{ initMs: number; logs: LogLine[] }>;
  /**
   * Runs one invocation; `done` is called once with its outcome, possibly before `invoke`
   * returns (an instance that already died). A callback, not a promise: this is the hot path,
   * and the pool hands the instance on from inside `done`.
   */
  invoke(request: InvokeRequest, done: (outcome: InvokeOutcome) => void): void;
  /** Ends the process (SIGKILL to its whole tree). Idempotent. */
  kill(): void;
  onExit(listener: (info: ExitInfo) => void): void;
  /** Whether the instance's process tree uses more memory than `limitBytes` (shared pages counted once). */
  overMemory(limitBytes: number): boolean;
  /** For a failed invocation: a log line when the instance hit its process limit since the last note. */
  limitNote(): string | undefined;
  /** Receives output that arrives when no invocation is running (after the answer, between calls). */
  setStrayLogSink(sink: (requestId: string | null, line: LogLine) => void): void;
}

export interface Sandbox {
  readonly isolation: 'bubblewrap' | 'none';
  /** Starts a generic process for a runtime with our own bootstrap; resolves once it said hello. */
  startGeneric(runtime: 'node' | 'python', memoryMB: number): Promise<Instance>;
  /** Starts a `provided` runtime's `bootstrap` for one function; specialise() waits for its first poll. */
  startProvided(): Instance;
  close(): Promise<void>;
}
