// The event bus and its rules on a real registry and SQLite database (in memory), with a
// recording AsyncInvoker double standing in for the durable queue.
import { beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AsyncEventInput, AsyncInvoker, EnqueueResult } from '../../src/async/types.ts';
import { Registry } from '../../src/registry/index.ts';
import { isAviaryError } from '../../src/shared/errors.ts';
import { SqliteDatabase, SqliteStore } from '../../src/store/index.ts';
import { EventBus, Rules, SqliteRuleStore, type CloudEvent } from '../../src/triggers/events/index.ts';

/** Records every enqueue; honours idempotency keys as the contract says. */
class RecordingInvoker implements AsyncInvoker {
  readonly calls: AsyncEventInput[] = [];
  readonly #keys = new Map<string, string>();

  async enqueue(input: AsyncEventInput): Promise<EnqueueResult> {
    const key = input.idempotencyKey === undefined ? undefined : `${input.namespace}/${input.functionRef}/${input.idempotencyKey}`;
    const seen = key === undefined ? undefined : this.#keys.get(key);
    if (seen) return { id: seen, duplicate: true };
    this.calls.push(input);
    const id = `inv-${this.calls.length}`;
    if (key !== undefined) this.#keys.set(key, id);
    return { id, duplicate: false };
  }
}

const NS = 'default';
const preparer = { prepare: async () => ({ buildId: 'b', codeSize: 1, warnings: [] }) };
const config = { runtime: 'node', handler: 'index.handler', package: `sha256:${'a'.repeat(64)}` };

let database: SqliteDatabase;
let store: SqliteStore;
let registry: Registry;
let rules: Rules;
let invoker: RecordingInvoker;
let bus: EventBus;

beforeEach(async () => {
  database = new SqliteDatabase(':memory:');
  store = new SqliteStore(database);
  registry = await Registry.load(store);
  for (const name of ['notify', 'audit']) await registry.deploy(NS, name, config, preparer);
  rules = await Rules.load({ store: new SqliteRuleStore(database), functions: registry });
  invoker = new RecordingInvoker();
  bus = new EventBus({ rules, invoker });
});

function order(total: number, id = `o-${total}`): CloudEvent {
  return { specversion: '1.0', id, source: 'shop', type: 'order.created', data: { total } };
}

async function addRules(): Promise<void> {
  await rules.create(NS, { name: 'big-orders', pattern: { type: ['order.created'], data: { total: [{ numeric: ['>', 100] }] } }, function: 'notify' });
  await rules.create(NS, { name: 'all-orders', pattern: { type: [{ prefix: 'order.' }] }, function: 'audit:1' });
  await rules.create(NS, { name: 'users', pattern: { type: ['user.created'] }, function: 'notify' });
}

/** The ValidationError (or other AviaryError) a call fails with. */
async function failure(p: Promise<unknown>): Promise<{ code: string; issues: { path: string; message: string }[]; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(isAviaryError(err), String(err));
    return { code: err.code, issues: err.issues ?? [], message: err.message };
  }
  assert.fail('did not fail');
}

describe('EventBus.publish', () => {
  test('fans a matching event out: one async invocation per matching rule, the CloudEvent as the event', async () => {
    await addRules();
    const event = order(150);
    const r = await bus.publish(NS, event);
    assert.deepEqual(r, { id: 'o-150', matched: ['all-orders', 'big-orders'], invocations: ['inv-1', 'inv-2'], duplicate: false });
    assert.deepEqual(invoker.calls, [
      { namespace: NS, functionRef: 'audit:1', eventJson: JSON.stringify(event), source: 'event', idempotencyKey: invoker.calls[0]!.idempotencyKey },
      { namespace: NS, functionRef: 'notify', eventJson: JSON.stringify(event), source: 'event', idempotencyKey: invoker.calls[1]!.idempotencyKey },
    ]);
    assert.notEqual(invoker.calls[0]!.idempotencyKey, invoker.calls[1]!.idempotencyKey);
  });

  test('a rule whose pattern does not match gets nothing', async () => {
    await addRules();
    const r = await bus.publish(NS, order(50));
    assert.deepEqual(r.matched, ['all-orders']);
    assert.deepEqual(invoker.calls.map((c) => c.functionRef), ['audit:1']);
  });

  test('no rule matches: nothing is queued', async () => {
    await addRules();
    const r = await bus.publish(NS, { specversion: '1.0', id: 'x', source: 'crm', type: 'lead.won' });
    assert.deepEqual(r, { id: 'x', matched: [], invocations: [], duplicate: false });
    assert.equal(invoker.calls.length, 0);
  });

  test('the same event (source and id) published again is not delivered again', async () => {
    await addRules();
    const first = await bus.publish(NS, order(150, 'same'));
    const again = await bus.publish(NS, order(150, 'same'));
    assert.deepEqual(again, { ...first, duplicate: true });
    assert.equal(invoker.calls.length, 2);
    await bus.publish(NS, { ...order(150, 'same'), source: 'other-shop' });
    assert.equal(invoker.calls.length, 4, 'another source is another event');
  });

  test('disabled rules are skipped until enabled again', async () => {
    await addRules();
    await rules.setEnabled(NS, 'big-orders', false);
    assert.deepEqual((await bus.publish(NS, order(150, 'a'))).matched, ['all-orders']);
    await rules.setEnabled(NS, 'big-orders', true);
    assert.deepEqual((await bus.publish(NS, order(150, 'b'))).matched, ['all-orders', 'big-orders']);
  });

  test('rules only see events of their namespace', async () => {
    await addRules();
    assert.deepEqual((await bus.publish('elsewhere', order(150))).matched, []);
  });
});

