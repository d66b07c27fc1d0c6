// The `provided` runtime against a real server: custom runtimes (bash + curl) speaking the AWS
// Lambda Runtime API 2018-06-01 to the per-instance endpoint, inside the sandbox.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ROOT, startServer, type RunningServer } from '../helpers/server.ts';
import { zipFromEntries, type ZipEntrySpec } from '../helpers/zip.ts';

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'functions');

interface Invocation {
  requestId: string;
  function: string;
  version: number;
  status: 'succeeded' | 'failed';
  result?: unknown;
  error?: { errorType: string; errorMessage: string };
  durationMs: number;
  cold: boolean;
  logs: { time: string; requestId: string; version: number; stream: 'stdout' | 'stderr'; message: string }[];
}

let server: RunningServer;
let isolation: 'bubblewrap' | 'none';

async function call(method: string, urlPath: string, body?: string | Buffer, contentType = 'application/json'): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.url}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${server.adminKey}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined };
}

/** Uploads a zip of `entries` and deploys it as a new version of `name`. */
async function deploy(name: string, entries: ZipEntrySpec[], config: Record<string, unknown> = {}): Promise<void> {
  const pkg = await call('POST', '/v1/packages', await zipFromEntries(entries), 'application/zip');
  assert.ok(pkg.status === 201 || pkg.status === 200, `upload: ${pkg.status} ${JSON.stringify(pkg.json)}`);
  const v = await call('POST', `/v1/functions/${name}/versions`, JSON.stringify({ runtime: 'provided', package: pkg.json.digest, ...config }));
  assert.equal(v.status, 201, `deploy ${name}: ${JSON.stringify(v.json)}\n${server.output()}`);
}

async function invoke(ref: string, event: unknown): Promise<Invocation> {
  const r = await call('POST', `/v1/functions/${ref}/invocations?log=true`, JSON.stringify(event));
  assert.equal(r.status, 200, `invoke ${ref}: ${JSON.stringify(r.json)}`);
  return r.json as Invocation;
}

/** A fixture folder as zip entries; `bootstrap` keeps its executable bit. */
async function fixture(name: string): Promise<ZipEntrySpec[]> {
  const dir = path.join(FIXTURES, name);
  const files = await readdir(dir);
  return Promise.all(files.map(async (f) => ({ name: f, content: await readFile(path.join(dir, f)), mode: f === 'bootstrap' ? 0o755 : 0o644 })));
}

/** A package whose only file is the bootstrap script `source`. */
function script(source: string): ZipEntrySpec[] {
  return [{ name: 'bootstrap', content: source, mode: 0o755 }];
}

function messages(inv: Invocation, stream?: 'stdout' | 'stderr'): string[] {
  return inv.logs.filter((l) => stream === undefined || l.stream === stream).map((l) => l.message);
}

function explain(inv: Invocation): string {
  return `${JSON.stringify(inv, null, 1)}\n--- server output ---\n${server.output().slice(-3000)}`;
}

const API = '"http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"';

/**
 * Probes the Runtime API itself. Per event "step":
 * - probe: reports the /next headers, the wall clock when it got them, and the status of a
 *   response posted under a wrong request id;
 * - big: posts a 7 MB response (over the 6 MB limit) and keeps the status it got in its temp folder;
 * - report: returns that status, and the status of the last duplicate answer (every step
 *   but big posts its response twice).
 */
