// @ts-check
/**
 * Aviary node bootstrap: runs inside a sandboxed process, loads one AWS-Lambda-style handler and
 * answers invocations over the host channel described in ../PROTOCOL.md
 * (fd 3 host → runtime, fd 4 runtime → host, one JSON message per line).
 *
 * Started as `node --enable-source-maps bootstrap.mjs`. Imports node: builtins only; everything
 * not needed on the hot path is imported lazily. Per invocation the work is: JSON.parse of the
 * line, one context object and one callback closure, the handler call, JSON.stringify of the
 * result, one synchronous write.
 */
import { writeSync, existsSync } from 'node:fs';
import { Socket } from 'node:net';
import { pathToFileURL } from 'node:url';

const IN_FD = 3;
const OUT_FD = 4;
/** A partial output line longer than this is emitted as a line of its own. */
const MAX_PARTIAL = 256 * 1024;

// ---------------------------------------------------------------------------------------------
// Output channel (fd 4), always written synchronously so nothing is lost on process.exit().

let channelOpen = true;
/** @type {Int32Array | undefined} */
let sleepCell;

/** @param {string} text one or more complete frames, each ending in "\n" */
function send(text) {
  if (!channelOpen) return;
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(OUT_FD, buf, off, buf.length - off);
    } catch (e) {
      const code = /** @type {NodeJS.ErrnoException} */ (e).code;
      if (code === 'EAGAIN') {
        // fd 4 was handed to us non-blocking: wait a millisecond and retry, without timers.
        sleepCell ??= new Int32Array(new SharedArrayBuffer(4));
        Atomics.wait(sleepCell, 0, 0, 1);
      } else if (code === 'EINTR') {
        // retry
      } else {
        // The host is gone (EPIPE, EBADF): nobody can receive an answer any more.
        channelOpen = false;
        process.exit(1);
      }
    }
  }
}

send(`{"t":"hello","runtime":"node","pid":${process.pid}}\n`);

// ---------------------------------------------------------------------------------------------
// Output capture: process.stdout / process.stderr writes (and so console.*) become log frames.

/** JSON of the request id that log lines belong to ("null" during init). */
let idJson = 'null';

/**
 * @typedef {object} Capture
 * @property {string} tail  the part of a frame after the id: `,"stream":"stdout","data":`
 * @property {string} partial  text written since the last newline
 * @property {TextDecoder | undefined} decoder  for Buffer writes (multi-byte chars split across writes)
 */

/** @type {Capture} */
const outCapture = { tail: ',"stream":"stdout","data":', partial: '', decoder: undefined };
/** @type {Capture} */
const errCapture = { tail: ',"stream":"stderr","data":', partial: '', decoder: undefined };

/**
 * @param {Capture} cap
 * @param {string} line
 */
function logFrame(cap, line) {
  return '{"t":"log","id":' + idJson + cap.tail + JSON.stringify(line) + '}\n';
}

/**
 * @param {Capture} cap
 * @param {string} text
 */
function captureText(cap, text) {
  let nl = text.indexOf('\n');
  if (nl === -1) {
    cap.partial += text;
    if (cap.partial.length > MAX_PARTIAL) {
      const line = cap.partial;
      cap.partial = '';
      send(logFrame(cap, line));
    }
    return;
  }
  let out = logFrame(cap, cap.partial + text.slice(0, nl));
  let start = nl + 1;
  while ((nl = text.indexOf('\n', start)) !== -1) {
    out += logFrame(cap, text.slice(start, nl));
    start = nl + 1;
  }
  cap.partial = start < text.length ? text.slice(start) : '';
  send(out);
}

/**
 * @param {Capture} cap
 * @param {unknown} chunk
 * @param {unknown} encoding
 */
function captureChunk(cap, chunk, encoding) {
  if (typeof chunk === 'string') {
    if (typeof encoding === 'string' && encoding !== 'utf8' && encoding !== 'utf-8' && Buffer.isEncoding(encoding)) {
      chunk = Buffer.from(chunk, encoding).toString('utf8');
    }
    captureText(cap, /** @type {string} */ (chunk));
  } else if (chunk instanceof Uint8Array) {
    cap.decoder ??= new TextDecoder('utf-8');
    captureText(cap, cap.decoder.decode(chunk, { stream: true }));
  } else if (chunk != null) {
    captureText(cap, String(chunk));
  }
}