describe('Rules', () => {
  test('create validates everything and changes nothing on error', async () => {
    await addRules();
    const before = await new SqliteRuleStore(database).listRules();

    let f = await failure(rules.create(NS, { name: 'x', pattern: { type: ['a'] }, function: 'ghost' }));
    assert.equal(f.code, 'ValidationError');
    assert.deepEqual(f.issues.map((i) => i.path), ['function']);
    assert.match(f.issues[0]!.message, /function ghost does not exist/);

    f = await failure(rules.create(NS, { name: 'x', pattern: { type: ['a'] }, function: 'notify:7' }));
    assert.deepEqual(f.issues.map((i) => i.path), ['function']);
    assert.match(f.issues[0]!.message, /no version "7"/);

    f = await failure(rules.create(NS, { name: 'x', pattern: { data: { total: [{ numeric: ['>'] }] } }, function: 'notify' }));
    assert.deepEqual(f.issues.map((i) => i.path), ['pattern.data.total[0]']);
    assert.match(f.message, /^invalid rule: pattern\.data\.total\[0\]: numeric needs operator\/value pairs like \[">", 100\]/);

    f = await failure(rules.create(NS, { name: 'x', pattern: '{"type": [', function: 'notify' }));
    assert.deepEqual(f.issues.map((i) => i.path), ['pattern']);
    assert.match(f.issues[0]!.message, /is not valid JSON/);

    f = await failure(rules.create(NS, { name: 'bad name!', pattern: { type: ['a'] }, function: 'notify', extra: 1 }));
    assert.deepEqual(f.issues.map((i) => i.path).sort(), ['extra', 'name']);

    f = await failure(rules.create(NS, { name: 'x' }));
    assert.deepEqual(f.issues.map((i) => i.path).sort(), ['function', 'pattern']);

    f = await failure(rules.create(NS, { name: 'big-orders', pattern: { type: ['a'] }, function: 'notify' }));
    assert.equal(f.code, 'RuleConflict');

    assert.deepEqual(await new SqliteRuleStore(database).listRules(), before);
    assert.deepEqual(rules.list(NS).map((e) => e.record.name), ['all-orders', 'big-orders', 'users']);
  });

  test('a pattern may be given as JSON text, and is stored as JSON', async () => {
    const entry = await rules.create(NS, { name: 'text', pattern: '{"type":["a"]}', function: 'notify:$LATEST', enabled: false, description: 'd' });
    assert.deepEqual(entry.pattern, { type: ['a'] });
    assert.equal(entry.record.qualifier, null);
    assert.equal(entry.record.enabled, false);
    assert.equal(rules.functionRef(entry.record), 'notify');
  });

  test('rules survive a restart: reloaded from the store, compiled again', async () => {
    await addRules();
    await rules.setEnabled(NS, 'users', false);
    const reloaded = await Rules.load({ store: new SqliteRuleStore(database), functions: registry });
    assert.deepEqual(reloaded.list(NS).map((e) => [e.record.name, e.record.enabled, rules.functionRef(e.record)]), [
      ['all-orders', true, 'audit:1'], ['big-orders', true, 'notify'], ['users', false, 'notify'],
    ]);
    assert.deepEqual(reloaded.match(NS, order(150)).map((e) => e.record.name), ['all-orders', 'big-orders']);
  });

  test('deleting a function deletes its rules, in the store and in memory', async () => {
    await addRules();
    await registry.deleteFunction(NS, 'notify');
    assert.deepEqual(rules.list(NS).map((e) => e.record.name), ['all-orders']);
    assert.deepEqual((await new SqliteRuleStore(database).listRules()).map((r) => r.name), ['all-orders']);
    assert.deepEqual((await bus.publish(NS, order(150))).matched, ['all-orders']);
  });

  test('get, delete, and unknown names', async () => {
    await addRules();
    assert.equal(rules.get(NS, 'users').record.name, 'users');
    await rules.delete(NS, 'users');
    assert.equal((await failure(Promise.resolve().then(() => rules.get(NS, 'users')))).code, 'RuleNotFound');
    assert.equal((await failure(rules.delete(NS, 'users'))).code, 'RuleNotFound');
    assert.equal((await failure(rules.setEnabled(NS, 'users', true))).code, 'RuleNotFound');
  });

  test('test: a pattern against any event, nothing stored', async () => {
    assert.equal(rules.test({ pattern: { data: { total: [{ numeric: ['>', 100] }] } }, event: { data: { total: 101 } } }), true);
    assert.equal(rules.test({ pattern: '{"type":["a"]}', event: { type: 'b' } }), false);
    const f = await failure(Promise.resolve().then(() => rules.test({ pattern: { type: 'a' }, event: {} })));
    assert.deepEqual(f.issues.map((i) => i.path), ['pattern.type']);
    const g = await failure(Promise.resolve().then(() => rules.test({ pattern: { type: ['a'] } })));
    assert.deepEqual(g.issues.map((i) => i.path), ['event']);
    assert.equal(rules.list(NS).length, 0);
  });
});
