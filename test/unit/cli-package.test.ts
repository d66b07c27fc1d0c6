import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { text } from 'node:stream/consumers';
import yauzl from 'yauzl';
import { CliError } from '../../src/cli/errors.ts';
import { countZipEntries, packagePath } from '../../src/cli/package.ts';

interface ZipEntry {
  mode: number;
  content: string;
}

async function unzip(zip: Buffer): Promise<Map<string, ZipEntry>> {
  const file = await yauzl.fromBufferPromise(zip, { lazyEntries: true });
  const out = new Map<string, ZipEntry>();
  for await (const entry of file.eachEntry()) {
    const content = await text(await file.openReadStreamPromise(entry));
    out.set(entry.fileName, { mode: entry.externalFileAttributes >>> 16, content });
  }
  return out;
}

describe('cli packaging', () => {
  let tmp: string;
  let app: string;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'aviary-cli-package-'));
    app = path.join(tmp, 'app');
    await mkdir(path.join(app, 'node_modules', 'dep'), { recursive: true });
    await mkdir(path.join(app, '.git', 'objects'), { recursive: true });
    await mkdir(path.join(app, 'lib'), { recursive: true });
    await writeFile(path.join(app, 'index.js'), 'exports.handler = async () => "hi";\n');
    await writeFile(path.join(app, 'bootstrap'), '#!/bin/sh\necho hi\n');
    await chmod(path.join(app, 'bootstrap'), 0o755);
    await writeFile(path.join(app, 'lib', 'util.js'), 'module.exports = 1;\n');
    await writeFile(path.join(app, 'node_modules', 'dep', 'index.js'), 'module.exports = "dep";\n');
    await writeFile(path.join(app, '.git', 'HEAD'), 'ref: refs/heads/main\n');
    await writeFile(path.join(app, '.git', 'objects', 'blob'), 'x');
    await writeFile(path.join(tmp, 'secret.txt'), 'outside\n');
    await symlink('index.js', path.join(app, 'alias.js'));
    await symlink(path.join(tmp, 'secret.txt'), path.join(app, 'secret.txt'));
    await symlink('lib', path.join(app, 'lib-link'));
    await symlink('..', path.join(app, 'lib', 'up'));
  });

  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  test('a folder is zipped recursively with node_modules, unix modes, and without .git', async () => {
    const warnings: string[] = [];
    const pkg = await packagePath(app, (w) => warnings.push(w));
    assert.equal(pkg.kind, 'folder');
    const entries = await unzip(pkg.zip);
    const names = [...entries.keys()];
    assert.ok(names.includes('index.js'));
    assert.ok(names.includes('lib/util.js'));
    assert.ok(names.includes('node_modules/dep/index.js'), 'node_modules is packaged');
    assert.ok(!names.some((n) => n.startsWith('.git')), `.git is skipped: ${names.join(', ')}`);
    assert.equal(pkg.files, entries.size);

    assert.equal(entries.get('bootstrap')?.mode, 0o100755, 'the exec bit survives');
    assert.equal(entries.get('index.js')?.mode, 0o100644);
    assert.equal(entries.get('node_modules/dep/index.js')?.content, 'module.exports = "dep";\n');
  });

  test('symlinks inside the folder are stored as their files; others are skipped with a warning', async () => {
    const warnings: string[] = [];
    const entries = await unzip((await packagePath(app, (w) => warnings.push(w))).zip);
    assert.equal(entries.get('alias.js')?.content, 'exports.handler = async () => "hi";\n');
    assert.equal(entries.get('lib-link/util.js')?.content, 'module.exports = 1;\n');
    assert.ok(!entries.has('secret.txt'), 'a symlink out of the folder is not followed');
    assert.ok(warnings.some((w) => w.includes('secret.txt') && w.includes('outside')), warnings.join('\n'));
    assert.ok(warnings.some((w) => w.includes('lib/up') && w.includes('loop')), warnings.join('\n'));
  });

  test('the digest is stable across runs and mtimes, and is the sha256 of the zip', async () => {
    const a = await packagePath(app);
    await utimes(path.join(app, 'index.js'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    const b = await packagePath(app);
    assert.equal(a.digest, b.digest);
    assert.ok(a.zip.equals(b.zip));
    assert.match(a.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(a.digest, `sha256:${createHash('sha256').update(a.zip).digest('hex')}`);

    await writeFile(path.join(app, 'lib', 'util.js'), 'module.exports = 2;\n');
    const c = await packagePath(app);
    assert.notEqual(c.digest, a.digest, 'a content change changes the digest');
    await writeFile(path.join(app, 'lib', 'util.js'), 'module.exports = 1;\n');
  });

  test('a single file is zipped alone under its own name, keeping its mode', async () => {
    const pkg = await packagePath(path.join(app, 'bootstrap'));
    assert.equal(pkg.kind, 'file');
    assert.equal(pkg.files, 1);
    const entries = await unzip(pkg.zip);
    assert.deepEqual([...entries.keys()], ['bootstrap']);
    assert.equal(entries.get('bootstrap')?.mode, 0o100755);
  });

  test('a .zip is sent as is', async () => {
    const built = await packagePath(app);
    const zipPath = path.join(tmp, 'code.zip');
    await writeFile(zipPath, built.zip);
    const pkg = await packagePath(zipPath);
    assert.equal(pkg.kind, 'zip');
    assert.ok(pkg.zip.equals(await readFile(zipPath)));
    assert.equal(pkg.digest, built.digest);
    assert.equal(pkg.files, built.files);
    assert.equal(countZipEntries(pkg.zip), built.files);
  });

  test('a .zip that is not a zip, a missing path and an empty folder are usage errors', async () => {
    const fake = path.join(tmp, 'fake.zip');
    await writeFile(fake, 'not a zip at all');
    await assert.rejects(packagePath(fake), (err: unknown) => {
      assert.ok(err instanceof CliError);
      assert.equal(err.exitCode, 2);
      assert.match(err.message, /not a valid zip/);
      return true;
    });
    await assert.rejects(packagePath(path.join(tmp, 'missing')), /no such file or folder/);
    const empty = path.join(tmp, 'empty');
    await mkdir(path.join(empty, '.git'), { recursive: true });
    await assert.rejects(packagePath(empty), /has no files/);
  });
});
