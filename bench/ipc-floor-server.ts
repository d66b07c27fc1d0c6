/**
 * The IPC floor: the least a Node gateway can do when, as in Aviary, every request is run by
 * another process, one at a time per process. `N` worker processes (bench/ipc-floor-worker.ts,
 * the same hello handler) get one JSON line per request on fd 3 and answer on fd 4; each holds
 * at most `DEPTH` requests (the one it runs plus those queued behind it, as Aviary's
 * `--instance-queue`), under SCHED_BATCH as Aviary's instances. No sandbox, no API Gateway event, no records, no timeouts, no limits:
 * a reference for what the process hand-off itself costs on this machine, not a design.
 *
 * Usage: node bench/ipc-floor-server.ts N DEPTH — prints `listening PORT`, stops on SIGTERM/SIGINT.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import path from 'node:path';

const workers = Number(process.argv[2] ?? 2);
const depth = Number(process.argv[3] ?? 2);

interface Worker {
  child: ChildProcess;
  input: Writable;
  waiting: ServerResponse[];
  rest: string;
}

const batch = spawnSync('chrt', ['--batch', '0', 'true']).status === 0;
const queue: { frame: string; res: ServerResponse }[] = [];
const pool: Worker[] = [];
for (let i = 0; i < workers; i++) {
  // under SCHED_BATCH where chrt exists, as Aviary's instances (src/sandbox/sandbox.ts)
  const argv = [process.execPath, path.join(import.meta.dirname, 'ipc-floor-worker.ts')];
  const command = batch ? ['chrt', '--batch', '0', ...argv] : argv;
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'pipe', 'pipe'] });
  const w: Worker = { child, input: child.stdio[3] as Writable, waiting: [], rest: '' };
  (child.stdio[4] as Readable).on('data', (chunk: Buffer) => {
    const lines = (w.rest + chunk.toString('utf8')).split('\n');
    w.rest = lines.pop()!;
    for (const line of lines) answer(w.waiting.shift()!, line);
    while (w.waiting.length < depth && queue.length > 0) send(w, queue.shift()!);
  });
  pool.push(w);
}

function send(w: Worker, job: { frame: string; res: ServerResponse }): void {
  w.waiting.push(job.res);
  w.input.write(job.frame);
}

function answer(res: ServerResponse, line: string): void {
  const r = (JSON.parse(line) as { result: { statusCode: number; headers: Record<string, string>; body: string } }).result;
  res.writeHead(r.statusCode, { ...r.headers, 'content-length': Buffer.byteLength(r.body) });
  res.end(r.body);
}

const server = createServer((req, res) => {
  req.resume();
  const job = { frame: `${JSON.stringify({ rawPath: req.url, headers: req.headers })}\n`, res };
  let best: Worker | undefined;
  for (const w of pool) if (w.waiting.length < depth && (!best || w.waiting.length < best.waiting.length)) best = w;
  if (best) send(best, job);
  else queue.push(job);
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    for (const w of pool) w.child.kill('SIGKILL');
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
