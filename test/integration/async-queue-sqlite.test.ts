import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteQueue } from '../../src/async/index.ts';
import { SqliteDatabase } from '../../src/store/index.ts';
import { asyncQueueContract } from '../contract/async-queue.contract.ts';

asyncQueueContract('SqliteQueue (file)', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aviary-async-queue-'));
  const file = path.join(dir, 'aviary.db');
  const dbs = [new SqliteDatabase(file)];
  return {
    queue: new SqliteQueue(dbs[0]!),
    reopen: async () => {
      const db = new SqliteDatabase(file);
      dbs.push(db);
      return new SqliteQueue(db);
    },
    close: async () => {
      for (const db of dbs) db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