/** Emits buffered partial lines; called before every answer and on exit. */
function flushPartials() {
  if (outCapture.partial !== '') {
    const line = outCapture.partial;
    outCapture.partial = '';
    send(logFrame(outCapture, line));
  }
  if (errCapture.partial !== '') {
    const line = errCapture.partial;
    errCapture.partial = '';
    send(logFrame(errCapture, line));
  }
}

/**
 * @param {NodeJS.WriteStream} stream
 * @param {Capture} cap
 */
function patchStream(stream, cap) {
  /**
   * @param {unknown} chunk
   * @param {unknown} [encoding]
   * @param {unknown} [cb]
   */
  function write(chunk, encoding, cb) {
    if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    captureChunk(cap, chunk, encoding);
    if (typeof cb === 'function') process.nextTick(/** @type {() => void} */ (cb));
    return true;
  }
  /** @type {any} */ (stream).write = write;
}

/**
 * process.stdout/stderr are lazy getters in node; creating the stream costs time, so wrap the
 * getter and patch the stream the first time somebody (console included) asks for it.
 * @param {'stdout' | 'stderr'} name
 * @param {Capture} cap
 */
function interceptStream(name, cap) {
  const desc = Object.getOwnPropertyDescriptor(process, name);
  const getter = desc?.get;
  if (desc && getter && desc.configurable) {
    /** @type {NodeJS.WriteStream | undefined} */
    let stream;
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: desc.enumerable ?? true,
      get() {
        if (stream === undefined) {
          stream = /** @type {NodeJS.WriteStream} */ (getter.call(process));
          patchStream(stream, cap);
        }
        return stream;
      },
    });
  } else {
    patchStream(process[name], cap);
  }
}

interceptStream('stdout', outCapture);
interceptStream('stderr', errCapture);

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * @typedef {{errorType: string, errorMessage: string, trace: string[]}} WireError
 */

/** An error raised by the runtime itself (Runtime.*), with an optional user error as cause. */
class RuntimeError extends Error {
  /**
   * @param {string} type
   * @param {string} message
   * @param {unknown} [cause]
   */
  constructor(type, message, cause) {
    super(message);
    this.name = type;
    this.userCause = cause;
  }
}

/** @param {unknown} value */
function isErrorLike(value) {
  if (value instanceof Error) return true;
  if (typeof value !== 'object' || value === null) return false;
  const v = /** @type {Record<string, unknown>} */ (value);
  return typeof v.message === 'string' && (typeof v.name === 'string' || typeof v.stack === 'string');
}

/** @param {unknown} value */
function stackLines(value) {
  if (typeof value !== 'object' || value === null) return [];
  try {
    const stack = /** @type {{stack?: unknown}} */ (value).stack;
    return typeof stack === 'string' ? stack.split('\n') : [];
  } catch {
    return [];
  }
}

/**
 * @param {unknown} value
 * @returns {string}
 */
function describe(value) {
  if (typeof value === 'string') return value;
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return String(value);
  if (typeof value === 'bigint') return value.toString();
  try {
    const json = JSON.stringify(value);
    if (json !== undefined && json !== '{}') return json;
  } catch {
    // fall through
  }
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * Lambda's error shape. Errors keep their name (or their class's name when `name` was left at
 * the inherited "Error"); anything else thrown (a string, an object) is reported as
 * `errorType: typeof value` (as Lambda does) with a readable message.
 * @param {unknown} err
 * @returns {WireError}
 */
