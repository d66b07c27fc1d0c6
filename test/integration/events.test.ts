// The event bus through a real server: rules CRUD and its error paths (nothing changes on
// error), CloudEvents in structured, binary and batch mode, limits, and the CLI commands.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, startServer, type CliResult, type RunningServer } from '../helpers/server.ts';
import { TestApi, waitFor } from '../helpers/api.ts';

let server: RunningServer;
let api: TestApi;

/** Logs its event and returns it: what a rule delivered is visible in its logs. */
const RECORDER = `exports.handler = async (event) => { console.log('EVENT ' + JSON.stringify(event)); return event; };\n`;

before(async () => {
  server = await startServer();
  api = new TestApi(server.url, server.adminKey);
  for (const name of ['notify', 'audit']) {
    const r = await api.deployFiles(name, [{ name: 'index.js', content: RECORDER }], { handler: 'index.handler' });
    assert.equal(r.status, 201, r.text);
  }
});
after(async () => {
  await server?.stop();
});

const BIG_ORDERS = { type: ['order.created'], data: { total: [{ numeric: ['>', 100] }] } };

function ce(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { specversion: '1.0', id: `e-${Math.random().toString(36).slice(2)}`, source: 'shop', type: 'order.created', data: { total: 150 }, ...extra };
}

async function ruleNames(): Promise<string[]> {
  const r = await api.request('GET', '/v1/rules');
  assert.equal(r.status, 200, r.text);
  return (r.json.rules as { name: string }[]).map((x) => x.name);
}

describe('rules API', () => {
  test('create, list, get, disable, enable, delete', async () => {
    const created = await api.request('POST', '/v1/rules', { name: 'crud', pattern: BIG_ORDERS, function: 'notify', description: 'big ones' });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(
      { ...created.json.rule, createdAt: undefined, updatedAt: undefined },
      { name: 'crud', pattern: BIG_ORDERS, function: 'notify', enabled: true, description: 'big ones', createdAt: undefined, updatedAt: undefined },
    );
    assert.ok((await ruleNames()).includes('crud'));
    const got = await api.request('GET', '/v1/rules/crud');
    assert.equal(got.status, 200);
    assert.deepEqual(got.json.rule.pattern, BIG_ORDERS);

    const disabled = await api.request('POST', '/v1/rules/crud/disable');
    assert.equal(disabled.status, 200, disabled.text);
    assert.equal(disabled.json.rule.enabled, false);
    const enabled = await api.request('POST', '/v1/rules/crud/enable', {});
    assert.equal(enabled.json.rule.enabled, true);

    assert.equal((await api.request('DELETE', '/v1/rules/crud')).status, 204);
    const gone = await api.request('GET', '/v1/rules/crud');
    assert.equal(gone.status, 404);
    assert.equal(gone.json.error.code, 'RuleNotFound');
    assert.equal((await api.request('DELETE', '/v1/rules/crud')).status, 404);
  });

  test('a qualifier and a pattern given as JSON text', async () => {
    const r = await api.request('POST', '/v1/rules', { name: 'qualified', pattern: '{"source":["shop"]}', function: 'audit:1', enabled: false });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.rule.function, 'audit:1');
    assert.equal(r.json.rule.enabled, false);
    assert.deepEqual(r.json.rule.pattern, { source: ['shop'] });
    assert.equal((await api.request('DELETE', '/v1/rules/qualified')).status, 204);
  });

  test('bad input is a 400 naming the field, a taken name a 409, and nothing changes', async () => {
    assert.equal((await api.request('POST', '/v1/rules', { name: 'taken', pattern: { type: ['x'] }, function: 'notify' })).status, 201);
    const before = await api.request('GET', '/v1/rules');

    const unknownFn = await api.request('POST', '/v1/rules', { name: 'r1', pattern: { type: ['x'] }, function: 'ghost' });
    assert.equal(unknownFn.status, 400, unknownFn.text);
    assert.equal(unknownFn.json.error.code, 'ValidationError');
    assert.deepEqual(unknownFn.json.error.issues.map((i: { path: string }) => i.path), ['function']);
    assert.match(unknownFn.json.error.message, /function ghost does not exist/);

    const badPattern = await api.request('POST', '/v1/rules', { name: 'r1', pattern: { data: { total: [{ numeric: ['>'] }] } }, function: 'notify' });
    assert.equal(badPattern.status, 400);
    assert.equal(badPattern.json.error.message, 'invalid rule: pattern.data.total[0]: numeric needs operator/value pairs like [">", 100] or [">=", 0, "<", 10], got [">"]');

    const unknownMatcher = await api.request('POST', '/v1/rules', { name: 'r1', pattern: { type: [{ regex: '.*' }] }, function: 'notify' });
    assert.equal(unknownMatcher.status, 400);
    assert.match(unknownMatcher.json.error.message, /pattern\.type\[0\]: unknown matcher "regex"/);

    const notJson = await api.request('POST', '/v1/rules', { name: 'r1', pattern: '{"type":', function: 'notify' });
    assert.equal(notJson.status, 400);
    assert.match(notJson.json.error.message, /pattern: is not valid JSON/);

    const bodyIssues = await api.request('POST', '/v1/rules', { name: 'no spaces', function: 'notify', color: 'red' });
    assert.equal(bodyIssues.status, 400);
    assert.deepEqual(bodyIssues.json.error.issues.map((i: { path: string }) => i.path).sort(), ['color', 'name', 'pattern']);

    const taken = await api.request('POST', '/v1/rules', { name: 'taken', pattern: { type: ['y'] }, function: 'audit' });
    assert.equal(taken.status, 409);
    assert.equal(taken.json.error.code, 'RuleConflict');

    const badName = await api.request('GET', '/v1/rules/bad%20name');
    assert.equal(badName.status, 400);

    const after = await api.request('GET', '/v1/rules');
    assert.deepEqual(after.json, before.json);
    assert.equal((await api.request('DELETE', '/v1/rules/taken')).status, 204);
  });

  test('POST /v1/rules/test matches a pattern against an event, stores nothing', async () => {
    const yes = await api.request('POST', '/v1/rules/test', { pattern: BIG_ORDERS, event: ce() });
    assert.equal(yes.status, 200, yes.text);
    assert.deepEqual(yes.json, { matched: true });
    const no = await api.request('POST', '/v1/rules/test', { pattern: BIG_ORDERS, event: ce({ data: { total: 5 } }) });
    assert.deepEqual(no.json, { matched: false });
    const bad = await api.request('POST', '/v1/rules/test', { pattern: { type: [{ exists: 'yes' }] }, event: {} });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /pattern\.type\[0\]: exists must be true or false/);
    assert.ok(!(await ruleNames()).includes('test'));
  });

  test('deleting a function deletes its rules', async () => {
    const r = await api.deployFiles('short-lived', [{ name: 'index.js', content: RECORDER }], { handler: 'index.handler' });
    assert.equal(r.status, 201, r.text);
    assert.equal((await api.request('POST', '/v1/rules', { name: 'doomed', pattern: { type: ['x'] }, function: 'short-lived' })).status, 201);
    assert.equal((await api.request('DELETE', '/v1/functions/short-lived')).status, 204);
    assert.ok(!(await ruleNames()).includes('doomed'));
  });
});

