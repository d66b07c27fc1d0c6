// API keys with SigV4 secrets (src/auth): the master key, sealed secrets, the first-start admin
// key's credentials and authenticating signed requests against the store, with an injected clock.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { EMPTY_SHA256, Keys, SecretBox, SignatureError, setUpAdmin, type SignedRequest } from '../../src/auth/index.ts';
import { SqliteDatabase, SqliteStore } from '../../src/store/index.ts';
import { systemClock, type Clock } from '../../src/shared/clock.ts';
import { Sha256 } from '../helpers/sigv4.ts';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'aviary-keys-'));

describe('SecretBox (master.key)', () => {
  test('created once with mode 0600, then read back: what it sealed opens after a restart', () => {
    const file = path.join(tmp(), 'master.key');
    const box = SecretBox.loadOrCreate(file);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const sealed = box.seal('s3cret', 'key_1');
    assert.match(sealed, /^v1\./);
    assert.ok(!sealed.includes('s3cret'));
    assert.notEqual(box.seal('s3cret', 'key_1'), sealed, 'a fresh IV each time');
    assert.equal(SecretBox.loadOrCreate(file).open(sealed, 'key_1'), 's3cret');
  });

  test('a secret moved to another key, or opened with another master key, does not open', () => {
    const box = SecretBox.loadOrCreate(path.join(tmp(), 'master.key'));
    const sealed = box.seal('s3cret', 'key_1');
    assert.throws(() => box.open(sealed, 'key_2'), /master.key/);
    assert.throws(() => SecretBox.loadOrCreate(path.join(tmp(), 'master.key')).open(sealed, 'key_1'), /not the key it was encrypted with/);
  });

  test('a damaged master key file is an error that says what to do', () => {
    const file = path.join(tmp(), 'master.key');
    writeFileSync(file, 'short\n');
    assert.throws(() => SecretBox.loadOrCreate(file), /restore it from a backup/);
  });
});

function keysFor(clock: Clock = systemClock): { keys: Keys; store: SqliteStore; dir: string } {
  const dir = tmp();
  const store = new SqliteStore(new SqliteDatabase(':memory:'));
  return { keys: new Keys(store, { secrets: SecretBox.loadOrCreate(path.join(dir, 'master.key')), clock }), store, dir };
}

describe('the first-start admin key', () => {
  test('gets a random SigV4 secret, stored sealed; files admin.key and admin.credentials are written 0600', async () => {
    const { keys, store, dir } = keysFor();
    const setup = await setUpAdmin(keys, dir, {}, 1000);
    assert.ok(setup.adminKey?.startsWith('avk_'));
    const creds = setup.adminCredentials!;
    assert.match(creds.accessKeyId, /^key_[0-9a-f]{16}$/);
    assert.equal(creds.secretAccessKey.length, 40);
    const sealed = (await store.findKeyById(creds.accessKeyId))?.sigv4Secret ?? '';
    assert.ok(sealed.startsWith('v1.'), sealed);
    assert.ok(!sealed.includes(creds.secretAccessKey));
    const file = readFileSync(path.join(dir, 'admin.credentials'), 'utf8');
    assert.match(file, new RegExp(`^\\[default\\]\\naws_access_key_id = ${creds.accessKeyId}\\naws_secret_access_key = ${creds.secretAccessKey.replaceAll('-', '\\-')}$`, 'm'));
    assert.equal(statSync(path.join(dir, 'admin.credentials')).mode & 0o777, 0o600);
    assert.equal(readFileSync(path.join(dir, 'admin.key'), 'utf8'), `${setup.adminKey}\n`);
    assert.deepEqual(await setUpAdmin(keys, dir, {}, 2000), { adminKey: undefined, adminCredentials: undefined }, 'only on the first start');
  });

  test('presets are used as given; the secret is never derived from the bearer token', async () => {
    const { keys } = keysFor();
    const a = await keys.createFirstAdmin({ token: 'tok', accessKeyId: 'AKIDPRESET', secretAccessKey: 'preset-secret-0123456789' }, 1);
    assert.deepEqual(a, { token: 'tok', credentials: { accessKeyId: 'AKIDPRESET', secretAccessKey: 'preset-secret-0123456789' } });
    const b = await keysFor().keys.createFirstAdmin({ token: 'tok' }, 1);
    const c = await keysFor().keys.createFirstAdmin({ token: 'tok' }, 1);
    assert.notEqual(b?.credentials?.secretAccessKey, c?.credentials?.secretAccessKey);
    assert.equal((await keys.authenticate('Bearer tok')).keyId, 'AKIDPRESET', 'the bearer token still works');
  });
});

describe('Keys.beginSigV4', () => {
  const date = new Date('2026-05-01T12:00:00Z');
  const clock: Clock = { ...systemClock, now: () => date.getTime() };

  async function signed(accessKeyId: string, secretAccessKey: string, body: string): Promise<SignedRequest> {
    const signer = new SignatureV4({ service: 'lambda', region: 'us-east-1', credentials: { accessKeyId, secretAccessKey }, sha256: Sha256 });
    const r = await signer.sign({ method: 'POST', protocol: 'http:', hostname: 'h', path: '/2015-03-31/functions/f/invocations', query: {}, headers: { host: 'h' }, body }, { signingDate: date });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.headers)) headers[k.toLowerCase()] = String(v);
    return { method: 'POST', path: '/2015-03-31/functions/f/invocations', query: '', headers };
  }

  test("a request signed with a key's credentials authenticates as that key", async () => {
    const { keys } = keysFor(clock);
    await keys.createFirstAdmin({ token: 't', accessKeyId: 'AKIDONE', secretAccessKey: 'one-secret-0123456789' }, 1);
    const pending = await keys.beginSigV4(await signed('AKIDONE', 'one-secret-0123456789', '{"a":1}'));
    assert.deepEqual(pending.principal, { keyId: 'AKIDONE', namespace: 'default', role: 'admin' });
    assert.deepEqual(pending.verify(createHash('sha256').update('{"a":1}').digest('hex')), pending.principal);
    assert.throws(() => pending.verify(EMPTY_SHA256), SignatureError);
  });

  test('unknown access key id → UnrecognizedClientException; stale date → InvalidSignatureException', async () => {
    const { keys, store, dir } = keysFor(clock);
    await keys.createFirstAdmin({ token: 't', accessKeyId: 'AKIDONE', secretAccessKey: 'one-secret-0123456789' }, 1);
    await assert.rejects(keys.beginSigV4(await signed('AKIDOTHER', 'x'.repeat(20), '')), (e: any) => e.awsType === 'UnrecognizedClientException' && /AKIDOTHER/.test(e.message));
    const later: Clock = { ...clock, now: () => date.getTime() + 20 * 60_000 };
    const late = new Keys(store, { secrets: SecretBox.loadOrCreate(path.join(dir, 'master.key')), clock: later });
    await assert.rejects(late.beginSigV4(await signed('AKIDONE', 'one-secret-0123456789', '')), (e: any) => e.awsType === 'InvalidSignatureException' && /expired/.test(e.message));
  });

  test('without a master key, keys get no secret and SigV4 is refused', async () => {
    const keys = new Keys(new SqliteStore(new SqliteDatabase(':memory:')), { clock });
    const admin = await keys.createFirstAdmin({ token: 't', accessKeyId: 'AKIDNOSECRET' }, 1);
    assert.equal(admin?.credentials, undefined);
    await assert.rejects(keys.beginSigV4(await signed('AKIDNOSECRET', 'x'.repeat(20), '')), (e: any) => e.awsType === 'UnrecognizedClientException' && /bearer/.test(e.message));
  });
});