function toWireError(err) {
  try {
    if (err instanceof RuntimeError) {
      return { errorType: err.name, errorMessage: err.message, trace: stackLines(err.userCause) };
    }
    if (isErrorLike(err)) {
      const e = /** @type {Error} */ (err);
      let type = typeof e.name === 'string' && e.name !== '' ? e.name : 'Error';
      if (type === 'Error') {
        const ctor = Object.getPrototypeOf(e)?.constructor?.name;
        if (typeof ctor === 'string' && ctor !== '' && ctor !== 'Error' && ctor !== 'Object') type = ctor;
      }
      return { errorType: type, errorMessage: String(e.message), trace: stackLines(e) };
    }
    if (err !== null && typeof err === 'object') {
      // {errorType, errorMessage} objects (e.g. re-thrown Lambda error payloads) keep their fields.
      const o = /** @type {Record<string, unknown>} */ (err);
      if (typeof o.errorMessage === 'string') {
        return {
          errorType: typeof o.errorType === 'string' ? o.errorType : 'object',
          errorMessage: o.errorMessage,
          trace: Array.isArray(o.trace) ? o.trace.map(String) : [],
        };
      }
    }
    return { errorType: err === null ? 'null' : typeof err, errorMessage: describe(err), trace: [] };
  } catch {
    return { errorType: 'handled', errorMessage: 'the error could not be read (its message, name or stack threw)', trace: [] };
  }
}

/** @param {unknown} err `${err}` that cannot throw */
function safeString(err) {
  try {
    return isErrorLike(err) ? `${/** @type {Error} */ (err).name}: ${/** @type {Error} */ (err).message}` : describe(err);
  } catch {
    return 'unprintable value';
  }
}

// ---------------------------------------------------------------------------------------------
// Init

/**
 * @typedef {object} InitMessage
 * @property {'init'} t
 * @property {string} taskRoot
 * @property {string} handler
 * @property {Record<string, unknown>} [env]
 * @property {string} [functionName]
 * @property {string} [functionVersion]
 * @property {number} [memoryMB]
 * @property {string} [logGroupName]
 * @property {string} [logStreamName]
 * @property {string} [invokedFunctionArn]
 */

/**
 * @typedef {object} InvokeMessage
 * @property {'invoke'} t
 * @property {string} id
 * @property {number} timeoutMs  the clock starts now, when the invocation starts (it may have waited in the pipe)
 * @property {string} [invokedFunctionArn]
 * @property {string | null} [traceId]
 * @property {unknown} [clientContext]
 * @property {unknown} [identity]
 * @property {unknown} event
 */

/** @typedef {{t: 'ping'}} PingMessage the host's start-up round trip (../PROTOCOL.md) */
/** @typedef {InitMessage | InvokeMessage | PingMessage} HostMessage */
/** @typedef {(event: unknown, context: Context, callback: Callback) => unknown} Handler */
/** @typedef {(err?: unknown, result?: unknown) => void} Callback */

/** Function-level fields copied onto every context. */
const fn = {
  functionName: '',
  functionVersion: '$LATEST',
  memoryLimitInMB: '128',
  logGroupName: '',
  logStreamName: '',
  invokedFunctionArn: '',
};

/** @type {Handler | undefined} */
let handler;
/** @type {boolean} */
let callbackStyle = false;
/** @type {WireError | undefined} set when init failed; later invokes are answered with it. */
let initFailure;
let initialized = false;
let initializing = false;

/**
 * Lambda's handler string: `path/to/module.export[.nested]`; the module name ends at the first
 * dot after the last slash.
 * @param {string} spec
 */
function splitHandler(spec) {
  if (typeof spec !== 'string' || spec === '') {
    throw new RuntimeError('Runtime.MalformedHandlerName', `Bad handler ${JSON.stringify(spec)}: expected "file.export"`);
  }
  if (spec.includes('..')) {
    throw new RuntimeError('Runtime.MalformedHandlerName', `'${spec}' is not a valid handler name: '..' is not allowed`);
  }
  const slash = spec.lastIndexOf('/');
  const dot = spec.indexOf('.', slash + 1);
  if (dot === -1 || dot === spec.length - 1 || dot === slash + 1) {
    throw new RuntimeError('Runtime.MalformedHandlerName', `Bad handler '${spec}': expected "file.export", e.g. "index.handler"`);
  }
  return { file: spec.slice(0, dot), path: spec.slice(dot + 1).split('.') };
}

/**
 * @param {string} taskRoot
 * @param {string} spec
 * @returns {Promise<Handler>}
 */
