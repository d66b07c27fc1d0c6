import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT, runCli, startServer, type CliResult, type RunningServer } from '../helpers/server.ts';

/**
 * The `aviary` binary against a real server, both as child processes: what a user types and
 * what they see. Function fixtures: test/fixtures/functions/.
 */

const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'functions');

describe('aviary CLI end to end', { timeout: 180_000 }, () => {
  let server: RunningServer;
  let home: string;
  let env: Record<string, string>;

  const cli = (args: string[], input?: string): Promise<CliResult> =>
    runCli(args, input === undefined ? { env } : { env, input });
  const ok = (r: CliResult): CliResult => {
    assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}\nserver:\n${server.output().slice(-3000)}`);
    return r;
  };

  before(async () => {
    server = await startServer();
    home = await mkdtemp(path.join(os.tmpdir(), 'aviary-cli-e2e-'));
    // No key in the environment: commands use the one `aviary login` saves.
    env = { AVIARY_URL: server.url, AVIARY_CONFIG: path.join(home, 'config.json'), HOME: home };
  });

  after(async () => {
    await server?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  test('without a key, commands say how to get one', async () => {
    const r = await cli(['list']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no API key .*aviary login --key/);
  });

  test('login rejects a wrong key and saves a good one (0600)', async () => {
    const bad = await cli(['login', '--key', 'not-the-key']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /rejected the API key/);
    const good = ok(await cli(['login', '--key', server.adminKey]));
    assert.match(good.stdout, /Logged in to http:\/\/127\.0\.0\.1:\d+ \(0 functions\)/);
    assert.equal((await stat(env.AVIARY_CONFIG ?? '')).mode & 0o777, 0o600);
  });

  test('deploy a folder', async () => {
    const r = ok(
      await cli(['deploy', 'hello', path.join(FIXTURES, 'node-cjs'), '--runtime', 'node', '--handler', 'index.handler', '--env', 'GREETING=hi=there']),
    );
    assert.match(r.stdout, /^Deployed hello version 1 \(node, 128 MB, 3 s timeout\)\n/);
    assert.match(r.stdout, /URL: http:\/\/127\.0\.0\.1:\d+\/v1\/functions\/hello\/invocations\n/);
    assert.match(r.stdout, /aviary invoke hello/);
    assert.match(r.stderr, /Packaging .*node-cjs… 2 files/);
    assert.match(r.stderr, /Uploading .*… done/);
    assert.match(r.stderr, /Building hello on the server… done in \d+\.\d s/);
  });

  test('redeploying the same code uploads nothing and makes version 2', async () => {
    const r = ok(
      await cli(['deploy', 'hello', path.join(FIXTURES, 'node-cjs'), '--runtime', 'node', '--handler', 'index.handler', '--memory', '256', '--env', 'GREETING=hi=there']),
    );
    assert.match(r.stderr, /already on the server: nothing to upload/);
    assert.match(r.stdout, /^Deployed hello version 2 \(node, 256 MB, 3 s timeout\)/);
  });

  test('invoke with --data, @file, stdin and --json', async () => {
    const withData = JSON.parse(ok(await cli(['invoke', 'hello', '--data', '{"name":"world"}'])).stdout) as { format: string; echo: unknown };
    assert.deepEqual([withData.format, withData.echo], ['cjs', { name: 'world' }]);

    await writeFile(path.join(home, 'event.json'), '{"from":"file"}');
    const fromFile = JSON.parse(ok(await cli(['invoke', 'hello:1', '--data', `@${path.join(home, 'event.json')}`])).stdout) as { echo: unknown };
    assert.deepEqual(fromFile.echo, { from: 'file' });

    const fromStdin = JSON.parse(ok(await cli(['invoke', 'hello'], '{"via":"stdin"}')).stdout) as { echo: unknown };
    assert.deepEqual(fromStdin.echo, { via: 'stdin' });

    const envelope = JSON.parse(ok(await cli(['invoke', 'hello', '--json'])).stdout) as {
      status: string;
      version: number;
      requestId: string;
      result: { echo: unknown; requestId: string };
    };
    assert.equal(envelope.status, 'succeeded');
    assert.equal(envelope.version, 2);
    assert.deepEqual(envelope.result.echo, {}, 'no --data and stdin not a terminal but empty: {}');
    assert.equal(envelope.result.requestId, envelope.requestId);
  });

  test('a pretty-printed event file (with newlines) arrives intact', async () => {
    const event = { name: 'world', nested: { list: [1, 2, 3] } };
    await writeFile(path.join(home, 'pretty.json'), `${JSON.stringify(event, null, 2)}\n`);
    const r = JSON.parse(ok(await cli(['invoke', 'hello', '--data', `@${path.join(home, 'pretty.json')}`])).stdout) as { echo: unknown };
    assert.deepEqual(r.echo, event);
  });

  test('invalid event JSON fails locally', async () => {
    const r = await cli(['invoke', 'hello'], '{"unterminated":');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid JSON in stdin/);
  });

  test('invoke --log prints Lambda-style lines before the result; logs shows them later', async () => {
    ok(await cli(['deploy', 'logger', path.join(FIXTURES, 'node-logs'), '--runtime', 'node', '--handler', 'index.handler']));
    const r = ok(await cli(['invoke', 'logger', '--log']));
    assert.equal(r.stdout, 'logged\n');
    assert.match(r.stderr, /^\d{4}-\d\d-\d\dT[\d:.]+Z {2}\S+ {2}hello from stdout/m);
    assert.match(r.stderr, /hello from stderr/);

    const envelope = JSON.parse(ok(await cli(['invoke', 'logger', '--json'])).stdout) as { requestId: string };
    const logs = ok(await cli(['logs', 'logger', '--invocation', envelope.requestId]));
    const lines = logs.stdout.trimEnd().split('\n');
    assert.ok(lines.length >= 2, logs.stdout);
    for (const line of lines) assert.ok(line.includes(`  ${envelope.requestId}  `), line);
    const recent = ok(await cli(['logs', 'logger', '--since', '10m', '--limit', '1000', '--json']));
    assert.ok((JSON.parse(recent.stdout) as { logs: unknown[] }).logs.length >= lines.length);
  });

  test('a function error goes to stderr with exit 1', async () => {
    ok(await cli(['deploy', 'thrower', path.join(FIXTURES, 'node-throw'), '--runtime', 'node', '--handler', 'index.handler']));
    const r = await cli(['invoke', 'thrower', '--data', '{"kind":"error"}']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^TypeError: boom\n/);
    assert.match(r.stderr, /aviary logs thrower --invocation/);
  });

  test('list, get and versions', async () => {
    const list = ok(await cli(['list']));
    assert.match(list.stdout, /^NAME +VERSION +RUNTIME +MEMORY +TIMEOUT +UPDATED\n/);
    assert.match(list.stdout, /^hello +2 +node +256 MB +3 s +/m);
    assert.match(list.stdout, /^logger +1 +node +128 MB +3 s +/m);
    const listJson = JSON.parse(ok(await cli(['list', '--json'])).stdout) as { functions: { name: string }[] };
    assert.deepEqual(listJson.functions.map((f) => f.name).sort(), ['hello', 'logger', 'thrower']);

    const get = ok(await cli(['get', 'hello']));
    assert.match(get.stdout, /^Version +2 \(newest\)$/m);
    assert.match(get.stdout, /^Memory +256 MB$/m);
    assert.match(get.stdout, /^ {2}GREETING=hi=there$/m);
    assert.match(ok(await cli(['get', 'hello:1'])).stdout, /^Memory +128 MB$/m);

    const versions = ok(await cli(['versions', 'hello']));
    const rows = versions.stdout.trimEnd().split('\n');
    assert.equal(rows.length, 3, versions.stdout);
    assert.match(rows[1] ?? '', /^1 +node +index\.handler +128 MB/);
    assert.match(rows[2] ?? '', /^2 +node +index\.handler +256 MB/);
  });

  test('routes: add, call with fetch, list, delete', async () => {
    const add = ok(await cli(['route', 'add', 'GET', '/e2e/hello', 'hello']));
    const url = /^URL: (\S+)$/m.exec(add.stdout)?.[1];
    assert.equal(url, `${server.url}/e2e/hello`);
    const res = await fetch(`${url}?who=fetch`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { format: string; echo: { rawPath: string } };
    assert.equal(body.format, 'cjs');
    assert.equal(body.echo.rawPath, '/e2e/hello');

    const list = ok(await cli(['route', 'list']));
    assert.match(list.stdout, /^r\S* +GET +\/e2e\/hello +hello +/m);
    const dup = await cli(['route', 'add', 'GET', '/e2e/hello', 'hello']);
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /^error: /);

    ok(await cli(['route', 'delete', 'GET', '/e2e/hello']));
    assert.equal((await fetch(url ?? '')).status, 404);
    assert.doesNotMatch(ok(await cli(['route', 'list'])).stdout, /\/e2e\/hello/);
  });

  test('delete says what went, and the function is gone', async () => {
    ok(await cli(['route', 'add', 'POST', '/e2e/bye', 'hello']));
    const r = ok(await cli(['delete', 'hello']));
    assert.equal(r.stdout, 'Deleted hello: 2 versions, 1 route (POST /e2e/bye)\n');
    const get = await cli(['get', 'hello']);
    assert.equal(get.code, 1);
    assert.match(get.stderr, /^error: .*hello/);
  });

  test('error paths', async () => {
    const missing = await cli(['invoke', 'nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: .*nope/);

    const memory = await cli(['deploy', 'bad', path.join(FIXTURES, 'node-cjs'), '--runtime', 'node', '--handler', 'index.handler', '--memory', '64']);
    assert.equal(memory.code, 2);
    assert.match(memory.stderr, /option '--memory <MB>' argument '64' is invalid\. Expected a whole number from 128 to 10240 MB/);

    const runtime = await cli(['deploy', 'bad', path.join(FIXTURES, 'node-cjs'), '--handler', 'index.handler']);
    assert.equal(runtime.code, 2);
    assert.match(runtime.stderr, /required option '--runtime <runtime>' not specified/);

    // Checked by the server, not the CLI: its message comes through, and nothing is created.
    const handler = await cli(['deploy', 'bad', path.join(FIXTURES, 'node-cjs'), '--runtime', 'node', '--handler', 'missing.handler']);
    assert.equal(handler.code, 1);
    assert.match(handler.stderr, /Building bad on the server… failed\nerror: /);
    assert.equal((await cli(['get', 'bad'])).code, 1);

    // over the 50 MB package limit: refused before the upload, with the sizes and what to do
    const big = await mkdtemp(path.join(os.tmpdir(), 'aviary-big-'));
    await writeFile(path.join(big, 'index.js'), 'exports.handler = async () => 1;\n');
    await writeFile(path.join(big, 'data.bin'), randomBytes(51 * 1024 * 1024)); // does not compress
    const tooBig = await cli(['deploy', 'big', big, '--runtime', 'node', '--handler', 'index.handler']);
    await rm(big, { recursive: true, force: true });
    assert.equal(tooBig.code, 1, tooBig.stderr);
    assert.match(tooBig.stderr, /error: the package is \d+ bytes zipped, over the limit of 52428800 bytes \(50 MB; docs\/limits\.md\)/);
    assert.match(tooBig.stderr, /Leave out what the function does not need/);
    assert.doesNotMatch(tooBig.stderr, /Uploading|EPIPE/);
    assert.equal((await cli(['get', 'big'])).code, 1);

    const wrongKey = await cli(['list', '--api-key', 'wrong']);
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.stderr, /rejected the API key from --api-key/);

    const unknown = await cli(['deploi']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'deploi'/);
  });
});