const PROBE = `#!/bin/bash
set -euo pipefail
API=${API}
T=$(mktemp -d /tmp/probe.XXXXXX)
trap 'rm -rf "$T"' EXIT
while true; do
  curl -sS --fail -D $T/h -o $T/event "$API/invocation/next"
  header() { sed -n "s/^$1:[[:space:]]*//Ip" $T/h | tr -d '\\r\\n'; }
  id=$(header lambda-runtime-aws-request-id)
  now=$(date +%s%3N)
  event=$(cat $T/event)
  case "$event" in
    *'"step":"probe"'*)
      wrong=$(curl -sS -o $T/wrong-body -w '%{http_code}' -X POST "$API/invocation/WRONG-ID/response" --data-binary '"hijacked"')
      printf '{"id":"%s","deadlineMs":"%s","arn":"%s","now":%s,"wrongIdStatus":%s,"wrongIdBody":%s,"contentType":"%s"}' \\
        "$id" "$(header lambda-runtime-deadline-ms)" "$(header lambda-runtime-invoked-function-arn)" "$now" "$wrong" "$(cat $T/wrong-body)" "$(header content-type)" > $T/out
      ;;
    *'"step":"big"'*)
      head -c 7340032 /dev/zero | tr '\\0' 'a' > $T/big
      curl -sS -o /dev/null -w '%{http_code}' -X POST "$API/invocation/$id/response" --data-binary @$T/big > $T/big-status
      rm -f $T/big
      continue
      ;;
    *'"step":"report"'*)
      printf '{"bigStatus":%s,"dupStatus":%s}' "$(cat $T/big-status)" "$(cat $T/dup-status)" > $T/out
      ;;
    *) printf '"unknown step"' > $T/out ;;
  esac
  curl -sS -o /dev/null -X POST "$API/invocation/$id/response" --data-binary @$T/out
  # a second answer for the same request is refused
  curl -sS -o /dev/null -w '%{http_code}' -X POST "$API/invocation/$id/response" --data-binary '"again"' > $T/dup-status
done
`;

before(async () => {
  server = await startServer();
  const health = await fetch(`${server.url}/healthz`);
  isolation = ((await health.json()) as { isolation: 'bubblewrap' | 'none' }).isolation;
});

after(async () => {
  await server?.stop();
});