async function loadHandler(taskRoot, spec) {
  const { file, path } = splitHandler(spec);
  const base = file.startsWith('/') ? file : `${taskRoot.endsWith('/') ? taskRoot : taskRoot + '/'}${file}`;
  /** @type {string | undefined} */
  let found;
  for (const ext of ['.js', '.mjs', '.cjs']) {
    if (existsSync(base + ext)) {
      found = base + ext;
      break;
    }
  }
  if (found === undefined) {
    throw new RuntimeError(
      'Runtime.ImportModuleError',
      `Error: Cannot find module '${file}' in ${taskRoot} (tried ${file}.js, ${file}.mjs, ${file}.cjs)`,
    );
  }

  /** @type {Record<string, unknown>} */
  let ns;
  try {
    ns = await import(pathToFileURL(found).href);
  } catch (e) {
    throw await importFailure(e, found);
  }

  /** @type {unknown} */
  let value = ns[/** @type {string} */ (path[0])];
  if (value === undefined && ns.default != null && (typeof ns.default === 'object' || typeof ns.default === 'function')) {
    value = /** @type {Record<string, unknown>} */ (ns.default)[/** @type {string} */ (path[0])]; // CommonJS interop
  }
  for (let i = 1; i < path.length && value != null; i++) {
    value = /** @type {Record<string, unknown>} */ (value)[/** @type {string} */ (path[i])];
  }
  if (value === undefined || value === null) {
    throw new RuntimeError('Runtime.HandlerNotFound', `${spec} is undefined or not exported`);
  }
  if (typeof value !== 'function') {
    throw new RuntimeError('Runtime.HandlerNotFound', `${spec} is not a function`);
  }
  return /** @type {Handler} */ (value);
}

/**
 * Classifies an error thrown while importing the handler module (Lambda's rules).
 * @param {unknown} e
 * @param {string} file
 * @returns {Promise<unknown>}
 */
async function importFailure(e, file) {
  const err = /** @type {NodeJS.ErrnoException} */ (e);
  if (e instanceof SyntaxError || (isErrorLike(e) && err.name === 'SyntaxError')) {
    let message = `SyntaxError: ${err.message}`;
    const where = await syntaxErrorLocation(err, file);
    if (where) message += ` (${where})`;
    return new RuntimeError('Runtime.UserCodeSyntaxError', message, e);
  }
  if (isErrorLike(e) && (err.code === 'MODULE_NOT_FOUND' || err.code === 'ERR_MODULE_NOT_FOUND')) {
    return new RuntimeError('Runtime.ImportModuleError', `${err.name}: ${err.message}`, e);
  }
  // Anything else thrown by module scope keeps its own type, as on Lambda.
  return e;
}

/**
 * CommonJS syntax errors carry "file:line" as the first stack line; ESM ones carry no location at
 * all, so (on this error path only) ask `node --check` about the handler file.
 * @param {NodeJS.ErrnoException} err
 * @param {string} file
 * @returns {Promise<string | undefined>}
 */
async function syntaxErrorLocation(err, file) {
  const first = typeof err.stack === 'string' ? err.stack.slice(0, err.stack.indexOf('\n')) : '';
  if (/:\d+$/.test(first)) return first;
  try {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'ignore', 'pipe'] });
    const line = typeof r.stderr === 'string' ? r.stderr.slice(0, r.stderr.indexOf('\n')) : '';
    if (r.status !== 0 && /:\d+$/.test(line)) return line;
  } catch {
    // best effort
  }
  return undefined;
}

