// The node and python bootstraps, spawned directly (no sandbox), driven over the host channel
// of src/runtimes/PROTOCOL.md.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FIXTURES, RuntimeChannel, type Frame } from '../helpers/runtime-channel.ts';

/** Runs `body` against a fresh runtime and always disposes of the process. */
async function withRuntime(kind: 'node' | 'python', body: (rt: RuntimeChannel) => Promise<void>): Promise<void> {
  const rt = kind === 'node' ? RuntimeChannel.node() : RuntimeChannel.python();
  try {
    await body(rt);
  } finally {
    if (rt.child.exitCode === null && rt.child.signalCode === null) await rt.close();
  }
}

/** Init `fixture` and assert it is ready. */
async function ready(rt: RuntimeChannel, fixture: string, handler: string, extra?: Record<string, unknown>): Promise<void> {
  const { answer } = await rt.init(fixture, handler, extra);
  assert.equal(answer.t, 'ready', JSON.stringify(answer));
  assert.equal(typeof answer.initMs, 'number');
}

function errorOf(frame: Frame): { errorType: string; errorMessage: string; trace?: string[]; stackTrace?: string[] } {
  assert.ok(frame.t === 'error' || frame.t === 'initError', `expected an error frame, got ${JSON.stringify(frame)}`);
  return frame.error as { errorType: string; errorMessage: string; trace?: string[]; stackTrace?: string[] };
}

/**
 * The start-up round trip (PROTOCOL.md): hello, our ping, its pong; then init and one invoke as
 * usual, with nothing reported as an unknown message. Returns the invoke's answer.
 */
async function pingThenInvoke(kind: 'node' | 'python', fixture: string, handler: string): Promise<Frame> {
  let result: Frame | undefined;
  await withRuntime(kind, async (rt) => {
    await rt.next('hello');
    rt.send({ t: 'ping' });
    assert.deepEqual(await rt.next('pong'), { t: 'pong' });
    await ready(rt, fixture, handler);
    const { answer, id } = await rt.invoke({ after: 'ping' });
    assert.equal(answer.t, 'result', JSON.stringify(answer));
    assert.equal(answer.id, id);
    assert.equal(rt.stderr, '', 'the ping is not reported as an unknown message');
    result = answer;
  });
  return result!;
}

function lines(logs: Frame[], stream?: string): string[] {
  return logs.filter((f) => stream === undefined || f.stream === stream).map((f) => f.data as string);
}