describe('provided runtime: a bash custom runtime (curl + the Runtime API)', () => {
  before(async () => {
    await deploy('bashrt', await fixture('provided-bash'), { handler: 'function.handler', memory: 256, timeout: 2, env: { GREETING: 'hi' } });
  });

  let cold: Invocation;
  test('deploy + invoke: the result echoes the event, with the environment Lambda sets', async () => {
    const event = { hello: 'world', n: [1, 2, 3], nested: { ok: true } };
    cold = await invoke('bashrt', event);
    assert.equal(cold.status, 'succeeded', explain(cold));
    assert.equal(cold.cold, true);
    const result = cold.result as { event: unknown; env: Record<string, string>; requestId: string; deadlineMs: string; pwd: string };
    assert.deepEqual(result.event, event);
    assert.equal(result.env.AWS_LAMBDA_FUNCTION_NAME, 'bashrt');
    assert.equal(result.env.AWS_LAMBDA_FUNCTION_VERSION, '1');
    assert.equal(result.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, '256');
    assert.equal(result.env._HANDLER, 'function.handler');
    assert.equal(result.env.AWS_REGION, 'local');
    assert.equal(result.env.TZ, ':UTC');
    assert.match(result.env.AWS_LAMBDA_LOG_GROUP_NAME!, /bashrt$/);
    assert.ok(result.env.AWS_LAMBDA_LOG_STREAM_NAME, 'AWS_LAMBDA_LOG_STREAM_NAME is set');
    assert.match(result.env.AWS_LAMBDA_RUNTIME_API!, /^127\.0\.0\.1:\d+$/);
    if (isolation === 'bubblewrap') {
      assert.equal(result.env.LAMBDA_TASK_ROOT, '/var/task');
      assert.equal(result.pwd, '/var/task');
    } else {
      assert.ok(path.isAbsolute(result.env.LAMBDA_TASK_ROOT!), String(result.env.LAMBDA_TASK_ROOT));
    }
    // the bootstrap read the request id from Lambda-Runtime-Aws-Request-Id
    assert.equal(result.requestId, cold.requestId);
    assert.match(result.deadlineMs, /^\d{13}$/);
  });

  test('the bootstrap\'s stdout and the handler\'s stderr come back in logs', async () => {
    const inv = await invoke('bashrt', { logs: 1 });
    assert.equal(inv.status, 'succeeded', explain(inv));
    assert.ok(messages(inv, 'stdout').includes(`bootstrap: invoking ${inv.requestId}`), explain(inv));
    assert.ok(messages(inv, 'stderr').includes('function.sh: got {"logs":1}'), explain(inv));
    for (const l of inv.logs) assert.equal(l.requestId, inv.requestId);
    // the init output belongs to the first (cold) invocation
    assert.ok(messages(cold, 'stdout').includes('bootstrap: init done (handler function.handler)'), explain(cold));
  });

  test('a warm invocation reuses the instance and is faster than the cold start', async () => {
    const a = await invoke('bashrt', { n: 1 });
    const b = await invoke('bashrt', { n: 2 });
    for (const w of [a, b]) {
      assert.equal(w.status, 'succeeded', explain(w));
      assert.equal(w.cold, false);
    }
    assert.deepEqual((b.result as { event: unknown }).event, { n: 2 });
    // same process: the Runtime API endpoint (one per instance) did not change
    const env = (r: Invocation) => (r.result as { env: Record<string, string> }).env;
    assert.equal(env(b).AWS_LAMBDA_RUNTIME_API, env(cold).AWS_LAMBDA_RUNTIME_API);
    assert.ok(Math.min(a.durationMs, b.durationMs) < cold.durationMs, `warm ${a.durationMs}/${b.durationMs} ms vs cold ${cold.durationMs} ms`);
  });

  test('a handler failure is posted to /error and reported with its errorType and errorMessage', async () => {
    const inv = await invoke('bashrt', { mode: 'fail' });
    assert.equal(inv.status, 'failed', explain(inv));
    assert.deepEqual(inv.error, { errorType: 'HandlerError', errorMessage: 'the handler failed on purpose (exit status 3)' });
    assert.ok(messages(inv, 'stderr').includes('the handler failed on purpose'), explain(inv));
    // errexit inside the handler: `false` fails it too
    const f = await invoke('bashrt', { mode: 'false' });
    assert.equal(f.status, 'failed', explain(f));
    assert.equal(f.error?.errorType, 'HandlerError');
    assert.match(f.error!.errorMessage, /exit status 1/);
    // a function error does not cost the instance
    const next = await invoke('bashrt', { after: 'error' });
    assert.equal(next.status, 'succeeded', explain(next));
    assert.equal(next.cold, false);
  });

  test('a response that is not JSON is returned as a string', async () => {
    const inv = await invoke('bashrt', { mode: 'text' });
    assert.equal(inv.status, 'succeeded', explain(inv));
    assert.equal(inv.result, 'plain text, not JSON');
  });

  test('a handler past its timeout → Sandbox.Timedout, and a fresh instance serves the next call', async () => {
    const started = Date.now();
    const inv = await invoke('bashrt', { mode: 'sleep' });
    const took = Date.now() - started;
    assert.equal(inv.status, 'failed', explain(inv));
    assert.equal(inv.error?.errorType, 'Sandbox.Timedout');
    assert.match(inv.error!.errorMessage, /Task timed out after 2\.00 seconds/);
    assert.ok(took >= 1900 && took < 10_000, `took ${took} ms for a 2 s timeout`);
    const next = await invoke('bashrt', { after: 'timeout' });
    assert.equal(next.status, 'succeeded', explain(next));
    assert.equal(next.cold, true);
  });

  test('concurrent invocations run in separate instances, each receiving its own event', async () => {
    // each holds its instance for a second, so none can be reused by another of them
    const events = [1, 2, 3, 4].map((c) => ({ c, pause: true }));
    const results = await Promise.all(events.map((e) => invoke('bashrt', e)));
    const apis = new Set<string>();
    results.forEach((inv, i) => {
      assert.equal(inv.status, 'succeeded', explain(inv));
      const r = inv.result as { event: unknown; requestId: string; env: Record<string, string> };
      assert.deepEqual(r.event, events[i]);
      assert.equal(r.requestId, inv.requestId);
      apis.add(r.env.AWS_LAMBDA_RUNTIME_API!);
    });
    assert.equal(apis.size, events.length, 'each concurrent invocation had its own instance and Runtime API endpoint');
  });
});

