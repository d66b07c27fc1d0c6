// Unused code is removed (src/blobs/gc.ts), through a real server and its data folder: after a
// delete, uploads and builds no version uses and that were last used over an hour ago are gone;
// code in use, fresh uploads and uploads just asked about stay. "An hour ago" is made by setting
// the files' times back, as the clock cannot be moved for a real server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { startServer, type RunningServer } from '../helpers/server.ts';
import { TestApi, waitFor } from '../helpers/api.ts';
import { zipFromEntries } from '../helpers/zip.ts';

let server: RunningServer;
let api: TestApi;

before(async () => {
  server = await startServer();
  api = new TestApi(server.url, server.adminKey);
});
after(async () => {
  await server?.stop();
});

const code = (word: string) => zipFromEntries([{ name: 'index.js', content: `exports.handler = async () => '${word}';\n` }]);
const blobFile = (digest: string): string => path.join(server.dataDir, 'blobs', digest.slice(7, 9), digest.slice(7));
const builds = (): string[] => readdirSync(path.join(server.dataDir, 'packages')).filter((n) => /^[0-9a-f]{40}$/.test(n)).sort();

/** Sets a file's (or folder's) times two hours back: unused for longer than the hour's grace. */
function age(file: string): void {
  const then = new Date(Date.now() - 2 * 3600_000);
  utimesSync(file, then, then);
}

async function deploy(name: string, zip: Buffer): Promise<{ digest: string; build: string }> {
  const before = builds();
  const digest = await api.upload(zip);
  const r = await api.request('POST', `/v1/functions/${name}/versions`, { runtime: 'node', handler: 'index.handler', package: digest });
  assert.equal(r.status, 201, r.text);
  const added = builds().filter((b) => !before.includes(b));
  assert.equal(added.length, 1, `one new build for ${name}`);
  return { digest, build: added[0]! };
}

/** Deletes a function, which starts a collection pass, and waits until every one of `gone` is gone. */
async function deleteAndWait(name: string, gone: string[]): Promise<void> {
  assert.equal((await api.request('DELETE', `/v1/functions/${name}`)).status, 204);
  assert.ok(await waitFor(async () => gone.every((f) => !existsSync(f)), 10_000, 50), `not removed: ${gone.filter((f) => existsSync(f)).join(', ')}`);
}

describe('unused code', () => {
  test('after a delete, its upload and build go once unused for an hour; code in use and fresh uploads stay', async () => {
    const a = await deploy('gc-a', await code('a'));
    const b = await deploy('gc-b', await code('b'));
    const old = await api.upload(await code('uploaded, never deployed'));
    for (const file of [blobFile(a.digest), blobFile(b.digest), blobFile(old)]) age(file);
    for (const build of [a.build, b.build]) age(path.join(server.dataDir, 'packages', build));
    const fresh = await api.upload(await code('uploaded just now'));

    // the deleted function's upload, build and build metadata, and an old upload no version uses
    await deleteAndWait('gc-a', [blobFile(a.digest), path.join(server.dataDir, 'packages', a.build), path.join(server.dataDir, 'packages', `${a.build}.json`), blobFile(old)]);
    assert.equal(existsSync(blobFile(b.digest)), true, 'an upload in use, however old');
    assert.equal(existsSync(path.join(server.dataDir, 'packages', b.build)), true, 'a build in use, however old');
    assert.equal(existsSync(blobFile(fresh)), true, 'an upload younger than an hour');
    assert.ok(existsSync(path.join(server.dataDir, 'packages', 'package.json')), 'the packages folder keeps its own files');

    assert.equal((await api.invoke('gc-b')).json.result, 'b');
    // gone means gone: the package must be uploaded again, and then deploys and runs as before
    assert.equal((await api.request('HEAD', `/v1/packages/${a.digest}`)).status, 404);
    assert.equal((await api.request('POST', '/v1/functions/gc-a/versions', { runtime: 'node', handler: 'index.handler', package: a.digest })).status, 404);
    await deploy('gc-a', await code('a'));
    assert.equal((await api.invoke('gc-a')).json.result, 'a');
  });

  test('asking whether a package is stored (aviary deploy does, before it skips an upload) renews it for another hour', async () => {
    const asked = await api.upload(await code('asked about'));
    age(blobFile(asked));
    assert.equal((await api.request('HEAD', `/v1/packages/${asked}`)).status, 200);
    // two passes, one after the other: once the second has removed its trigger's upload, the
    // first has looked at every file
    for (const name of ['gc-trigger-1', 'gc-trigger-2']) {
      const trigger = await deploy(name, await code(name));
      age(blobFile(trigger.digest));
      await deleteAndWait(name, [blobFile(trigger.digest)]);
    }
    assert.equal(existsSync(blobFile(asked)), true, 'the upload asked about is kept');
    assert.equal((await api.request('POST', '/v1/functions/gc-asked/versions', { runtime: 'node', handler: 'index.handler', package: asked })).status, 201);
  });
});
