import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store, VersionRecord } from '../../src/store/index.ts';

/**
 * The contract every Store implementation passes (SQLite now; PostgreSQL runs the same suite).
 * `open` returns a fresh, empty store; `reopen` (when the backend persists) opens the same data again.
 */
export function storeContract(name: string, open: () => Promise<{ store: Store; reopen?: () => Promise<Store> }>): void {
  const version = (overrides: Partial<VersionRecord> = {}): Omit<VersionRecord, 'functionId' | 'version' | 'createdAt'> => ({
    runtime: 'node', handler: 'index.handler', memory: 128, timeout: 3, env: { A: '1' }, maxInstances: 10, minWarm: 0,
    description: '', packageDigest: `sha256:${'a'.repeat(64)}`, buildId: 'b1', codeSize: 10, ...overrides,
  });

  describe(`Store contract: ${name}`, () => {
    it('numbers versions per function from 1 and creates the function on its first version', async () => {
      const { store } = await open();
      const a1 = await store.createVersion({ id: 'fa', namespace: 'default', name: 'a' }, version(), 1000);
      const a2 = await store.createVersion({ id: 'ignored', namespace: 'default', name: 'a' }, version({ memory: 256 }), 2000);
      const b1 = await store.createVersion({ id: 'fb', namespace: 'default', name: 'b' }, version(), 3000);
      assert.equal(a1.version.version, 1);
      assert.equal(a2.version.version, 2);
      assert.equal(a2.function.id, 'fa', 'an existing function keeps its id');
      assert.equal(a2.function.latestVersion, 2);
      assert.equal(a2.function.createdAt, 1000);
      assert.equal(a2.function.updatedAt, 2000);
      assert.equal(b1.version.version, 1);
      const versions = await store.listVersions();
      assert.deepEqual(versions.filter((v) => v.functionId === 'fa').map((v) => [v.version, v.memory]), [[1, 128], [2, 256]]);
      assert.deepEqual(versions[0]!.env, { A: '1' });
      assert.deepEqual((await store.listFunctions()).map((f) => f.name), ['a', 'b']);
      await store.close();
    });

    it('deletes a function with its versions and routes, and nothing else', async () => {
      const { store } = await open();
      await store.createVersion({ id: 'fa', namespace: 'default', name: 'a' }, version(), 1);
      await store.createVersion({ id: 'fb', namespace: 'default', name: 'b' }, version(), 1);
      await store.createRoute({ id: 'r1', namespace: 'default', method: 'GET', path: '/a', functionId: 'fa', qualifier: null, createdAt: 1 });
      await store.createRoute({ id: 'r2', namespace: 'default', method: 'GET', path: '/b', functionId: 'fb', qualifier: '1', createdAt: 1 });
      await store.deleteFunction('fa');
      assert.deepEqual((await store.listFunctions()).map((f) => f.id), ['fb']);
      assert.deepEqual((await store.listVersions()).map((v) => v.functionId), ['fb']);
      assert.deepEqual((await store.listRoutes()).map((r) => [r.id, r.qualifier]), [['r2', '1']]);
      await store.close();
    });

    it('refuses a second route with the same method and path', async () => {
      const { store } = await open();
      await store.createVersion({ id: 'fa', namespace: 'default', name: 'a' }, version(), 1);
      await store.createRoute({ id: 'r1', namespace: 'default', method: 'GET', path: '/a', functionId: 'fa', qualifier: null, createdAt: 1 });
      await assert.rejects(store.createRoute({ id: 'r2', namespace: 'default', method: 'GET', path: '/a', functionId: 'fa', qualifier: null, createdAt: 2 }));
      assert.equal((await store.listRoutes()).length, 1);
      await store.deleteRoute('r1');
      assert.equal((await store.listRoutes()).length, 0);
      await store.close();
    });

    it('finds keys by token hash only', async () => {
      const { store } = await open();
      assert.equal(await store.countKeys(), 0);
      await store.createKey({ id: 'k1', namespace: 'default', role: 'admin', tokenHash: 'h1', description: 'd', createdAt: 5 });
      assert.equal(await store.countKeys(), 1);
      assert.equal((await store.findKeyByTokenHash('h1'))?.id, 'k1');
      assert.equal(await store.findKeyByTokenHash('h2'), undefined);
      await store.close();
    });

    it('finds keys by id with their sealed SigV4 secret (null when the key has none)', async () => {
      const { store } = await open();
      await store.createKey({ id: 'k1', namespace: 'default', role: 'admin', tokenHash: 'h1', description: '', createdAt: 1, sigv4Secret: 'v1.sealed' });
      await store.createKey({ id: 'k2', namespace: 'default', role: 'invoker', tokenHash: 'h2', description: '', createdAt: 2 });
      assert.equal((await store.findKeyById('k1'))?.sigv4Secret, 'v1.sealed');
      assert.equal((await store.findKeyByTokenHash('h1'))?.sigv4Secret, 'v1.sealed');
      assert.equal((await store.findKeyById('k2'))?.sigv4Secret, null);
      assert.equal(await store.findKeyById('k3'), undefined);
      await store.close();
    });

    it('returns the newest log lines oldest first, filters by invocation and time, and prunes old records', async () => {
      const { store } = await open();
      const line = (i: number, inv: string) => ({ invocationId: inv, functionId: 'fa', version: 1, time: i * 1000, stream: 'stdout' as const, message: `line ${i}` });
      await store.insertLogs([1, 2, 3, 4, 5].map((i) => line(i, i % 2 ? 'odd' : 'even')));
      assert.deepEqual((await store.queryLogs({ functionId: 'fa', limit: 2 })).map((l) => l.message), ['line 4', 'line 5']);
      assert.deepEqual((await store.queryLogs({ functionId: 'fa', invocationId: 'even', limit: 10 })).map((l) => l.message), ['line 2', 'line 4']);
      assert.deepEqual((await store.queryLogs({ functionId: 'fa', since: 4000, limit: 10 })).map((l) => l.message), ['line 4', 'line 5']);
      assert.deepEqual(await store.queryLogs({ functionId: 'other', limit: 10 }), []);
      await store.insertInvocations([{ id: 'i1', namespace: 'default', functionId: 'fa', version: 1, source: 'api', status: 'succeeded', cold: true, startedAt: 1000, durationMs: 1.5, initMs: 3, errorType: null, errorMessage: null }]);
      const removed = await store.prune(3500);
      assert.equal(removed, 4, '3 log lines and 1 invocation are older than the cut-off');
      assert.deepEqual((await store.queryLogs({ functionId: 'fa', limit: 10 })).map((l) => l.message), ['line 4', 'line 5']);
      await store.close();
    });

    it('keeps its data across a reopen and does not re-apply migrations', async (t) => {
      const { store, reopen } = await open();
      if (!reopen) {
        t.diagnostic('backend does not persist across opens');
        await store.close();
        return;
      }
      await store.createVersion({ id: 'fa', namespace: 'default', name: 'a' }, version(), 1);
      await store.close();
      const again = await reopen();
      assert.deepEqual((await again.listFunctions()).map((f) => f.name), ['a']);
      await again.close();
    });
  });
}
