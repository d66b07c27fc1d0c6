import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, beforeEach, describe, test } from 'node:test';
import { main } from '../../src/cli/main.ts';
import type { Io } from '../../src/cli/output.ts';

/**
 * The commands against a stub of the management API (docs/api.md): what the CLI sends, what
 * it prints, and its exit codes. The real server is exercised by test/e2e/cli.test.ts.
 */

interface Call {
  method: string;
  path: string;
  query: Record<string, string>;
  auth: string | undefined;
  body: Buffer;
}

const KEY = 'stub-key';
const NOW = new Date().toISOString();

class Stub {
  calls: Call[] = [];
  packages = new Set<string>();
  versions: Record<string, unknown>[] = [];
  routes: Record<string, unknown>[] = [];
  server: http.Server;
  url = '';

  constructor() {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const u = new URL(req.url ?? '/', 'http://x');
        const call: Call = {
          method: req.method ?? '',
          path: decodeURIComponent(u.pathname),
          query: Object.fromEntries(u.searchParams),
          auth: req.headers.authorization,
          body: Buffer.concat(chunks),
        };
        this.calls.push(call);
        const [status, body] = this.handle(call);
        res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
        res.end(body === undefined ? undefined : JSON.stringify(body));
      });
    });
  }

  handle(c: Call): [number, unknown] {
    const err = (status: number, code: string, message: string, issues?: unknown[]) => [status, { error: { code, message, ...(issues ? { issues } : {}) } }] as [number, unknown];
    if (c.auth !== `Bearer ${KEY}`) return err(401, 'Unauthorized', 'unknown API key');
    const fn = () => ({ name: 'hello', namespace: 'default', latestVersion: this.versions.length, createdAt: NOW, updatedAt: NOW });
    const route = `${c.method} ${c.path}`;
    let m: RegExpMatchArray | null;
    if ((m = /^HEAD \/v1\/packages\/(.+)$/.exec(route))) return [this.packages.has(m[1] ?? '') ? 200 : 404, undefined];
    if (route === 'POST /v1/packages') {
      const digest = `sha256:${createHash('sha256').update(c.body).digest('hex')}`;
      this.packages.add(digest);
      return [201, { digest, size: c.body.length }];
    }
    if ((m = /^POST \/v1\/functions\/([^/]+)\/versions$/.exec(route))) {
      const body = JSON.parse(c.body.toString()) as Record<string, unknown>;
      if (body.memory === 9999) return err(400, 'ValidationError', 'invalid function config: memory: must be a multiple of 64', [{ path: 'memory', message: 'must be a multiple of 64' }, { path: 'env.X', message: 'too long' }]);
      const version = { function: m[1], version: this.versions.length + 1, memory: 128, timeout: 3, env: {}, maxInstances: 10, minWarm: 0, description: '', codeSize: 10, createdAt: NOW, handler: null, ...body };
      this.versions.push(version);
      return [201, { function: fn(), version, url: `${this.url}/v1/functions/${m[1]}/invocations` }];
    }
    if (route === 'GET /v1/functions') return [200, { functions: this.versions.length ? [fn()] : [] }];
    if (route === 'GET /v1/functions/hello') return [200, { function: fn(), version: this.versions.at(-1) }];
    if (route === 'GET /v1/functions/hello/versions') return [200, { versions: this.versions }];
    if (route === 'DELETE /v1/functions/hello') return [204, undefined];
    if ((m = /^POST \/v1\/functions\/([^/]+)\/invocations$/.exec(route))) {
      if (m[1] !== 'hello' && m[1] !== 'hello:1') return err(404, 'FunctionNotFound', `function '${m[1]}' does not exist`);
      const event = JSON.parse(c.body.toString() || '{}') as { fail?: boolean; text?: string };
      const logs = c.query.log === 'true' ? [{ time: NOW, requestId: 'req-1', version: 1, stream: 'stdout', message: 'hello log\n' }] : undefined;
      if (event.fail) {
        return [200, { requestId: 'req-1', function: 'hello', version: 1, status: 'failed', durationMs: 1, cold: false, logs, error: { errorType: 'TypeError', errorMessage: 'boom', trace: ['TypeError: boom', '    at handler (index.js:1:1)'] } }];
      }
      return [200, { requestId: 'req-1', function: 'hello', version: 1, status: 'succeeded', durationMs: 1, cold: true, logs, result: event.text ?? { echo: event } }];
    }
    if (route === 'GET /v1/functions/hello/logs') return [200, { logs: [{ time: NOW, requestId: 'req-1', version: 1, stream: 'stdout', message: 'a line' }] }];
    if (route === 'GET /v1/routes') return [200, { routes: this.routes }];
    if (route === 'POST /v1/routes') {
      const body = JSON.parse(c.body.toString()) as Record<string, unknown>;
      const r = { id: `r_${this.routes.length + 1}`, qualifier: null, createdAt: NOW, ...body };
      this.routes.push(r);
      return [201, { route: r }];
    }
    if (c.method === 'DELETE' && c.path.startsWith('/v1/routes')) return [204, undefined];
    return err(404, 'NotFound', `no route ${route}`);
  }
}