/** @param {InitMessage} msg */
async function init(msg) {
  const t0 = performance.now();
  initializing = true;
  idJson = 'null';
  try {
    const env = msg.env ?? {};
    for (const key of Object.keys(env)) {
      const v = env[key];
      if (v === null || v === undefined) delete process.env[key];
      // setting TZ, even to the value it has, makes node reset its timezone cache (up to ~2 ms)
      else if (process.env[key] !== String(v)) process.env[key] = String(v);
    }
    fn.functionName = String(msg.functionName ?? env.AWS_LAMBDA_FUNCTION_NAME ?? '');
    fn.functionVersion = String(msg.functionVersion ?? env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST');
    fn.memoryLimitInMB = String(msg.memoryMB ?? env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '128');
    fn.logGroupName = String(msg.logGroupName ?? env.AWS_LAMBDA_LOG_GROUP_NAME ?? '');
    fn.logStreamName = String(msg.logStreamName ?? env.AWS_LAMBDA_LOG_STREAM_NAME ?? '');
    fn.invokedFunctionArn = String(msg.invokedFunctionArn ?? '');
    const taskRoot = String(msg.taskRoot);
    process.chdir(taskRoot);
    if (typeof env.NODE_PATH === 'string' && env.NODE_PATH !== '') {
      // NODE_PATH is read at startup; re-read it for require() in CommonJS code.
      const mod = /** @type {any} */ (await import('node:module')).default;
      if (typeof mod?._initPaths === 'function') mod._initPaths();
    }
    handler = await loadHandler(taskRoot, String(msg.handler));
    callbackStyle = handler.length >= 3;
    initialized = true;
    initializing = false;
    flushPartials();
    send(`{"t":"ready","initMs":${Math.round((performance.now() - t0) * 100) / 100}}\n`);
  } catch (e) {
    failInit(e);
  }
}

/** @param {unknown} e */
function failInit(e) {
  initializing = false;
  initFailure = toWireError(e);
  flushPartials();
  send(`{"t":"initError","error":${JSON.stringify(initFailure)}}\n`);
}

// ---------------------------------------------------------------------------------------------
// Invoke

let invokeSeq = 0;
let answeredSeq = 0;
/** request id of the latest invoke */
let currentId = '';
/** @type {string | null | undefined} */
let lastTraceId;

/** Lambda's context object; function-level fields are copied, per-call fields come from the message. */
class Context {
  /** @type {number} */
  #deadlineMs;
  /** @type {Callback} */
  #callback;

  /**
   * @param {InvokeMessage} msg
   * @param {Callback} callback
   */
  constructor(msg, callback) {
    this.callbackWaitsForEmptyEventLoop = true;
    this.functionName = fn.functionName;
    this.functionVersion = fn.functionVersion;
    this.invokedFunctionArn = msg.invokedFunctionArn ?? fn.invokedFunctionArn;
    this.memoryLimitInMB = fn.memoryLimitInMB;
    this.awsRequestId = msg.id;
    this.logGroupName = fn.logGroupName;
    this.logStreamName = fn.logStreamName;
    this.clientContext = msg.clientContext ?? undefined;
    this.identity = msg.identity ?? undefined;
    this.#deadlineMs = Date.now() + msg.timeoutMs;
    this.#callback = callback;
  }

  getRemainingTimeInMillis() {
    return Math.max(0, this.#deadlineMs - Date.now());
  }

  /**
   * @param {unknown} [err]
   * @param {unknown} [result]
   */
  done(err, result) {
    this.#callback(err, result);
  }

  /** @param {unknown} [result] */
  succeed(result) {
    this.#callback(null, result);
  }

  /** @param {unknown} [err] */
  fail(err) {
    this.#callback(err ?? new Error('context.fail() called'));
  }
}

/**
 * Answers invocation `seq` once; later answers for it (a second callback, a late promise) are
 * ignored.
 * @param {number} seq
 * @param {boolean} failed
 * @param {unknown} value
 * @param {string} id
 * @param {boolean} [exiting] the runtime exits right after this answer (PROTOCOL.md: `fatal`)
 */
function answer(seq, failed, value, id, exiting = false) {
  if (seq !== invokeSeq || answeredSeq === seq) return;
  answeredSeq = seq;
  deliver(failed, value, id, exiting);
}

/** The invocation whose result waits for an empty event loop, if any. */
let held = false;

/**
 * A callback handler's result while `context.callbackWaitsForEmptyEventLoop` is true (Lambda's
 * default): sent once the work the handler left behind (timers, sockets) is done, as on Lambda;
 * a loop that never empties ends in the host's timeout. Only `callback(null, value)` waits:
 * errors and `context.done/succeed/fail` are sent at once, as Lambda's runtime does.
 * @param {number} seq
 * @param {unknown} value
 * @param {string} id
 */
function answerWhenIdle(seq, value, id) {
  if (seq !== invokeSeq || answeredSeq === seq) return;
  answeredSeq = seq; // claimed: later answers are ignored
  held = true;
  input.unref(); // our own channel does not count as work left
  process.once('beforeExit', () => {
    held = false;
    input.ref();
    deliver(false, value, id);
  });
}

/**
 * Sends the answer of the current invocation and starts the next one.
 * @param {boolean} failed
 * @param {unknown} value
 * @param {string} id
 * @param {boolean} [exiting]
 */
function deliver(failed, value, id, exiting = false) {
  flushPartials();
  const idField = id === currentId ? idJson : JSON.stringify(id);
  if (!failed) {
    /** @type {string | undefined} */
    let json;
    try {
      json = JSON.stringify(value);
    } catch (e) {
      failed = true;
      value = new RuntimeError('Runtime.MarshalError', `Unable to stringify response body: ${safeString(e)}`, e);
    }
    if (!failed) {
      send('{"t":"result","id":' + idField + ',"result":' + (json === undefined ? 'null' : json) + '}\n');
      next();
      return;
    }
  }
  let errJson;
  try {
    errJson = JSON.stringify(toWireError(value));
  } catch {
    errJson = '{"errorType":"handled","errorMessage":"the error could not be serialised","trace":[]}';
  }
  send('{"t":"error","id":' + idField + ',"error":' + errJson + (exiting ? ',"fatal":true}\n' : '}\n'));
  next();
}

/** @param {InvokeMessage} msg */
function invoke(msg) {
  const seq = ++invokeSeq;
  const id = String(msg.id);
  currentId = id;
  idJson = JSON.stringify(id);
  if (!initialized || handler === undefined) {
    answer(seq, true, new RuntimeError(initFailure ? initFailure.errorType : 'Runtime.InvalidState',
      initFailure ? initFailure.errorMessage : 'invoke received before a successful init'), id);
    return;
  }
  const traceId = msg.traceId ?? null;
  if (traceId !== lastTraceId) {
    lastTraceId = traceId;
    if (traceId === null) delete process.env._X_AMZN_TRACE_ID;
    else process.env._X_AMZN_TRACE_ID = String(traceId);
  }
  /** @type {Callback} context.done/succeed/fail: at once */
  const done = (err, result) => {
    if (err !== undefined && err !== null) answer(seq, true, err, id);
    else answer(seq, false, result, id);
  };
  const context = new Context(msg, done);
  /** @type {Callback} the handler's callback: a result may wait for the event loop to empty */
  const callback = (err, result) => {
    if (err !== undefined && err !== null) answer(seq, true, err, id);
    else if (context.callbackWaitsForEmptyEventLoop) answerWhenIdle(seq, result, id);
    else answer(seq, false, result, id);
  };
  /** @type {unknown} */
  let ret;
  try {
    ret = handler(msg.event, context, callback);
  } catch (e) {
    answer(seq, true, e, id);
    return;
  }
  if (ret !== null && (typeof ret === 'object' || typeof ret === 'function') && typeof /** @type {any} */ (ret).then === 'function') {
    /** @type {PromiseLike<unknown>} */ (ret).then(
      (v) => answer(seq, false, v, id),
      (e) => answer(seq, true, e, id),
    );
  } else if (!callbackStyle) {
    answer(seq, false, ret, id); // a synchronous handler's return value is its result
  }
  // else: callback style, the answer comes from callback/context.done/succeed/fail
}

// ---------------------------------------------------------------------------------------------
// Crashes: answer what is in flight, then exit 1 so the host starts a fresh process.

/**
 * @param {unknown} err
 * @param {boolean} rejection
 */
function fatal(err, rejection) {
  /** @type {unknown} */
  const wire = rejection
    ? new RuntimeError('Runtime.UnhandledPromiseRejection', safeString(err), err)
    : err;
  if (initializing) {
    failInit(wire);
  } else if (held) {
    deliver(true, wire, currentId, true); // it crashed while its result waited
  } else if (invokeSeq !== answeredSeq) {
    answer(invokeSeq, true, wire, currentId, true);
  } else {
    const w = toWireError(wire);
    captureText(errCapture, `${rejection ? 'Unhandled promise rejection' : 'Uncaught exception'} outside an invocation: ${w.errorType}: ${w.errorMessage}\n${w.trace.join('\n')}\n`);
  }
  process.exit(1);
}

process.on('uncaughtException', (err) => fatal(err, false));
process.on('unhandledRejection', (reason) => fatal(reason, true));
process.on('exit', () => {
  try {
    flushPartials();
  } catch {
    // nothing left to do
  }
});

// ---------------------------------------------------------------------------------------------
// Input channel (fd 3): split into lines without quadratic copying, handle one message at a time.

/** @type {HostMessage[]} */
const queue = [];
let busy = false;

function next() {
  busy = false;
  if (queue.length > 0) queueMicrotask(drain);
}

function drain() {
  while (!busy && queue.length > 0) {
    const msg = /** @type {HostMessage} */ (queue.shift());
    if (msg.t === 'invoke') {
      busy = true;
      invoke(msg);
    } else if (msg.t === 'ping') {
      // the host's first message: answered once the loader is primed, so a spare counts as
      // ready only when its channel and module loader have each run once
      void primed.then(() => send('{"t":"pong"}\n'));
    } else if (msg.t === 'init') {
      if (initialized || initializing || initFailure) {
        captureText(errCapture, 'aviary bootstrap: ignoring a second init message\n');
        continue;
      }
      busy = true;
      init(msg).then(next, next);
    } else {
      captureText(errCapture, `aviary bootstrap: ignoring unknown message type ${JSON.stringify(/** @type {{t: unknown}} */ (msg).t)}\n`);
    }
  }
}

/** @param {Buffer} line */
function onLine(line) {
  if (line.length === 0) return;
  /** @type {unknown} */
  let msg;
  try {
    msg = JSON.parse(line.toString('utf8'));
  } catch (e) {
    captureText(errCapture, `aviary bootstrap: ignoring a malformed message (${safeString(e)})\n`);
    return;
  }
  if (msg === null || typeof msg !== 'object') {
    captureText(errCapture, 'aviary bootstrap: ignoring a message that is not an object\n');
    return;
  }
  queue.push(/** @type {HostMessage} */ (msg));
  if (!busy) drain();
}

/** @type {Buffer[]} copies of the parts of the line being received (no newline seen yet) */
let pending = [];
/**
 * Reads land in one buffer of ours (`onread`), not in a fresh allocation per read as a stream's
 * 'data' events would: a warm instance reads once or twice per invocation. Parts of a line that
 * is not complete yet are copied out, since the next read overwrites the buffer.
 * @param {number} nread
 * @param {Uint8Array} buf the buffer given in `onread` below
 * @returns {boolean} true: keep reading
 */
function onRead(nread, buf) {
  const chunk = /** @type {Buffer} */ (buf).subarray(0, nread);
  let start = 0;
  let nl;
  while ((nl = chunk.indexOf(10, start)) !== -1) {
    if (pending.length > 0) {
      pending.push(chunk.subarray(start, nl));
      const line = Buffer.concat(pending);
      pending = [];
      onLine(line);
    } else {
      onLine(chunk.subarray(start, nl));
    }
    start = nl + 1;
  }
  if (start < nread) pending.push(Buffer.from(chunk.subarray(start)));
  return true;
}
/**
 * Imports a tiny CommonJS file of ours while the process is generic. The first import() of a
 * process sets up node's ESM loader and the CommonJS export scanner (~2 ms on a 2-core VM);
 * done here, that no longer lands on a function's cold start.
 * @returns {Promise<void>}
 */
async function primeLoader() {
  try {
    await import(new URL('./prime.cjs', import.meta.url).href);
  } catch {
    // only a warm-up: the handler's own import reports real problems
  }
}
const primed = primeLoader();

const input = new Socket({ fd: IN_FD, readable: true, writable: false, onread: { buffer: Buffer.allocUnsafe(64 * 1024), callback: onRead } });
// The host closed the channel: this instance is retired.
input.on('end', () => process.exit(0));
input.on('error', () => process.exit(1));