describe('POST /v1/events', () => {
  test('structured mode (application/cloudevents+json) → 202', async () => {
    const event = ce({ type: 'nobody.listens' });
    const r = await api.request('POST', '/v1/events', JSON.stringify(event), { 'content-type': 'application/cloudevents+json' });
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(r.json, { id: event.id, matched: [], invocations: [], duplicate: false });
  });

  test('plain application/json with the attributes → 202', async () => {
    const r = await api.request('POST', '/v1/events', ce({ type: 'nobody.listens' }));
    assert.equal(r.status, 202, r.text);
  });

  test('binary mode (ce-* headers, the body is the data) → 202', async () => {
    const r = await api.request('POST', '/v1/events', '{"total":1}', {
      'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': 'bin-1', 'ce-source': 'shop', 'ce-type': 'nobody.listens',
    });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.json.id, 'bin-1');
  });

  test('batch mode → 202 with one result per event', async () => {
    const r = await api.request('POST', '/v1/events', JSON.stringify([ce({ id: 'b1', type: 'nobody.listens' }), ce({ id: 'b2', type: 'nobody.listens' })]), {
      'content-type': 'application/cloudevents-batch+json',
    });
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(r.json.events.map((e: { id: string }) => e.id), ['b1', 'b2']);
  });

  test('missing and bad attributes are a 400 naming each one', async () => {
    const r = await api.request('POST', '/v1/events', JSON.stringify({ specversion: '1.0', source: 'shop', type: 'x', time: 'soon' }), { 'content-type': 'application/cloudevents+json' });
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.json.error.issues.map((i: { path: string }) => i.path), ['id', 'time']);
    const binary = await api.request('POST', '/v1/events', 'x', { 'content-type': 'text/plain', 'ce-specversion': '1.0', 'ce-id': '1', 'ce-source': 's' });
    assert.equal(binary.status, 400);
    assert.deepEqual(binary.json.error.issues.map((i: { path: string }) => i.path), ['ce-type']);
  });

  test('a body that is not a CloudEvent is 415; over 256 KiB is 413 naming the limit', async () => {
    const plain = await api.request('POST', '/v1/events', 'hello', { 'content-type': 'text/plain' });
    assert.equal(plain.status, 415);
    assert.match(plain.json.error.message, /ce-specversion/);
    const big = await api.request('POST', '/v1/events', JSON.stringify(ce({ data: 'x'.repeat(256 * 1024) })), { 'content-type': 'application/cloudevents+json' });
    assert.equal(big.status, 413);
    assert.equal(big.json.error.code, 'PayloadTooLarge');
    assert.match(big.json.error.message, /262144 bytes/);
  });

  test('a matching rule\'s function receives the CloudEvent as an async invocation; a non-matching one does not', async () => {
    assert.equal((await api.request('POST', '/v1/rules', { name: 'big-orders', pattern: BIG_ORDERS, function: 'notify' })).status, 201);
    assert.equal((await api.request('POST', '/v1/rules', { name: 'refunds', pattern: { type: ['order.refunded'] }, function: 'audit' })).status, 201);
    const event = ce({ id: 'deliver-1', subject: 'orders/42', traceparent: '00-abc' });
    const r = await api.request('POST', '/v1/events', JSON.stringify(event), { 'content-type': 'application/cloudevents+json' });
    assert.equal(r.status, 202, r.text);
    assert.deepEqual(r.json.matched, ['big-orders']);
    assert.equal(r.json.invocations.length, 1);
    assert.equal(r.json.duplicate, false);

    const done = await finished(r.json.invocations[0]);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.equal(done.function, 'notify');
    assert.equal(done.source, 'event');
    assert.deepEqual(done.result, event, 'the function got the CloudEvent, attributes and data as published');
    const logs = await api.request('GET', `/v1/functions/notify/logs?invocation=${done.requestId}`);
    assert.ok(logs.json.logs.some((l: { message: string }) => l.message.includes('"id":"deliver-1"')), logs.text);

    // the same source and id again: the first invocation, nothing new queued
    const again = await api.request('POST', '/v1/events', JSON.stringify(event), { 'content-type': 'application/cloudevents+json' });
    assert.equal(again.status, 202);
    assert.deepEqual(again.json, { ...r.json, duplicate: true });

    // binary mode, matching through data parsed from the body
    const bin = await api.request('POST', '/v1/events', '{"total":500}', {
      'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': 'deliver-2', 'ce-source': 'shop', 'ce-type': 'order.created',
    });
    assert.equal(bin.status, 202, bin.text);
    assert.deepEqual(bin.json.matched, ['big-orders']);
    const binDone = await finished(bin.json.invocations[0]);
    assert.deepEqual(binDone.result, { specversion: '1.0', id: 'deliver-2', source: 'shop', type: 'order.created', datacontenttype: 'application/json', data: { total: 500 } });

    // a small order matches no rule; audit was never invoked
    const small = await api.request('POST', '/v1/events', JSON.stringify(ce({ data: { total: 5 } })), { 'content-type': 'application/cloudevents+json' });
    assert.deepEqual(small.json.matched, []);
    const audit = await api.request('GET', '/v1/functions/audit/invocations');
    assert.equal(audit.status, 200, audit.text);
    assert.deepEqual(audit.json.invocations, []);
    const auditLogs = await api.request('GET', '/v1/functions/audit/logs');
    assert.deepEqual(auditLogs.json.logs, []);

    for (const name of ['big-orders', 'refunds']) assert.equal((await api.request('DELETE', `/v1/rules/${name}`)).status, 204);
  });
});

