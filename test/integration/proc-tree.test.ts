// The memory watchdog's /proc reader (src/sandbox/proc-tree.ts), against real process trees:
// it finds every descendant, sees memory grow between reads of the same open files, drops the
// processes that exit (closing their files) and closes everything at the end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProcTreeReader } from '../../src/sandbox/proc-tree.ts';

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Reads until `check` holds (processes start and exit asynchronously), or fails after 5 s. */
async function readUntil(reader: ProcTreeReader, check: (tree: { pid: number; rssBytes: number }[]) => boolean, what: string) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const tree = reader.read();
    if (check(tree)) return tree;
    if (Date.now() > deadline) assert.fail(`${what}; last read: ${JSON.stringify(tree)}`);
    await sleep(20);
  }
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

test('reads a whole tree, follows a child that exits, and closes what it opened', async () => {
  // a shell with two sleeping children, one of which is ended early
  const root = spawn('sh', ['-c', 'sleep 30 & echo $!; sleep 30 & wait'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  const firstChild = await new Promise<number>((resolve) => root.stdout!.once('data', (c: Buffer) => resolve(Number(c.toString().trim()))));
  const before = openFds();
  const reader = new ProcTreeReader(root.pid!);
  try {
    const tree = await readUntil(reader, (t) => t.length === 3, 'expected the shell and its two sleeps');
    assert.equal(tree[0]!.pid, root.pid);
    assert.ok(tree.some((p) => p.pid === firstChild));
    for (const p of tree) assert.ok(p.rssBytes > 0, `process ${p.pid} should have resident memory`);
    assert.equal(openFds(), before + 2 * 3, 'two files per process stay open');

    process.kill(firstChild, 'SIGKILL');
    const after = await readUntil(reader, (t) => t.length === 2, 'expected the killed sleep to be left out');
    assert.ok(!after.some((p) => p.pid === firstChild));
    assert.equal(openFds(), before + 2 * 2, 'the files of the process that exited are closed');
    reader.close();
    assert.equal(openFds(), before, 'close() leaves no file open');
  } finally {
    reader.close();
    process.kill(-root.pid!, 'SIGKILL'); // the group: the sleeps too
    await exited(root);
  }
});

test('a process that grows is seen growing through the same open files', async () => {
  // allocates and touches 64 MB once told to on stdin, then waits
  const script = `process.stdin.once('data', () => { globalThis.b = Buffer.alloc(64 * 1024 * 1024, 1); console.log('grown'); }); console.log('ready');`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const said = (word: string) => new Promise<void>((resolve) => {
    const onData = (c: Buffer) => { if (c.toString().includes(word)) { child.stdout!.off('data', onData); resolve(); } };
    child.stdout!.on('data', onData);
  });
  const reader = new ProcTreeReader(child.pid!);
  try {
    await said('ready');
    const small = reader.read()[0]!.rssBytes;
    const grown = said('grown');
    child.stdin!.write('go\n');
    await grown;
    const large = reader.read()[0]!.rssBytes;
    assert.ok(large - small >= 60 * 1024 * 1024, `expected at least 60 MB more, got ${small} → ${large} bytes`);
  } finally {
    reader.close();
    child.kill('SIGKILL');
    await exited(child);
  }
});

test('a process that has exited reads as an empty tree', async () => {
  const before = openFds();
  const child = spawn('true');
  await exited(child);
  const reader = new ProcTreeReader(child.pid!);
  assert.deepEqual(reader.read(), []);
  reader.close();
  assert.equal(openFds(), before);
});
