import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteDatabase, SqliteStore } from '../../src/store/index.ts';
import { storeContract } from '../contract/store.contract.ts';

storeContract('SqliteStore (file)', async () => {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'aviary-store-')), 'aviary.db');
  return { store: new SqliteStore(new SqliteDatabase(file)), reopen: async () => new SqliteStore(new SqliteDatabase(file)) };
});
