import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import {
  checkEventJson,
  parseEnvPair,
  parseFunctionRef,
  parseIdleTtl,
  parseMemory,
  parsePort,
  parseSince,
  readEvent,
} from '../../src/cli/args.ts';
import { configPath, requireKey, resolveSettings, writeConfigFile } from '../../src/cli/config.ts';
import { CliError } from '../../src/cli/errors.ts';
import { main } from '../../src/cli/main.ts';
import type { InStream, Io } from '../../src/cli/output.ts';

function stdinOf(text: string | undefined): InStream {
  if (text === undefined) return Object.assign(Readable.from([]), { isTTY: true });
  return Readable.from([Buffer.from(text)]);
}

/** Runs the CLI in-process with captured output. */
async function run(argv: string[], env: Record<string, string> = {}, stdin?: string) {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: stdinOf(stdin),
    env: { AVIARY_CONFIG: '/nonexistent/aviary-test/config.json', ...env },
    cwd: process.cwd(),
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

function usage(err: unknown, pattern: RegExp): boolean {
  assert.ok(err instanceof CliError, `expected a CliError, got ${String(err)}`);
  assert.equal(err.exitCode, 2);
  assert.match(err.message, pattern);
  return true;
}

describe('--env parsing', () => {
  test('K=V pairs accumulate, values may contain =, later keys win', () => {
    let env = parseEnvPair('A=1');
    env = parseEnvPair('URL=postgres://u:p@h/db?sslmode=require', env);
    env = parseEnvPair('EMPTY=', env);
    env = parseEnvPair('A=2', env);
    assert.deepEqual(env, { A: '2', URL: 'postgres://u:p@h/db?sslmode=require', EMPTY: '' });
  });

  test('malformed pairs are rejected with a reason', () => {
    assert.throws(() => parseEnvPair('NOVALUE'), /Expected KEY=VALUE/);
    assert.throws(() => parseEnvPair('=value'), /Expected KEY=VALUE/);
    assert.throws(() => parseEnvPair('1BAD=x'), /'1BAD' is not a valid variable name/);
    assert.throws(() => parseEnvPair('A-B=x'), /'A-B' is not a valid variable name/);
  });

  test('the CLI names the malformed --env and exits 2', async () => {
    const r = await run(['deploy', 'hello', '.', '--runtime', 'node', '--handler', 'index.handler', '--env', 'FOO']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /option '--env <KEY=VALUE>' argument 'FOO' is invalid/);
    assert.match(r.stderr, /aviary deploy --help/);
  });
});

describe('event parsing', () => {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'aviary-cli-args-'));
    await writeFile(path.join(tmp, 'event.json'), '{"from":"file"}\n');
    await writeFile(path.join(tmp, 'bad.json'), '{"from":');
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  test('--data JSON is sent as given', async () => {
    const e = await readEvent({ data: '{"n": 1}', stdin: stdinOf(undefined), cwd: tmp });
    assert.deepEqual(e, { text: '{"n": 1}', from: '--data' });
  });

  test('--data @file reads the file relative to the working directory', async () => {
    const e = await readEvent({ data: '@event.json', stdin: stdinOf(undefined), cwd: tmp });
    assert.deepEqual(JSON.parse(e.text), { from: 'file' });
    assert.equal(e.from, 'event.json');
  });

  test('stdin is read when piped, and with @-; a terminal means {}', async () => {
    assert.equal((await readEvent({ stdin: stdinOf('[1,2]'), cwd: tmp })).text, '[1,2]');
    assert.equal((await readEvent({ data: '@-', stdin: stdinOf('"s"'), cwd: tmp })).text, '"s"');
    assert.equal((await readEvent({ stdin: stdinOf(undefined), cwd: tmp })).text, '{}');
    assert.equal((await readEvent({ stdin: stdinOf(''), cwd: tmp })).text, '{}', 'empty stdin is {}');
  });

  test('invalid JSON is a usage error naming where it came from', async () => {
    await assert.rejects(readEvent({ data: '{bad', stdin: stdinOf(undefined), cwd: tmp }), (e) => usage(e, /invalid JSON in --data/));
    await assert.rejects(readEvent({ data: '@bad.json', stdin: stdinOf(undefined), cwd: tmp }), (e) => usage(e, /invalid JSON in bad\.json/));
    await assert.rejects(readEvent({ stdin: stdinOf('nope'), cwd: tmp }), (e) => usage(e, /invalid JSON in stdin/));
    await assert.rejects(readEvent({ data: '@missing.json', stdin: stdinOf(undefined), cwd: tmp }), (e) =>
      usage(e, /cannot read the event file missing\.json: no such file/),
    );
    assert.equal(checkEventJson('  ', 'x'), '{}');
  });

  test('the CLI rejects bad --data before contacting any server', async () => {
    const r = await run(['invoke', 'hello', '--data', '{"a":'], { AVIARY_API_KEY: 'k', AVIARY_URL: 'http://127.0.0.1:9' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid JSON in --data/);
    assert.doesNotMatch(r.stderr, /cannot reach/);
  });
});

