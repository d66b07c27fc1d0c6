// A worker of bench/ipc-floor-server.ts: one request per line on fd 3, run one at a time by the
// benchmark's hello handler, each answer one line written synchronously on fd 4.
import { writeSync } from 'node:fs';
import { Socket } from 'node:net';

const handler = async (_event: unknown): Promise<unknown> => ({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"message":"hello"}' });

const lines: string[] = [];
let rest = '';
let running = false;
const input = new Socket({ fd: 3, readable: true, writable: false });
input.on('data', (chunk: Buffer) => {
  const parts = (rest + chunk.toString('utf8')).split('\n');
  rest = parts.pop()!;
  for (const p of parts) lines.push(p);
  if (!running) void run();
});
input.on('end', () => process.exit(0));

async function run(): Promise<void> {
  running = true;
  while (lines.length > 0) {
    const event = JSON.parse(lines.shift()!) as unknown;
    const result = await handler(event);
    writeSync(4, `${JSON.stringify({ result })}\n`);
  }
  running = false;
}
