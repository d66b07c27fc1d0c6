import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AviaryError } from '../shared/errors.ts';
import { isRunning } from '../shared/pids.ts';

/**
 * One server per data folder: a second one would share the SQLite file but not the in-memory
 * registry, and would clear the first one's sandbox mounts. A pid file says who holds it; a
 * pid that no longer runs is a stale lock left by a crash and is taken over.
 */
export function lockDataDir(dataDir: string): () => void {
  const file = path.join(dataDir, 'server.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () => {
        try {
          if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isRunning(pid)) {
        throw new AviaryError('Unavailable', `the data folder ${dataDir} is in use by another Aviary server (pid ${pid}); stop it, or start this one with --data DIR`);
      }
      unlinkSync(file); // stale: its server is gone
    }
  }
  throw new AviaryError('Unavailable', `could not lock the data folder ${dataDir} (${file})`);
}