describe('option validation', () => {
  test('numbers must be whole and in the documented range', () => {
    assert.equal(parseMemory('512'), 512);
    assert.throws(() => parseMemory('64'), /Expected a whole number from 128 to 10240 MB/);
    assert.throws(() => parseMemory('1.5'), /whole number/);
    assert.throws(() => parseMemory('abc'), /whole number/);
    assert.equal(parsePort('0'), 0);
    assert.throws(() => parsePort('65536'), /from 0 to 65535/);
    assert.throws(() => parsePort('-1'), /from 0 to 65535/);
    assert.equal(parseIdleTtl('1.5'), 1.5);
    assert.throws(() => parseIdleTtl('0'), /seconds from 1/);
  });

  test('function references', () => {
    assert.deepEqual(parseFunctionRef('hello'), { name: 'hello', qualifier: undefined });
    assert.deepEqual(parseFunctionRef('hello:3'), { name: 'hello', qualifier: '3' });
    assert.deepEqual(parseFunctionRef('hello:$LATEST'), { name: 'hello', qualifier: '$LATEST' });
    assert.throws(() => parseFunctionRef('9lives'), (e) => usage(e, /invalid function name '9lives'/));
    assert.throws(() => parseFunctionRef('hello:'), (e) => usage(e, /invalid qualifier/));
    assert.throws(() => parseFunctionRef('a'.repeat(65)), /invalid function name/);
  });

  test('--since takes ISO times and durations', () => {
    const now = Date.parse('2026-11-22T16:20:00.000Z');
    assert.equal(parseSince('10m', now), '2026-11-22T16:10:00.000Z');
    assert.equal(parseSince('1d', now), '2026-11-21T16:20:00.000Z');
    assert.equal(parseSince('2026-11-22T15:00:00Z', now), '2026-11-22T15:00:00.000Z');
    assert.throws(() => parseSince('yesterday', now), /ISO time/);
  });

  const cases: [string, string[], RegExp][] = [
    ['bad --memory', ['deploy', 'hello', '.', '--runtime', 'node', '--handler', 'i.h', '--memory', '64'], /option '--memory <MB>' argument '64' is invalid\. Expected a whole number from 128 to 10240 MB/],
    ['bad --timeout', ['deploy', 'hello', '.', '--runtime', 'node', '--handler', 'i.h', '--timeout', '0'], /option '--timeout <seconds>' argument '0' is invalid/],
    ['missing --runtime', ['deploy', 'hello', '.', '--handler', 'i.h'], /required option '--runtime <runtime>' not specified/],
    ['unknown --runtime', ['deploy', 'hello', '.', '--runtime', 'ruby'], /Allowed choices are node, python, provided/],
    ['missing --handler', ['deploy', 'hello', '.', '--runtime', 'python'], /--handler is required for the python runtime/],
    ['min-warm above max-instances', ['deploy', 'hello', '.', '--runtime', 'provided', '--max-instances', '2', '--min-warm', '3'], /--min-warm 3 is more than --max-instances 2/],
    ['bad function name', ['deploy', 'hello world', '.', '--runtime', 'provided'], /invalid function name 'hello world'/],
    ['bad --port', ['server', '--port', '70000'], /option '--port <port>' argument '70000' is invalid/],
    ['bad --idle-ttl', ['server', '--idle-ttl', 'soon'], /option '--idle-ttl <seconds>' argument 'soon' is invalid/],
    ['bad --instance-queue', ['server', '--instance-queue', '33'], /option '--instance-queue <n>' argument '33' is invalid\. Expected a whole number from 0 to 32/],
    ['bad --max-processes', ['server', '--max-processes', '8'], /option '--max-processes <n>' argument '8' is invalid\. Expected a whole number from 32 to 65536/],
    ['bad --limit', ['logs', 'hello', '--limit', '5000'], /option '--limit <n>' argument '5000' is invalid/],
    ['bad route method', ['route', 'add', 'FETCH', '/x', 'hello'], /invalid method 'FETCH'/],
    ['bad route path', ['route', 'add', 'GET', 'x', 'hello'], /must start with \//],
    ['unknown option', ['list', '--colour'], /unknown option '--colour'[\s\S]*aviary list --help/],
    ['unknown command', ['deplyo'], /unknown command 'deplyo'[\s\S]*aviary --help/],
  ];
  for (const [name, argv, pattern] of cases) {
    test(`${name} → exit 2 with a message`, async () => {
      const r = await run(argv, { AVIARY_API_KEY: 'k', AVIARY_URL: 'http://127.0.0.1:9' });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, pattern);
      assert.equal(r.stdout, '');
    });
  }

  test('--help and --version exit 0 on stdout', async () => {
    const help = await run(['deploy', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Examples:\n {2}\$ aviary deploy hello/);
    const version = await run(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  });
});

describe('config resolution', () => {
  let tmp: string;
  let file: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'aviary-cli-config-'));
    file = path.join(tmp, 'sub', 'config.json');
    await writeConfigFile(file, { url: 'http://saved.example:8080/', apiKey: 'saved-key' });
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  test('the config file is written with mode 0600', async () => {
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { url: 'http://saved.example:8080/', apiKey: 'saved-key' });
  });

  test('options beat the environment, which beats the file, which beats the default', async () => {
    const env = { AVIARY_CONFIG: file };
    const fromFile = await resolveSettings({}, env);
    assert.equal(fromFile.url, 'http://saved.example:8080');
    assert.equal(fromFile.apiKey, 'saved-key');
    assert.equal(fromFile.keySource, 'file');

    const fromEnv = await resolveSettings({}, { ...env, AVIARY_URL: 'http://env.example', AVIARY_API_KEY: 'env-key' });
    assert.deepEqual([fromEnv.url, fromEnv.apiKey, fromEnv.urlSource], ['http://env.example', 'env-key', 'env']);

    const fromOptions = await resolveSettings(
      { url: 'https://opt.example/base/', apiKey: 'opt-key' },
      { ...env, AVIARY_URL: 'http://env.example', AVIARY_API_KEY: 'env-key' },
    );
    assert.deepEqual([fromOptions.url, fromOptions.apiKey], ['https://opt.example/base', 'opt-key']);

    const none = await resolveSettings({}, { AVIARY_CONFIG: path.join(tmp, 'missing.json') });
    assert.deepEqual([none.url, none.apiKey, none.urlSource], ['http://127.0.0.1:8080', undefined, 'default']);
  });

  test('the saved key is never sent to another server', async () => {
    const s = await resolveSettings({ url: 'http://other.example' }, { AVIARY_CONFIG: file });
    assert.equal(s.apiKey, undefined);
    assert.throws(() => requireKey(s), (e) => usage(e, /the key saved in .* is for http:\/\/saved\.example:8080/));
  });

  test('a missing key says how to get one', async () => {
    const s = await resolveSettings({}, { AVIARY_CONFIG: path.join(tmp, 'missing.json') });
    assert.throws(
      () => requireKey(s),
      (e) => usage(e, /run `aviary login --key <key>`.*or set AVIARY_API_KEY/) && /aviary server/.test((e as CliError).hint ?? ''),
    );
    const r = await run(['list'], { AVIARY_CONFIG: path.join(tmp, 'missing.json') });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no API key/);
  });

  test('a bad URL names its source', async () => {
    await assert.rejects(resolveSettings({}, { AVIARY_URL: 'localhost:8080', AVIARY_CONFIG: file }), (e) =>
      usage(e, /invalid server URL 'localhost:8080' \(from AVIARY_URL\)/),
    );
  });

  test('the default path is under ~/.config unless AVIARY_CONFIG or XDG_CONFIG_HOME say otherwise', () => {
    assert.equal(configPath({ HOME: '/home/u' }), '/home/u/.config/aviary/config.json');
    assert.equal(configPath({ HOME: '/home/u', XDG_CONFIG_HOME: '/xdg' }), '/xdg/aviary/config.json');
    assert.equal(configPath({ AVIARY_CONFIG: '/etc/aviary.json' }), '/etc/aviary.json');
  });

  test('an unreachable server is reported with the fix', async () => {
    const r = await run(['list'], { AVIARY_API_KEY: 'k', AVIARY_URL: 'http://127.0.0.1:9' });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot reach the Aviary server at http:\/\/127\.0\.0\.1:9 \(ECONNREFUSED\): start it with `aviary server`, or point AVIARY_URL at it/);
  });
});