/** Polls an async invocation until it has finished (or 30 s pass). */
async function finished(id: string): Promise<any> {
  let last: any;
  const ok = await waitFor(async () => {
    const r = await api.request('GET', `/v1/invocations/${id}`);
    last = r.json?.invocation;
    return last?.status === 'succeeded' || last?.status === 'failed';
  }, 30_000);
  assert.ok(ok, `invocation ${id} did not finish: ${JSON.stringify(last)}\n${server.output().slice(-2000)}`);
  return last;
}

describe('aviary event / aviary rule', () => {
  const env = (): Record<string, string> => ({ AVIARY_URL: server.url, AVIARY_API_KEY: server.adminKey });
  const cli = (args: string[]): Promise<CliResult> => runCli(args, { env: env() });
  const ok = (r: CliResult): CliResult => {
    assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  };

  test('rule add, list, get, disable, enable, delete', async () => {
    const add = ok(await cli(['rule', 'add', 'cli-rule', '--match', '{"type":["order.created"],"data":{"total":[{"numeric":[">",100]}]}}', 'notify']));
    assert.equal(add.stdout, 'Added rule cli-rule: {"type":["order.created"],"data":{"total":[{"numeric":[">",100]}]}} → notify\n');
    const list = ok(await cli(['rule', 'list']));
    assert.match(list.stdout, /^NAME +FUNCTION +STATE +PATTERN +CREATED\n/);
    assert.match(list.stdout, /cli-rule +notify +enabled +\{"type":\["order\.created"\]/);
    const get = ok(await cli(['rule', 'get', 'cli-rule']));
    assert.match(get.stdout, /Rule: +cli-rule\nFunction: +notify\nState: +enabled\n/);
    assert.match(ok(await cli(['rule', 'disable', 'cli-rule'])).stdout, /^Disabled rule cli-rule\n$/);
    assert.equal(JSON.parse(ok(await cli(['--json', 'rule', 'get', 'cli-rule'])).stdout).rule.enabled, false);
    assert.match(ok(await cli(['rule', 'enable', 'cli-rule'])).stdout, /^Enabled rule cli-rule\n$/);
    assert.match(ok(await cli(['rule', 'delete', 'cli-rule'])).stdout, /^Deleted rule cli-rule\n$/);
  });

  test('rule add errors: a malformed pattern names the problem; bad JSON is a usage error', async () => {
    const bad = await cli(['rule', 'add', 'x', '--match', '{"data":{"total":[{"numeric":[">"]}]}}', 'notify']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /pattern\.data\.total\[0\]: numeric needs operator\/value pairs like \[">", 100\]/);
    const notJson = await cli(['rule', 'add', 'x', '--match', '{type:', 'notify']);
    assert.equal(notJson.code, 2);
    assert.match(notJson.stderr, /invalid JSON in --match/);
    const unknown = await cli(['rule', 'add', 'x', '--match', '{"type":["a"]}', 'ghost']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /function ghost does not exist/);
  });

  test('rule test exits 0 on a match and 1 otherwise', async () => {
    const yes = await cli(['rule', 'test', '--match', '{"data":{"total":[{"numeric":[">",100]}]}}', '--event', '{"data":{"total":150}}']);
    assert.equal(yes.code, 0, yes.stderr);
    assert.equal(yes.stdout, 'matched\n');
    const no = await cli(['rule', 'test', '--match', '{"data":{"total":[{"numeric":[">",100]}]}}', '--event', '{"data":{"total":5}}']);
    assert.equal(no.code, 1);
    assert.equal(no.stdout, 'no match\n');
  });

  test('event publish generates the id and sends a CloudEvent', async () => {
    const r = ok(await cli(['--json', 'event', 'publish', '--type', 'nobody.listens', '--source', 'cli', '--data', '{"n":1}']));
    const body = JSON.parse(r.stdout) as { id: string; matched: string[] };
    assert.match(body.id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(body.matched, []);
    const human = ok(await cli(['event', 'publish', '--type', 'nobody.listens', '--source', 'cli', '--id', 'fixed-1']));
    assert.equal(human.stdout, 'Published event fixed-1: no rule matched (list rules with `aviary rule list`)\n');
    ok(await cli(['rule', 'add', 'cli-pub', '--match', '{"source":["cli-match"]}', 'notify']));
    const matched = ok(await cli(['event', 'publish', '--type', 'ping', '--source', 'cli-match', '--id', 'cli-2', '--subject', 's/1', '--data', '{"n":2}']));
    assert.match(matched.stdout, /^Published event cli-2: matched 1 rule\n  cli-pub → invocation [0-9a-f-]{36}\n$/);
    const id = /invocation (\S+)/.exec(matched.stdout)![1]!;
    const done = await finished(id);
    assert.equal(done.result.subject, 's/1');
    assert.deepEqual(done.result.data, { n: 2 });
    assert.equal(done.result.datacontenttype, 'application/json');
    ok(await cli(['rule', 'delete', 'cli-pub']));
    const bad = await cli(['event', 'publish', '--type', 'x', '--source', 'cli', '--data', '{oops']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid JSON in --data/);
  });
});