describe('node bootstrap', () => {
  test('says hello with its pid before any init', () =>
    withRuntime('node', async (rt) => {
      const hello = await rt.next('hello');
      assert.deepEqual(hello, { t: 'hello', runtime: 'node', pid: rt.child.pid });
    }));

  test('answers the start-up ping with a pong, then inits and invokes as usual', async () => {
    const answer = await pingThenInvoke('node', 'node-cjs', 'index.handler');
    assert.deepEqual((answer.result as Record<string, unknown>).echo, { after: 'ping' });
  });

  for (const [fixture, handler, format] of [
    ['node-cjs', 'index.handler', 'cjs'],
    ['node-esm', 'index.handler', 'esm-mjs'],
    ['node-type-module', 'index.handler', 'esm-type-module'],
    ['node-cjs-ext', 'index.handler', 'cjs-ext'],
  ] as const) {
    test(`loads and invokes a ${format} handler (${fixture})`, () =>
      withRuntime('node', async (rt) => {
        await ready(rt, fixture, handler);
        const { answer, id } = await rt.invoke({ hello: 'world', n: [1, 2] });
        assert.equal(answer.t, 'result');
        assert.equal(answer.id, id);
        const result = answer.result as Record<string, unknown>;
        assert.equal(result.format, format);
        assert.deepEqual(result.echo, { hello: 'world', n: [1, 2] });
      }));
  }

  test('handler in a subdirectory (src/app.handler)', () =>
    withRuntime('node', async (rt) => {
      await ready(rt, 'node-subdir', 'src/app.handler');
      assert.deepEqual((await rt.invoke({})).answer.result, { file: 'src/app.mjs' });
    }));

  test('module state survives across invocations', () =>
    withRuntime('node', async (rt) => {
      await ready(rt, 'node-counter', 'index.handler');
      for (let i = 1; i <= 3; i++) assert.deepEqual((await rt.invoke({})).answer.result, { count: i });
    }));

  test('callback-style handlers and context.succeed/fail/done; only the first answer counts', () =>
    withRuntime('node', async (rt) => {
      await ready(rt, 'node-callback', 'index.handler');
      assert.deepEqual((await rt.invoke({ value: 7 })).answer.result, { style: 'callback', value: 7 });
      const failed = errorOf((await rt.invoke({ mode: 'callback-error' })).answer);
      assert.equal(failed.errorType, 'Error');
      assert.equal(failed.errorMessage, 'callback failed');
      assert.deepEqual((await rt.invoke({ mode: 'succeed' })).answer.result, { style: 'succeed' });
      assert.equal(errorOf((await rt.invoke({ mode: 'fail' })).answer).errorMessage, 'context.fail called');
      assert.deepEqual((await rt.invoke({ mode: 'done' })).answer.result, { style: 'done' });
      // the 'second answer' callbacks produced no extra frames
      assert.deepEqual(rt.pending, []);
    }));

  test('a thrown Error becomes an error frame with errorType, errorMessage and trace', () =>
    withRuntime('node', async (rt) => {
      await ready(rt, 'node-throw', 'index.handler');
      const { answer, id } = await rt.invoke({ kind: 'error' });
      assert.equal(answer.id, id);
      const err = errorOf(answer);
      assert.equal(err.errorType, 'TypeError');
      assert.equal(err.errorMessage, 'boom');
      assert.ok(Array.isArray(err.trace));
      assert.equal(err.trace[0], 'TypeError: boom');
      assert.ok(err.trace.some((l) => l.includes('node-throw/index.js')), err.trace.join('\n'));

      assert.equal(errorOf((await rt.invoke({ kind: 'custom' })).answer).errorType, 'ValidationError');
      assert.equal(errorOf((await rt.invoke({ kind: 'sync' })).answer).errorType, 'RangeError');
      // the instance keeps working after errors
      assert.equal(errorOf((await rt.invoke({ kind: 'error' })).answer).errorMessage, 'boom');
    }));

  test('rejections with non-Error values become sensible errors', () =>
    withRuntime('node', async (rt) => {
      await ready(rt, 'node-throw', 'index.handler');
      assert.deepEqual(errorOf((await rt.invoke({ kind: 'string' })).answer), {
        errorType: 'string',
        errorMessage: 'plain string failure',
        trace: [],
      });
      const obj = errorOf((await rt.invoke({ kind: 'object' })).answer);
      assert.equal(obj.errorType, 'object');
      assert.deepEqual(JSON.parse(obj.errorMessage), { code: 42, reason: 'not an Error' });
    }));

  test('console and stdout/stderr writes become log frames tagged with the request id', () =>
    withRuntime('node', async (rt) => {
      const init = await rt.init('node-logs', 'index.handler');
      assert.equal(init.answer.t, 'ready');
      assert.deepEqual(init.logs, [{ t: 'log', id: null, stream: 'stdout', data: 'init line' }]);

      const { logs, id, answer } = await rt.invoke({ n: 1 });
      assert.equal(answer.result, 'logged');
      assert.ok(logs.every((f) => f.id === id), JSON.stringify(logs));
      assert.deepEqual(lines(logs, 'stdout'), ['hello from stdout 1', 'partial line', 'second', 'no newline at end']);
      assert.deepEqual(lines(logs, 'stderr'), ['hello from stderr']);
      // the partial line was flushed before the answer, not carried into the next invocation
      const second = await rt.invoke({ n: 2 });
      assert.equal(lines(second.logs, 'stdout')[0], 'hello from stdout 2');
      assert.equal(rt.stdout, '');
    }));

  test('init error: missing module file', () =>
    withRuntime('node', async (rt) => {
      const { answer } = await rt.init('node-cjs', 'nope.handler');
      const err = errorOf(answer);
      assert.equal(answer.t, 'initError');
      assert.equal(err.errorType, 'Runtime.ImportModuleError');
      assert.match(err.errorMessage, /Cannot find module 'nope' in .*node-cjs \(tried nope\.js, nope\.mjs, nope\.cjs\)/);
      // later invokes are answered with the init error
      assert.equal(errorOf((await rt.invoke({})).answer).errorType, 'Runtime.ImportModuleError');
    }));

  test('init error: export missing', () =>
    withRuntime('node', async (rt) => {
      const err = errorOf((await rt.init('node-no-export', 'index.handler')).answer);
      assert.equal(err.errorType, 'Runtime.HandlerNotFound');
      assert.equal(err.errorMessage, 'index.handler is undefined or not exported');
    }));

  test('init error: syntax error (CommonJS and ESM) names the file and line', async () => {
    for (const [fixture, file] of [
      ['node-syntax', 'index.js'],
      ['node-syntax-esm', 'index.mjs'],
    ]) {
      await withRuntime('node', async (rt) => {
        const err = errorOf((await rt.init(fixture!, 'index.handler')).answer);
        assert.equal(err.errorType, 'Runtime.UserCodeSyntaxError');
        assert.match(err.errorMessage, /^SyntaxError: Unexpected token/);
        assert.ok(err.errorMessage.includes(`${fixture}/${file}:3`), err.errorMessage);
      });
    }
  });

  test('init error: module scope throws (keeps its own type)', () =>
    withRuntime('node', async (rt) => {
      const err = errorOf((await rt.init('node-init-throws', 'index.handler')).answer);
      assert.equal(err.errorType, 'Error');
      assert.equal(err.errorMessage, 'missing configuration: DATABASE_URL');
    }));

  test('init error: malformed handler string', () =>
    withRuntime('node', async (rt) => {
      const err = errorOf((await rt.init('node-cjs', 'index')).answer);
      assert.equal(err.errorType, 'Runtime.MalformedHandlerName');
    }));

  test('process.exit(3) in a handler: output written before exit arrives, exit status 3', () =>
    withRuntime('node', async (rt) => {
      await ready(rt, 'node-exit', 'index.handler');
      rt.send({ t: 'invoke', id: 'exit-1', timeoutMs: 10_000, event: {} });
      const exit = await rt.exited;
      assert.deepEqual(exit, { code: 3, signal: null });
      await new Promise((r) => setTimeout(r, 50));
      const logs = rt.pending.filter((f) => f.t === 'log');
      assert.deepEqual(lines(logs), ['about to exit', 'unterminated']);
      assert.ok(logs.every((f) => f.id === 'exit-1'));
      assert.ok(!rt.pending.some((f) => f.t === 'result' || f.t === 'error'));
    }));

  test('unhandled rejection: the current invocation gets an error, then the process exits 1', () =>
    withRuntime('node', async (rt) => {
      await ready(rt, 'node-unhandled', 'index.handler');
      const err = errorOf((await rt.invoke({})).answer);
      assert.equal(err.errorType, 'Runtime.UnhandledPromiseRejection');
      assert.equal(err.errorMessage, 'Error: nobody handles me');
      assert.equal(err.trace?.[0], 'Error: nobody handles me');
      assert.deepEqual(await rt.exited, { code: 1, signal: null });
    }));

  test('uncaught exception: the current invocation gets the error, then the process exits 1', () =>
    withRuntime('node', async (rt) => {
      await ready(rt, 'node-unhandled', 'index.handler');
      const err = errorOf((await rt.invoke({ kind: 'exception' })).answer);
      assert.equal(err.errorType, 'RangeError');
      assert.equal(err.errorMessage, 'thrown from a timer');
      assert.deepEqual(await rt.exited, { code: 1, signal: null });
    }));

  test('a result that cannot be serialised is Runtime.MarshalError', () =>
    withRuntime('node', async (rt) => {
      await ready(rt, 'node-marshal', 'index.handler');
      const err = errorOf((await rt.invoke({})).answer);
      assert.equal(err.errorType, 'Runtime.MarshalError');
      assert.match(err.errorMessage, /circular/i);
    }));

  test('context fields, env and TZ from init', () =>
    withRuntime('node', async (rt) => {
      await ready(rt, 'node-context', 'index.handler', {
        env: { AWS_LAMBDA_FUNCTION_NAME: 'node-context', GREETING: 'hi', TZ: 'Asia/Tokyo' },
      });
      const { answer, id } = await rt.invoke({}, { timeoutMs: 5000, invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:node-context:1' });
      const ctx = answer.result as Record<string, unknown>;
      assert.equal(ctx.awsRequestId, id);
      assert.equal(ctx.functionName, 'node-context');
      assert.equal(ctx.functionVersion, '1');
      assert.equal(ctx.invokedFunctionArn, 'arn:aws:lambda:local:000000000000:function:node-context:1');
      assert.equal(ctx.memoryLimitInMB, '256');
      assert.equal(ctx.logGroupName, '/aviary/default/node-context');
      assert.equal(ctx.logStreamName, '2026/01/01/[1]test');
      assert.equal(ctx.callbackWaitsForEmptyEventLoop, true);
      const remaining = ctx.remaining as number;
      assert.ok(remaining > 4000 && remaining <= 5000, `remaining ${remaining}`);
      assert.deepEqual(ctx.env, { GREETING: 'hi', AWS_LAMBDA_FUNCTION_NAME: 'node-context' });
      assert.equal(ctx.timeZone, 'Asia/Tokyo');
      assert.equal(ctx.cwd, FIXTURES + 'node-context');
    }));

  test('a 3 MB event and result round-trip', () =>
    withRuntime('node', async (rt) => {
      await ready(rt, 'node-echo', 'index.handler');
      const event = { blob: 'x'.repeat(3 * 1024 * 1024), unicode: 'żółw 🐢 \u2028', list: Array.from({ length: 1000 }, (_, i) => i) };
      const { answer } = await rt.invoke(event);
      assert.equal(answer.t, 'result');
      assert.deepEqual(answer.result, event);
      // and the instance is still fine afterwards
      assert.deepEqual((await rt.invoke({ small: true })).answer.result, { small: true });
    }));

  test('several messages in one write are handled in order', () =>
    withRuntime('node', async (rt) => {
      const taskRoot = FIXTURES + 'node-counter';
      (rt.child.stdio[3] as import('node:stream').Writable).write(
        JSON.stringify({ t: 'init', taskRoot, handler: 'index.handler', env: {} }) + '\n' +
          JSON.stringify({ t: 'invoke', id: 'a', timeoutMs: 10_000, event: {} }) + '\n',
      );
      const frames = await rt.until((f) => f.t === 'result');
      assert.deepEqual(frames.map((f) => f.t), ['hello', 'ready', 'result']);
      assert.deepEqual(frames[2]!.result, { count: 1 });
    }));

  test('a message split across writes (even inside a UTF-8 character) is reassembled', () =>
    withRuntime('node', async (rt) => {
      await ready(rt, 'node-echo', 'index.handler');
      const line = Buffer.from(JSON.stringify({ t: 'invoke', id: 'split', timeoutMs: 10_000, event: { s: 'żółw' } }) + '\n');
      const cut = line.indexOf(Buffer.from('ż')) + 1; // in the middle of a two-byte character
      const fd3 = rt.child.stdio[3] as import('node:stream').Writable;
      fd3.write(line.subarray(0, cut));
      await new Promise((r) => setTimeout(r, 30));
      fd3.write(line.subarray(cut));
      const frames = await rt.until((f) => f.t === 'result');
      assert.deepEqual(frames[frames.length - 1]!.result, { s: 'żółw' });
    }));

  test('an invoke sent before the answer to the previous one waits, then gets its full timeout', () =>
    withRuntime('node', async (rt) => {
      await ready(rt, 'node-sleep', 'index.handler');
      (rt.child.stdio[3] as import('node:stream').Writable).write(
        JSON.stringify({ t: 'invoke', id: 'first', timeoutMs: 1000, event: { ms: 400 } }) + '\n' +
          JSON.stringify({ t: 'invoke', id: 'second', timeoutMs: 1000, event: {} }) + '\n',
      );
      const frames = await rt.until((f) => f.t === 'result' && f.id === 'second');
      const results = frames.filter((f) => f.t === 'result');
      assert.deepEqual(results.map((f) => f.id), ['first', 'second']);
      const first = results[0]!.result as { startedAt: number; finishedAt: number; remaining: number };
      const second = results[1]!.result as { startedAt: number; finishedAt: number; remaining: number };
      assert.ok(second.startedAt >= first.finishedAt, 'one invocation at a time');
      // its clock started when it started, not when it was sent (400 ms earlier)
      assert.ok(second.remaining > 900 && second.remaining <= 1000, `remaining ${second.remaining}`);
    }));

  test('a handler with its own node_modules dependency', () =>
    withRuntime('node', async (rt) => {
      await ready(rt, 'node-deps', 'index.handler');
      assert.deepEqual((await rt.invoke({ value: 42 })).answer.result, { padded: '00042' });
    }));

  test('exits 0 when the host closes the channel', () =>
    withRuntime('node', async (rt) => {
      await ready(rt, 'node-cjs', 'index.handler');
      assert.deepEqual(await rt.close(), { code: 0, signal: null });
    }));
});

describe('python bootstrap', () => {
  test('says hello with its pid before any init', () =>
    withRuntime('python', async (rt) => {
      assert.deepEqual(await rt.next('hello'), { t: 'hello', runtime: 'python', pid: rt.child.pid });
    }));

  test('answers the start-up ping with a pong, then inits and invokes as usual', async () => {
    await pingThenInvoke('python', 'python-hello', 'app.handler');
  });

  test('init and invoke', () =>
    withRuntime('python', async (rt) => {
      await ready(rt, 'python-hello', 'app.handler');
      const { answer, id } = await rt.invoke({ a: [1, 'two', null] });
      assert.equal(answer.t, 'result');
      assert.equal(answer.id, id);
      assert.deepEqual(answer.result, { message: 'hello from python', echo: { a: [1, 'two', null] } });
    }));

  test('handler inside a package (pkg/mod.handler)', () =>
    withRuntime('python', async (rt) => {
      await ready(rt, 'python-pkg', 'pkg/mod.handler');
      assert.deepEqual((await rt.invoke({})).answer.result, { module: 'pkg.mod' });
    }));

  test('module state survives across invocations', () =>
    withRuntime('python', async (rt) => {
      await ready(rt, 'python-counter', 'app.handler');
      for (let i = 1; i <= 3; i++) assert.deepEqual((await rt.invoke({})).answer.result, { count: i });
    }));

  test('an exception becomes an error with errorType, errorMessage and stackTrace', () =>
    withRuntime('python', async (rt) => {
      await ready(rt, 'python-throw', 'app.handler');
      const err = errorOf((await rt.invoke({ value: 3 })).answer);
      assert.equal(err.errorType, 'ValueError');
      assert.equal(err.errorMessage, 'bad value: 3');
      assert.ok(Array.isArray(err.stackTrace));
      assert.equal(err.stackTrace.length, 2, err.stackTrace.join(''));
      assert.match(err.stackTrace[0]!, /python-throw\/app\.py", line \d+, in handler/);
      assert.match(err.stackTrace[1]!, /in check\n\s+raise ValueError/);
      assert.equal(errorOf((await rt.invoke({ value: 4 })).answer).errorMessage, 'bad value: 4');
    }));

  test('print(), stderr and logging.warning produce log frames tagged with the request id', () =>
    withRuntime('python', async (rt) => {
      const init = await rt.init('python-logs', 'app.handler');
      assert.equal(init.answer.t, 'ready');
      assert.deepEqual(init.logs, [{ t: 'log', id: null, stream: 'stdout', data: 'init line' }]);
      const { logs, id, answer } = await rt.invoke({ n: 5 });
      assert.equal(answer.result, 'logged');
      assert.ok(logs.every((f) => f.id === id), JSON.stringify(logs));
      assert.deepEqual(lines(logs, 'stdout'), ['hello from print 5', 'no newline at end']);
      assert.deepEqual(lines(logs, 'stderr'), ['to stderr', 'WARNING:root:careful: warned']);
      assert.equal(rt.stdout + rt.stderr, '');
    }));

  test('init error: import of a missing module', () =>
    withRuntime('python', async (rt) => {
      const err = errorOf((await rt.init('python-import-error', 'app.handler')).answer);
      assert.equal(err.errorType, 'Runtime.ImportModuleError');
      assert.equal(err.errorMessage, "Unable to import module 'app': No module named 'module_that_does_not_exist'");
      assert.equal(errorOf((await rt.invoke({})).answer).errorType, 'Runtime.ImportModuleError');
    }));

  test('init error: module file missing', () =>
    withRuntime('python', async (rt) => {
      const err = errorOf((await rt.init('python-hello', 'nope.handler')).answer);
      assert.equal(err.errorType, 'Runtime.ImportModuleError');
      assert.equal(err.errorMessage, "Unable to import module 'nope': No module named 'nope'");
    }));

  test('init error: handler missing', () =>
    withRuntime('python', async (rt) => {
      const err = errorOf((await rt.init('python-no-handler', 'app.handler')).answer);
      assert.equal(err.errorType, 'Runtime.HandlerNotFound');
      assert.equal(err.errorMessage, "Handler 'handler' missing on module 'app'");
    }));

  test('init error: syntax error', () =>
    withRuntime('python', async (rt) => {
      const err = errorOf((await rt.init('python-syntax', 'app.handler')).answer);
      assert.equal(err.errorType, 'Runtime.UserCodeSyntaxError');
      assert.match(err.errorMessage, /^Syntax error in module 'app': .*line 2/);
    }));

  test('context attributes, env and TZ from init', () =>
    withRuntime('python', async (rt) => {
      await ready(rt, 'python-context', 'app.handler', {
        env: { AWS_LAMBDA_FUNCTION_NAME: 'python-context', GREETING: 'hi', TZ: 'UTC0' },
      });
      const { answer, id } = await rt.invoke({}, { timeoutMs: 5000 });
      const ctx = answer.result as Record<string, unknown>;
      assert.equal(ctx.aws_request_id, id);
      assert.equal(ctx.function_name, 'python-context');
      assert.equal(ctx.function_version, '1');
      assert.equal(ctx.invoked_function_arn, 'arn:aws:lambda:local:000000000000:function:test:1');
      assert.equal(ctx.memory_limit_in_mb, '256');
      assert.equal(ctx.log_group_name, '/aviary/default/python-context');
      assert.equal(ctx.log_stream_name, '2026/01/01/[1]test');
      assert.equal(ctx.client_context, null);
      assert.equal(ctx.identity, null);
      const remaining = ctx.remaining as number;
      assert.ok(remaining > 0 && remaining <= 5000, `remaining ${remaining}`);
      assert.equal(ctx.greeting, 'hi');
      assert.equal(ctx.tzname, 'UTC');
      assert.equal(ctx.cwd, FIXTURES + 'python-context');
    }));

  test('an invoke sent before the answer to the previous one runs after it, with its full timeout', () =>
    withRuntime('python', async (rt) => {
      await ready(rt, 'python-context', 'app.handler');
      (rt.child.stdio[3] as import('node:stream').Writable).write(
        JSON.stringify({ t: 'invoke', id: 'first', timeoutMs: 1000, event: {} }) + '\n' +
          JSON.stringify({ t: 'invoke', id: 'second', timeoutMs: 2000, event: {} }) + '\n',
      );
      const frames = await rt.until((f) => f.t === 'result' && f.id === 'second');
      const results = frames.filter((f) => f.t === 'result');
      assert.deepEqual(results.map((f) => f.id), ['first', 'second']);
      const remaining = (results[1]!.result as { remaining: number }).remaining;
      assert.ok(remaining > 1900 && remaining <= 2000, `remaining ${remaining}`);
    }));

  test('a 3 MB event and result round-trip', () =>
    withRuntime('python', async (rt) => {
      await ready(rt, 'python-hello', 'app.handler');
      const event = { blob: 'y'.repeat(3 * 1024 * 1024), unicode: 'żółw 🐢' };
      const { answer } = await rt.invoke(event);
      assert.deepEqual(answer.result, { message: 'hello from python', echo: event });
    }));

  test('a result that is not JSON-serialisable is Runtime.MarshalError', () =>
    withRuntime('python', async (rt) => {
      await ready(rt, 'python-unserialisable', 'app.handler');
      const err = errorOf((await rt.invoke({})).answer);
      assert.equal(err.errorType, 'Runtime.MarshalError');
      assert.match(err.errorMessage, /Object of type set is not JSON serializable/);
    }));

  test('exits 0 when the host closes the channel', () =>
    withRuntime('python', async (rt) => {
      await ready(rt, 'python-hello', 'app.handler');
      assert.deepEqual(await rt.close(), { code: 0, signal: null });
    }));
});
