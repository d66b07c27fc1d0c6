/**
 * Starts a reference server (bench/baseline-server.ts, bench/ipc-floor-server.ts) as a child
 * process with the same Node binary, and stops it by PID.
 */
import path from 'node:path';
import { spawnTracked } from './procs.ts';

export interface Baseline {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startBaseline(script: string, args: string[] = []): Promise<Baseline> {
  const child = spawnTracked(path.basename(script, '.ts'), process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${path.basename(script)} did not start within 10 s:\n${output}`)), 10_000);
    const onData = (c: Buffer): void => {
      output += c.toString();
      const m = /listening (\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(script)} exited (code ${code}) before listening:\n${output}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
