// Linking a version's code into a pre-started instance's slot (src/sandbox/link-tree.ts), on real
// folders: a small flat folder (linked synchronously), a flat folder over that size and a tree
// with folders and symlinks (linked asynchronously) all come out as hard links to the originals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readlinkSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { linkTree } from '../../src/sandbox/link-tree.ts';

function scratch(t: { after: (fn: () => void) => void }): { from: string; to: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'aviary-link-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const from = path.join(dir, 'code');
  const to = path.join(dir, 'slot');
  mkdirSync(from);
  mkdirSync(to);
  return { from, to };
}

/** Every file below `dir`, relative, sorted. */
function listing(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(prefix, e.name);
    return e.isDirectory() ? [`${rel}/`, ...listing(path.join(dir, e.name), rel)] : [rel];
  }).sort();
}

function assertHardLinked(from: string, to: string, rel: string): void {
  const a = statSync(path.join(from, rel));
  const b = statSync(path.join(to, rel));
  assert.equal(b.ino, a.ino, `${rel} should be a hard link to the original`);
}

test('a small flat folder: every file is a hard link to the original', async (t) => {
  const { from, to } = scratch(t);
  writeFileSync(path.join(from, 'index.js'), 'exports.handler = async () => 1;\n');
  writeFileSync(path.join(from, 'index.js.map'), '{}');
  await linkTree(from, to);
  assert.deepEqual(listing(to), ['index.js', 'index.js.map']);
  assertHardLinked(from, to, 'index.js');
  assertHardLinked(from, to, 'index.js.map');
});

test('a flat folder over the synchronous limit is linked whole', async (t) => {
  const { from, to } = scratch(t);
  const names = Array.from({ length: 40 }, (_, i) => `f${String(i).padStart(2, '0')}.js`);
  for (const n of names) writeFileSync(path.join(from, n), n);
  await linkTree(from, to);
  assert.deepEqual(listing(to), names);
  for (const n of names) assertHardLinked(from, to, n);
});

test('folders and symlinks: the tree is reproduced, files hard-linked, symlinks kept as links', async (t) => {
  const { from, to } = scratch(t);
  mkdirSync(path.join(from, 'node_modules', 'dep'), { recursive: true });
  writeFileSync(path.join(from, 'index.js'), 'require("dep");\n');
  writeFileSync(path.join(from, 'node_modules', 'dep', 'index.js'), 'module.exports = 1;\n');
  symlinkSync('dep/index.js', path.join(from, 'node_modules', 'alias.js'));
  await linkTree(from, to);
  assert.deepEqual(listing(to), ['index.js', 'node_modules/', 'node_modules/alias.js', 'node_modules/dep/', 'node_modules/dep/index.js']);
  assertHardLinked(from, to, 'index.js');
  assertHardLinked(from, to, 'node_modules/dep/index.js');
  assert.ok(lstatSync(path.join(to, 'node_modules', 'alias.js')).isSymbolicLink());
  assert.equal(readlinkSync(path.join(to, 'node_modules', 'alias.js')), 'dep/index.js');
});