describe('cli commands against a stub API', () => {
  const stub = new Stub();
  let tmp: string;
  let app: string;

  async function run(argv: string[], stdin?: string) {
    let stdout = '';
    let stderr = '';
    const io: Io = {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      stdin: stdin === undefined ? Object.assign(Readable.from([]), { isTTY: true }) : Readable.from([Buffer.from(stdin)]),
      env: { AVIARY_URL: stub.url, AVIARY_API_KEY: KEY, AVIARY_CONFIG: path.join(tmp, 'config.json') },
      cwd: tmp,
    };
    const code = await main(argv, io);
    return { code, stdout, stderr };
  }

  before(async () => {
    await new Promise<void>((resolve) => stub.server.listen(0, '127.0.0.1', resolve));
    stub.url = `http://127.0.0.1:${(stub.server.address() as AddressInfo).port}`;
    tmp = await mkdtemp(path.join(os.tmpdir(), 'aviary-cli-commands-'));
    app = path.join(tmp, 'app');
    await writeFile(path.join(tmp, 'event.json'), '{"from":"file"}');
    await mkdir(app);
    await writeFile(path.join(app, 'index.js'), 'exports.handler = async () => 1;\n');
  });
  after(async () => {
    stub.server.closeAllConnections();
    await new Promise((resolve) => stub.server.close(resolve));
    await rm(tmp, { recursive: true, force: true });
  });
  beforeEach(() => {
    stub.calls = [];
  });

  test('deploy uploads a missing package, then deploys by digest', async () => {
    const r = await run(['deploy', 'hello', 'app', '--runtime', 'node', '--handler', 'index.handler', '--memory', '256', '--env', 'A=b=c']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      stub.calls.map((c) => `${c.method} ${c.path.replace(/[0-9a-f]{64}/, 'X')}`),
      ['HEAD /v1/packages/sha256:X', 'POST /v1/packages', 'POST /v1/functions/hello/versions'],
    );
    const body = JSON.parse(stub.calls[2]?.body.toString() ?? '') as Record<string, unknown>;
    assert.deepEqual(body, { runtime: 'node', package: body.package, handler: 'index.handler', memory: 256, env: { A: 'b=c' } });
    assert.match(r.stderr, /Packaging app… 1 file, \d+ B/);
    assert.match(r.stderr, /Uploading \d+ B… done in \d+\.\d s/);
    assert.match(r.stderr, /Building hello on the server… done in \d+\.\d s/);
    assert.equal(
      r.stdout,
      `Deployed hello version 1 (node, 256 MB, 3 s timeout)\nURL: ${stub.url}/v1/functions/hello/invocations\nInvoke: aviary invoke hello\n`,
    );
  });

  test('a second deploy of the same code uploads nothing', async () => {
    const r = await run(['deploy', 'hello', 'app', '--runtime', 'node', '--handler', 'index.handler']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(stub.calls.map((c) => c.method), ['HEAD', 'POST']);
    assert.match(r.stderr, /already on the server: nothing to upload/);
    assert.match(r.stdout, /^Deployed hello version 2 /);
  });

  test('a server 400 prints its message and issues and exits 1', async () => {
    const r = await run(['deploy', 'hello', 'app', '--runtime', 'node', '--handler', 'index.handler', '--memory', '9999']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Building hello on the server… failed\nerror: invalid function config: memory: must be a multiple of 64\n {2}- memory: must be a multiple of 64\n {2}- env\.X: too long\n/);
  });

  test('deploy --json prints the API response', async () => {
    const r = await run(['deploy', 'hello', 'app', '--runtime', 'provided', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { version: { runtime: string } };
    assert.equal(res.version.runtime, 'provided');
  });

  test('invoke prints the result; strings as is', async () => {
    const r1 = await run(['invoke', 'hello', '--data', '{"a":1}']);
    assert.deepEqual([r1.code, r1.stdout], [0, '{\n  "echo": {\n    "a": 1\n  }\n}\n']);
    const r2 = await run(['invoke', 'hello', '--data', '{"text":"plain"}']);
    assert.equal(r2.stdout, 'plain\n');
  });

  test('invoke reads the event from stdin or a file, sends it as is, and --log prints lines first', async () => {
    const r = await run(['invoke', 'hello:1', '--log'], '{"from":"stdin"}');
    assert.equal(r.code, 0, r.stderr);
    const call = stub.calls[0];
    assert.equal(call?.path, '/v1/functions/hello:1/invocations');
    assert.equal(call?.query.log, 'true');
    assert.equal(call?.body.toString(), '{"from":"stdin"}');
    assert.equal(r.stderr, `${NOW}  req-1  hello log\n`);
    const f = await run(['invoke', 'hello', '--data', '@event.json']);
    assert.equal(stub.calls[1]?.body.toString(), '{"from":"file"}');
    assert.equal(f.code, 0);
  });

  test('a failed invocation prints the error to stderr and exits 1', async () => {
    const r = await run(['invoke', 'hello', '--data', '{"fail":true}']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^TypeError: boom\n {4}at handler \(index\.js:1:1\)\nrequest req-1 \(logs: aviary logs hello --invocation req-1\)\n$/);
    const j = await run(['invoke', 'hello', '--data', '{"fail":true}', '--json']);
    assert.equal(j.code, 1);
    assert.equal((JSON.parse(j.stdout) as { status: string }).status, 'failed');
  });

  test('an unknown function prints the server message', async () => {
    const r = await run(['invoke', 'nope']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "error: function 'nope' does not exist\n");
  });

  test('a rejected key says where it came from', async () => {
    const r = await run(['list', '--api-key', 'wrong']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error: unknown API key\nThe server at .* rejected the API key from --api-key/);
  });

  test('list, versions and get', async () => {
    const list = await run(['list']);
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^NAME {3}VERSION {2}RUNTIME {3}MEMORY {2}TIMEOUT {2}UPDATED$/);
    assert.match(lines[1] ?? '', /^hello {2}3 {8}provided {2}128 MB {2}3 s {6}just now$/);
    const versions = await run(['versions', 'hello']);
    assert.equal(versions.stdout.trimEnd().split('\n').length, 4);
    const get = await run(['get', 'hello']);
    assert.match(get.stdout, /Runtime +provided/);
    assert.match(get.stdout, /Env +-\n/);
  });

  test('logs pass filters and print Lambda-style lines', async () => {
    const r = await run(['logs', 'hello', '--limit', '5', '--since', '10m', '--invocation', 'req-1']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${NOW}  req-1  a line\n`);
    const q = stub.calls[0]?.query ?? {};
    assert.equal(q.limit, '5');
    assert.equal(q.invocation, 'req-1');
    assert.ok(Date.now() - Date.parse(q.since ?? '') >= 600_000);
  });

  test('routes: add prints the URL to curl, list, delete by method and path or id', async () => {
    const add = await run(['route', 'add', 'post', '/hello/{name}', 'hello:2']);
    assert.equal(add.code, 0, add.stderr);
    assert.deepEqual(JSON.parse(stub.calls[0]?.body.toString() ?? ''), { method: 'POST', path: '/hello/{name}', function: 'hello', qualifier: '2' });
    assert.match(add.stdout, new RegExp(`URL: ${stub.url}/hello/\\{name\\}\nTry: curl -X POST '${stub.url}/hello/\\{name\\}'`));
    const list = await run(['route', 'list']);
    assert.match(list.stdout, /r_1 +POST +\/hello\/\{name\} +hello:2/);
    await run(['route', 'delete', 'POST', '/hello/{name}']);
    assert.deepEqual(stub.calls.at(-1)?.query, { method: 'POST', path: '/hello/{name}' });
    await run(['route', 'delete', 'r_1']);
    assert.equal(stub.calls.at(-1)?.path, '/v1/routes/r_1');
  });

  test('delete says what went with the function', async () => {
    const r = await run(['delete', 'hello']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Deleted hello: 3 versions, 1 route (POST /hello/{name})\n');
  });

  test('login checks the key and saves it 0600', async () => {
    const bad = await run(['login', '--key', 'wrong']);
    assert.equal(bad.code, 1);
    const good = await run(['login', '--key', '-'], `${KEY}\n`);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /Saved the URL and key to .*config\.json/);
    const saved = JSON.parse(await readFile(path.join(tmp, 'config.json'), 'utf8')) as { apiKey: string; url: string };
    assert.deepEqual(saved, { url: stub.url, apiKey: KEY });
    assert.equal((await stat(path.join(tmp, 'config.json'))).mode & 0o777, 0o600);
  });
});