describe('provided runtime: init errors', () => {
  test('/runtime/init/error fails the invocation with the posted error; the next invocation starts the runtime again', async () => {
    await deploy('initerr', await fixture('provided-init-error'));
    const first = await invoke('initerr', {});
    assert.equal(first.status, 'failed', explain(first));
    assert.deepEqual(first.error, { errorType: 'Config.Missing', errorMessage: 'DATABASE_URL is not set' });
    const nonce = (inv: Invocation) => messages(inv, 'stdout').find((m) => m.startsWith('init-error bootstrap starting'));
    assert.ok(nonce(first), explain(first));

    const second = await invoke('initerr', {});
    assert.equal(second.status, 'failed', explain(second));
    assert.deepEqual(second.error, first.error);
    assert.ok(nonce(second), explain(second));
    assert.notEqual(nonce(second), nonce(first), 'a new bootstrap process ran for the second invocation');
    assert.notEqual(second.requestId, first.requestId);
  });

  test('a bootstrap that exits during init without reporting → Runtime.ExitError', async () => {
    await deploy('initexit', script('#!/bin/bash\necho "missing something" >&2\nexit 4\n'));
    const inv = await invoke('initexit', {});
    assert.equal(inv.status, 'failed', explain(inv));
    assert.equal(inv.error?.errorType, 'Runtime.ExitError');
    assert.match(inv.error!.errorMessage, /exit status 4/);
    assert.ok(messages(inv, 'stderr').includes('missing something'), explain(inv));
  });
});

describe('provided runtime: a bootstrap that never finishes init', () => {
  // Lambda bounds the init phase (10 s); so does Aviary.
  test('→ the invocation fails within a bounded time (the 10 s init limit)', async () => {
    await deploy('inithang', script('#!/bin/bash\necho "initialising forever"\nsleep 600\n'), { timeout: 1 });
    const r = await fetch(`${server.url}/v1/functions/inithang/invocations`, {
      method: 'POST', headers: { authorization: `Bearer ${server.adminKey}` }, body: '{}', signal: AbortSignal.timeout(15_000),
    });
    const inv = (await r.json()) as Invocation;
    assert.equal(inv.status, 'failed');
    assert.equal(inv.error!.errorType, 'Sandbox.Timedout');
    assert.match(inv.error!.errorMessage, /init timed out after 10\.00 seconds/);
  });
});

describe('provided runtime: a bootstrap that exits mid-invocation', () => {
  test('→ Runtime.ExitError for that invocation, and a fresh instance for the next', async () => {
    await deploy('midexit', script(`#!/bin/bash
set -euo pipefail
API=${API}
curl -sS --fail -o /dev/null "$API/invocation/next"
echo "got an event, now exiting"
exit 3
`));
    const inv = await invoke('midexit', { x: 1 });
    assert.equal(inv.status, 'failed', explain(inv));
    assert.equal(inv.error?.errorType, 'Runtime.ExitError');
    assert.match(inv.error!.errorMessage, new RegExp(`RequestId: ${inv.requestId} Error: Runtime exited with error: exit status 3`));
    const again = await invoke('midexit', { x: 2 });
    assert.equal(again.status, 'failed');
    assert.equal(again.cold, true, 'the crashed instance was not reused');
    assert.equal(again.error?.errorType, 'Runtime.ExitError');
  });
});

