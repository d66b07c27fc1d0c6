// The channel writer (src/sandbox/fd-writer.ts): frames of one event-loop turn go out together
// at the end of the turn; against a real pipe to a child process that starts reading late,
// frames larger than the pipe holds go partly through the stream, and later frames must follow
// them there, whole and in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { Writable as WritableStream } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import os from 'node:os';
import path from 'node:path';
import type { Writable, Readable } from 'node:stream';
import { FdWriter } from '../../src/sandbox/fd-writer.ts';

/** A child that waits `delayMs`, then copies everything from fd 3 to stdout until fd 3 ends. */
function lateReader(delayMs: number) {
  const script = `setTimeout(() => { const s = new (require('node:net').Socket)({ fd: 3, readable: true, writable: false }); s.pipe(process.stdout); }, ${delayMs});`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit', 'pipe'] });
  const chunks: Buffer[] = [];
  (child.stdout as Readable).on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<string>((resolve) => child.on('close', () => resolve(Buffer.concat(chunks).toString('utf8'))));
  return { pipe: child.stdio[3] as Writable, done };
}

test('frames over the pipe\'s capacity and the frames after them arrive whole and in order', async () => {
  const { pipe, done } = lateReader(300);
  const writer = new FdWriter(pipe);
  const frames = [`${'a'.repeat(1_000_000)}\n`, 'small-1\n', `${'é'.repeat(200_000)}\n`, 'small-2\n'];
  for (const f of frames) writer.write(f);
  await nextTurn();
  // the first frame did not fit in the pipe, so the rest is queued in the stream
  assert.ok(pipe.writableLength > 0, 'expected the stream to hold what the pipe could not take');
  pipe.end();
  assert.equal(await done, frames.join(''));
});

test('writing after the reader is gone neither throws nor reaches another descriptor', async () => {
  const { pipe, done } = lateReader(0);
  const writer = new FdWriter(pipe);
  writer.write('first\n');
  await nextTurn();
  pipe.destroy();
  writer.write('after destroy\n'); // goes to the destroyed stream, which drops it
  assert.equal(await done, 'first\n');
});

test('frames written in one turn are held until the turn ends, then sent together in order', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aviary-fd-writer-'));
  const file = path.join(dir, 'channel');
  const fd = openSync(file, 'w');
  try {
    // a stream whose live handle is a plain file: what FdWriter writes lands there
    const stream = Object.assign(new WritableStream({ write: (_c, _e, cb) => cb() }), { _handle: { fd } });
    const writer = new FdWriter(stream);
    writer.write('one\n');
    writer.write('two\n');
    assert.equal(readFileSync(file, 'utf8'), '', 'nothing is written before the turn ends');
    await nextTurn();
    assert.equal(readFileSync(file, 'utf8'), 'one\ntwo\n');
    writer.write('three\n');
    await nextTurn();
    assert.equal(readFileSync(file, 'utf8'), 'one\ntwo\nthree\n');
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});