describe('provided runtime: the Runtime API protocol', () => {
  before(async () => {
    await deploy('probe', script(PROBE), { timeout: 7 });
  });

  test('/next carries the request id, a deadline within the timeout and the function ARN; a wrong request id gets 400', async () => {
    const before = Date.now();
    const inv = await invoke('probe', { step: 'probe' });
    const afterMs = Date.now();
    assert.equal(inv.status, 'succeeded', explain(inv));
    const r = inv.result as { id: string; deadlineMs: string; arn: string; now: number; wrongIdStatus: number; wrongIdBody: { errorType: string }; contentType: string };
    assert.equal(r.id, inv.requestId);
    const deadline = Number(r.deadlineMs);
    assert.ok(deadline > r.now, `deadline ${deadline} is after the moment the bootstrap received the event (${r.now})`);
    assert.ok(deadline >= before + 7000 - 1000 && deadline <= afterMs + 7000, `deadline ${deadline} within [${before}, ${afterMs}] + 7 s`);
    assert.equal(r.arn, 'arn:aws:lambda:local:000000000000:function:probe');
    assert.equal(r.contentType, 'application/json');
    assert.equal(r.wrongIdStatus, 400);
    assert.equal(r.wrongIdBody.errorType, 'InvalidRequestID');
    // the response posted under the wrong id was not taken as this invocation's result
    assert.notEqual(inv.result, 'hijacked');
  });

  test('a qualified invocation passes the qualified ARN', async () => {
    const inv = await invoke('probe:1', { step: 'probe' });
    assert.equal(inv.status, 'succeeded', explain(inv));
    assert.equal((inv.result as { arn: string }).arn, 'arn:aws:lambda:local:000000000000:function:probe:1');
  });

  test('a response over 6 MB gets 413 and fails the invocation; the runtime keeps serving; a second answer gets 400', async () => {
    const big = await invoke('probe', { step: 'big' });
    assert.equal(big.status, 'failed', explain(big));
    assert.equal(big.error?.errorType, 'Function.ResponseSizeTooLarge');
    const report = await invoke('probe', { step: 'report' });
    assert.equal(report.status, 'succeeded', explain(report));
    assert.equal(report.cold, false);
    assert.deepEqual(report.result, { bigStatus: 413, dupStatus: 400 });
  });

  test('unknown Runtime API routes get 404', async () => {
    await deploy('probe404', script(`#!/bin/bash
set -euo pipefail
API=${API}
code=$(curl -sS -o /dev/null -w '%{http_code}' "$API/nope")
id=$(curl -sS --fail -D - -o /dev/null "$API/invocation/next" | sed -n 's/^lambda-runtime-aws-request-id:[[:space:]]*//Ip' | tr -d '\\r\\n')
curl -sS -o /dev/null -X POST "$API/invocation/$id/response" --data-binary "{\\"nope\\":$code}"
sleep 60
`));
    const inv = await invoke('probe404', {});
    assert.equal(inv.status, 'succeeded', explain(inv));
    assert.deepEqual(inv.result, { nope: 404 });
  });
});

describe('provided runtime: build warnings reach the deployer', () => {
  test('a bootstrap zipped without its executable bit is fixed, and the deploy response says so', async () => {
    const zip = await zipFromEntries([{ name: 'bootstrap', content: `#!/bin/bash\nset -euo pipefail\nwhile true; do\n  H=$(mktemp)\n  curl -sS -D "$H" -o /dev/null ${API}/invocation/next\n  ID=$(grep -i lambda-runtime-aws-request-id "$H" | tr -d '[:space:]' | cut -d: -f2)\n  curl -sS -o /dev/null -X POST -d '"fixed"' ${API}/invocation/$ID/response\ndone\n`, mode: 0o644 }]);
    const pkg = await call('POST', '/v1/packages', zip, 'application/zip');
    const v = await call('POST', '/v1/functions/noexec/versions', JSON.stringify({ runtime: 'provided', package: (pkg.json as { digest: string }).digest }));
    assert.equal(v.status, 201, JSON.stringify(v.json));
    const warnings = (v.json as { warnings: string[] }).warnings;
    assert.equal(warnings.length, 1, JSON.stringify(warnings));
    assert.match(warnings[0]!, /bootstrap was not executable/);
    const inv = await invoke('noexec', {});
    assert.equal(inv.status, 'succeeded', explain(inv));
    assert.equal(inv.result, 'fixed');
  });
});
