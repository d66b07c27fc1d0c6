import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { buildPackage, DEFAULT_BUILD_LIMITS } from '../../src/build/index.ts';
import type { BuildResult, Runtime } from '../../src/build/index.ts';
import { AviaryError } from '../../src/shared/errors.ts';
import { zipFromEntries } from '../helpers/zip.ts';
import type { ZipEntrySpec } from '../helpers/zip.ts';

const run = promisify(execFile);

let root: string;
let counter = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'aviary-build-test-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh, not yet existing outDir in its own parent (so leftover temp dirs are easy to see). */
async function freshOutDir(): Promise<string> {
  const parent = join(root, `case-${++counter}`);
  await mkdir(parent);
  return join(parent, 'pkg');
}

interface Built extends BuildResult {
  outDir: string;
  progress: string[];
}

async function build(entries: ZipEntrySpec[], runtime: Runtime, handler: string | undefined, extra: Partial<Parameters<typeof buildPackage>[0]> = {}): Promise<Built> {
  const outDir = await freshOutDir();
  const progress: string[] = [];
  const zip = await zipFromEntries(entries);
  const result = await buildPackage({ zip, runtime, handler, outDir, onProgress: (m) => progress.push(m), ...extra });
  return { ...result, outDir, progress };
}

/** Builds, expects an AviaryError with `code` and a message matching `message`, and checks nothing was written. */
async function buildFails(input: Buffer | ZipEntrySpec[], runtime: Runtime, handler: string | undefined, code: string, message: RegExp, extra: Partial<Parameters<typeof buildPackage>[0]> = {}): Promise<AviaryError> {
  const outDir = await freshOutDir();
  const zip = Buffer.isBuffer(input) ? input : await zipFromEntries(input);
  let caught: unknown;
  try {
    await buildPackage({ zip, runtime, handler, outDir, ...extra });
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof AviaryError, `expected an AviaryError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.match(caught.message, message);
  await assertNothingWritten(outDir);
  return caught;
}

async function assertNothingWritten(outDir: string): Promise<void> {
  await assert.rejects(lstat(outDir), { code: 'ENOENT' }, 'outDir must not exist after a failed build');
  const leftovers = (await readdir(dirname(outDir))).filter((n) => n.startsWith(`${basename(outDir)}.tmp-`));
  assert.deepEqual(leftovers, [], 'temp dirs must be removed after a failed build');
}

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

describe('buildPackage: node', () => {
  test('a CommonJS package builds as is, with normalised permissions', async () => {
    const r = await build(
      [
        { name: 'index.js', content: "const { twice } = require('./lib/util.js');\nexports.handler = async (e) => ({ n: twice(e.n) });\n", mode: 0o600 },
        { name: 'lib/', mode: 0o700 },
        { name: 'lib/util.js', content: 'exports.twice = (n) => n * 2;\n' },
      ],
      'node',
      'index.handler',
    );
    assert.equal(r.entry, 'index.js');
    assert.equal(r.bundled, false);
    assert.equal(r.files, 2);
    assert.equal(r.unzippedBytes, (await stat(join(r.outDir, 'index.js'))).size + (await stat(join(r.outDir, 'lib/util.js'))).size);
    assert.deepEqual(r.warnings, []);
    assert.ok(r.progress.some((m) => /^unpacking 2 files \(\d+ B\)$/.test(m)), r.progress.join('\n'));
    assert.ok(r.progress.includes('checking syntax of 2 files'), r.progress.join('\n'));
    assert.equal(await modeOf(join(r.outDir, 'index.js')), 0o644);
    assert.equal(await modeOf(join(r.outDir, 'lib')), 0o755);
    assert.equal(await modeOf(r.outDir), 0o755);
    const mod = createRequire(import.meta.url)(join(r.outDir, 'index.js')) as { handler: (e: unknown) => Promise<unknown> };
    assert.deepEqual(await mod.handler({ n: 21 }), { n: 42 });
  });

  test('a TypeScript package is bundled to ESM that imports and runs, with CommonJS globals', async () => {
    const r = await build(
      [
        {
          name: 'src/app.ts',
          content: [
            "import { greet } from './greet';",
            "import { fileURLToPath } from 'node:url';",
            "import { dirname } from 'node:path';",
            'const __dirname = dirname(fileURLToPath(import.meta.url)); // the usual ESM idiom must not clash',
            'export const handler = async (event: { name: string }) => ({',
            '  message: greet(event.name),',
            "  os: typeof require('node:os').platform,",
            '  dir: __dirname,',
            '});',
            '',
          ].join('\n'),
        },
        { name: 'src/greet.ts', content: "export const greet = (name: string): string => `hello ${name} from ${typeof __filename}`;\n" },
      ],
      'node',
      'src/app.handler',
    );
    assert.equal(r.entry, 'src/app.mjs');
    assert.equal(r.bundled, true);
    assert.ok(r.progress.includes('bundling src/app.ts with esbuild'), r.progress.join('\n'));
    await stat(join(r.outDir, 'src/app.mjs.map'));
    const mod = (await import(pathToFileURL(join(r.outDir, 'src/app.mjs')).href)) as { handler: (e: unknown) => Promise<unknown> };
    assert.deepEqual(await mod.handler({ name: 'ada' }), { message: 'hello ada from string', os: 'function', dir: join(r.outDir, 'src') });
  });

  test("a TypeScript error's stack maps to the .ts line under --enable-source-maps", async () => {
    const r = await build(
      [
        {
          name: 'src/app.ts',
          content: ['interface Event { fail: boolean }', '', 'export async function handler(event: Event): Promise<string> {', '  if (event.fail) {', "    throw new Error('boom');", '  }', "  return 'ok';", '}', ''].join('\n'),
        },
      ],
      'node',
      'src/app.handler',
    );
    const url = pathToFileURL(join(r.outDir, r.entry ?? '')).href;
    const script = `const m = await import(${JSON.stringify(url)}); try { await m.handler({ fail: true }); } catch (e) { console.log(e.stack); }`;
    const { stdout } = await run(process.execPath, ['--enable-source-maps', '--input-type=module', '-e', script]);
    assert.match(stdout, /Error: boom/);
    assert.match(stdout, /src\/app\.ts:5:\d+/, stdout);
  });

  test('a TypeScript syntax error fails the build naming file, line and column', async () => {
    const err = await buildFails(
      [
        { name: 'src/app.ts', content: "import { x } from './lib';\nexport const handler = async () => x;\n" },
        { name: 'src/lib.ts', content: 'export const x = 1;\n\nexport const y = (a: number => a;\n' },
      ],
      'node',
      'src/app.handler',
      'BuildFailed',
      /^syntax error in src\/lib\.ts:3:\d+: Expected "\)" but found "=>"/,
    );
    assert.doesNotMatch(err.message, /\/tmp/, 'paths are relative to the package root');
  });

  test('a JavaScript syntax error anywhere outside node_modules fails the build', async () => {
    await buildFails(
      [
        { name: 'index.js', content: 'exports.handler = async () => 1;\n' },
        { name: 'lib/bad.js', content: 'const a = 1;\nlet b = = 2;\n' },
        { name: 'lib/bad.mjs', content: 'export const a = ;\n' },
      ],
      'node',
      'index.handler',
      'BuildFailed',
      /^syntax error in lib\/bad\.js:2:9: Unexpected "="; syntax error in lib\/bad\.mjs:1:18: Unexpected ";"$/,
    );
  });

  test('a package with node_modules keeps them: external at run time, never syntax-checked', async () => {
    const r = await build(
      [
        { name: 'app.ts', content: "import { shout } from 'dep';\nexport const handler = async () => shout('hi');\n" },
        { name: 'node_modules/dep/package.json', content: '{"name":"dep","main":"index.js"}' },
        { name: 'node_modules/dep/index.js', content: 'exports.shout = (s) => s.toUpperCase();\n' },
        { name: 'node_modules/dep/test/fixture.js', content: 'this is not javascript (\n' },
      ],
      'node',
      'app.handler',
    );
    assert.equal(r.entry, 'app.mjs');
    const bundle = await readFile(join(r.outDir, 'app.mjs'), 'utf8');
    assert.match(bundle, /from "dep"/);
    assert.doesNotMatch(bundle, /toUpperCase/);
    const mod = (await import(pathToFileURL(join(r.outDir, 'app.mjs')).href)) as { handler: () => Promise<unknown> };
    assert.equal(await mod.handler(), 'HI');
    assert.ok(!r.progress.some((m) => m.startsWith('checking syntax')), 'node_modules is not checked');
  });

  test('the bundle never overwrites a user file: a package with something at its name is refused, saying what to remove', async () => {
    await buildFails(
      [
        { name: 'app.ts', content: 'export const handler = async () => 1;\n' },
        { name: 'app.mjs/README', content: 'a folder named like the bundle' },
      ],
      'node', 'app.handler', 'InvalidPackage', /app\.ts is bundled to app\.mjs \(with app\.mjs\.map\), but the package already has 'app\.mjs': remove or rename it/,
    );
    await buildFails(
      [
        { name: 'src/app.ts', content: 'export const handler = async () => 1;\n' },
        { name: 'src/app.mjs.map', content: '{}' },
      ],
      'node', 'src/app.handler', 'InvalidPackage', /already has 'src\/app\.mjs\.map'/,
    );
  });

  test('JavaScript next to TypeScript of the same name runs as is, with a warning', async () => {
    const r = await build(
      [
        { name: 'app.js', content: 'exports.handler = async () => 1;\n' },
        { name: 'app.ts', content: 'export const handler = async () => 2;\n' },
      ],
      'node',
      'app.handler',
    );
    assert.equal(r.entry, 'app.js');
    assert.equal(r.bundled, false);
    assert.match(r.warnings.join('\n'), /found both app\.js and app\.ts: running app\.js as is/);
  });

  test('a missing handler file names what was looked for and what the package holds', async () => {
    await buildFails(
      [
        { name: 'main.js', content: 'exports.handler = 1;\n' },
        { name: 'lib/x.js', content: '' },
      ],
      'node',
      'index.handler',
      'InvalidPackage',
      /^handler file 'index' not found in the package \(looked for index\.js, index\.mjs, index\.cjs, index\.ts, index\.mts, index\.cts\); the package contains: lib\/, main\.js; set handler to FILE\.EXPORT/,
    );
  });

  test('a package zipped with its folder gets a hint', async () => {
    await buildFails(
      [{ name: 'myfn/index.js', content: 'exports.handler = async () => 1;\n' }],
      'node',
      'index.handler',
      'InvalidPackage',
      /the package contains: myfn\/; the files are inside the folder 'myfn\/': zip the folder's contents rather than the folder, or set handler to 'myfn\/index\.handler'/,
    );
  });

  test('a handler climbing out of the package is rejected before unpacking', async () => {
    await buildFails([{ name: 'index.js', content: '' }], 'node', '../index.handler', 'ValidationError', /^invalid function config: handler: '\.\.\/index\.handler' must name a file inside the package/);
    await buildFails([{ name: 'index.js', content: '' }], 'node', '/index.handler', 'ValidationError', /no leading '\/'/);
    await buildFails([{ name: 'index.js', content: '' }], 'node', undefined, 'ValidationError', /handler: is required for the node runtime/);
  });
});

describe('buildPackage: unsafe or malformed zips', () => {
  const okJs = { name: 'index.js', content: 'exports.handler = async () => 1;\n' };

  test('not a zip', async () => {
    await buildFails(Buffer.from('this is not a zip file'), 'node', 'index.handler', 'InvalidPackage', /^package is not a valid zip archive \(.+\): create it with `zip -r` or let `aviary deploy DIR` package the folder$/);
  });

  test('a truncated zip', async () => {
    const zip = await zipFromEntries([okJs, { name: 'lib/a.js', content: 'x'.repeat(1000) }]);
    await buildFails(zip.subarray(0, zip.length - 30), 'node', 'index.handler', 'InvalidPackage', /^package is not a valid zip archive \(.+\)/);
    await buildFails(zip.subarray(0, Math.floor(zip.length / 2)), 'node', 'index.handler', 'InvalidPackage', /^package is not a valid zip archive \(.+\)/);
  });

  test('a corrupt entry (truncated data inside a zip with an intact directory)', async () => {
    const zip = await zipFromEntries([okJs, { name: 'data.txt', content: 'abcdefgh'.repeat(200) }]);
    const corrupt = Buffer.from(zip);
    const at = corrupt.indexOf('data.txt') + 'data.txt'.length; // local header name, then compressed data
    corrupt.fill(0xff, at, at + 20);
    await buildFails(corrupt, 'node', 'index.handler', 'InvalidPackage', /^package is not a valid zip archive \(entry 'data\.txt': /);
  });

  test('zip-slip with ../ and with backslashes', async () => {
    await buildFails([okJs, { name: '../evil.js', content: 'x' }], 'node', 'index.handler', 'InvalidPackage', /^package entry '\.\.\/evil\.js' would be written outside the package \('\.\.' segment\): create it with `zip -r`/);
    await buildFails([okJs, { name: 'a/../../evil.js', content: 'x' }], 'node', 'index.handler', 'InvalidPackage', /^package entry 'a\/\.\.\/\.\.\/evil\.js' would be written outside the package/);
    await buildFails([okJs, { name: '..\\evil.js', content: 'x' }], 'node', 'index.handler', 'InvalidPackage', /^package entry '\.\.\\evil\.js' would be written outside the package \('\.\.' segment; backslashes count as separators\)/);
  });

  test('absolute paths', async () => {
    await buildFails([okJs, { name: '/tmp/evil.js', content: 'x' }], 'node', 'index.handler', 'InvalidPackage', /^package entry '\/tmp\/evil\.js' has an absolute path/);
    await buildFails([okJs, { name: 'C:\\evil.js', content: 'x' }], 'node', 'index.handler', 'InvalidPackage', /^package entry 'C:\\evil\.js' has an absolute path/);
  });

  test('duplicate entries, including ones that differ only in spelling', async () => {
    await buildFails([okJs, { name: 'a.js', content: '1' }, { name: 'a.js', content: '2' }], 'node', 'index.handler', 'InvalidPackage', /^package has two entries named 'a\.js': re-create the zip/);
    await buildFails([okJs, { name: 'lib/a.js', content: '1' }, { name: './lib\\a.js', content: '2' }], 'node', 'index.handler', 'InvalidPackage', /^package has two entries named 'lib\/a\.js'/);
    await buildFails([okJs, { name: 'lib', content: '1' }, { name: 'lib/', mode: 0o755 }], 'node', 'index.handler', 'InvalidPackage', /^package has two entries named 'lib' \(a file and a directory\)/);
  });

  test('symlinks that escape the package', async () => {
    await buildFails([okJs, { name: 'passwd', symlinkTo: '../../../../etc/passwd' }], 'node', 'index.handler', 'InvalidPackage', /^package entry 'passwd' is a symlink that points to '\.\.\/\.\.\/\.\.\/\.\.\/etc\/passwd', outside the package/);
    await buildFails([okJs, { name: 'etc', symlinkTo: '/etc' }], 'node', 'index.handler', 'InvalidPackage', /^package entry 'etc' is a symlink that points to the absolute path '\/etc'/);
    // looks harmless written down, escapes once d1/d2/up is followed
    await buildFails(
      [okJs, { name: 'd1/d2/up', symlinkTo: '../..' }, { name: 'sneaky', symlinkTo: 'd1/d2/up/..' }],
      'node',
      'index.handler',
      'InvalidPackage',
      /^package entry 'sneaky' is a symlink that points to 'd1\/d2\/up\/\.\.', outside the package: point it at a file inside the package, or zip without --symlinks/,
    );
    await buildFails([okJs, { name: 'a', symlinkTo: 'b/x' }, { name: 'b', symlinkTo: '..' }], 'node', 'index.handler', 'InvalidPackage', /^package entry 'a' is a symlink that points to 'b\/x', which leads outside the package through another symlink/);
    await buildFails([okJs, { name: 'loop', symlinkTo: 'loop' }], 'node', 'index.handler', 'InvalidPackage', /^package entry 'loop' is a symlink that is part of a symlink loop/);
  });

  test('nothing is written through a symlink', async () => {
    await buildFails([okJs, { name: 'link', symlinkTo: 'sub' }, { name: 'sub/', mode: 0o755 }, { name: 'link/x.js', content: '' }], 'node', 'index.handler', 'InvalidPackage', /^package entry 'link\/x\.js' would be written inside 'link', which is a symlink in the same package/);
  });

  test('symlinks inside the package are kept', async () => {
    const r = await build([okJs, { name: 'data/v1.json', content: '{}' }, { name: 'lib/current', symlinkTo: '../data/v1.json' }], 'node', 'index.handler');
    assert.equal(await readlink(join(r.outDir, 'lib/current')), '../data/v1.json');
    assert.equal(await readFile(join(r.outDir, 'lib/current'), 'utf8'), '{}');
    assert.equal(r.files, 3);
  });

  test('over maxUnzippedBytes names the limit', async () => {
    await buildFails([okJs, { name: 'big.bin', content: Buffer.alloc(5000) }], 'node', 'index.handler', 'InvalidPackage', /^package unpacks to more than 1000 bytes \(1000 B\), the maxUnzippedBytes limit: /, {
      limits: { maxUnzippedBytes: 1000 },
    });
  });

  test('an entry that claims fewer bytes than it holds is caught while streaming', async () => {
    const zip = await zipFromEntries([okJs, { name: 'big.bin', content: Buffer.alloc(5000) }]);
    // lower big.bin's uncompressed size in the central directory to 10
    const cd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    assert.equal(zip.readUInt32LE(cd + 24), 5000);
    zip.writeUInt32LE(10, cd + 24);
    await buildFails(zip, 'node', 'index.handler', 'InvalidPackage', /^package is not a valid zip archive \(entry 'big\.bin': too many bytes in the stream/);
  });

  test('a CRC-32 mismatch is caught', async () => {
    const zip = await zipFromEntries([okJs, { name: 'data.txt', content: 'hello' }]);
    const cd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])); // data.txt's central directory record
    zip.writeUInt32LE(zip.readUInt32LE(cd + 16) ^ 1, cd + 16);
    await buildFails(zip, 'node', 'index.handler', 'InvalidPackage', /^package is not a valid zip archive \(entry 'data\.txt': CRC-32 mismatch, the data is corrupt\)/);
  });

  test('large files are streamed intact', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 7);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
    const r = await build([okJs, { name: 'assets/big.bin', content: big, mode: 0o755 }], 'node', 'index.handler');
    assert.ok((await readFile(join(r.outDir, 'assets/big.bin'))).equals(big));
    assert.equal(await modeOf(join(r.outDir, 'assets/big.bin')), 0o755);
    assert.equal(r.unzippedBytes, big.length + okJs.content.length);
  });

  test('over maxFiles names the limit', async () => {
    await buildFails([okJs, { name: 'a.js', content: '' }, { name: 'b.js', content: '' }], 'node', 'index.handler', 'InvalidPackage', /^package has more than 2 files, the maxFiles limit: /, { limits: { maxFiles: 2 } });
  });

  test('over maxZipBytes is PayloadTooLarge', async () => {
    await buildFails([okJs], 'node', 'index.handler', 'PayloadTooLarge', /^package is \d+ B, over the maxZipBytes limit of 50 bytes \(50 B\)/, { limits: { maxZipBytes: 50 } });
  });

  test('an existing outDir is refused and left alone', async () => {
    const outDir = await freshOutDir();
    await mkdir(outDir);
    await writeFile(join(outDir, 'keep'), 'x');
    await assert.rejects(buildPackage({ zip: await zipFromEntries([okJs]), runtime: 'node', handler: 'index.handler', outDir }), (err: unknown) => {
      assert.ok(err instanceof AviaryError);
      assert.equal(err.code, 'InternalError');
      assert.match(err.message, /already exists/);
      return true;
    });
    assert.deepEqual(await readdir(outDir), ['keep']);
    assert.deepEqual(await readdir(dirname(outDir)), ['pkg']);
  });

  test('the default limits are Lambda\'s', () => {
    assert.deepEqual(DEFAULT_BUILD_LIMITS, { maxZipBytes: 50 * 1024 * 1024, maxUnzippedBytes: 250 * 1024 * 1024, maxFiles: 20_000 });
  });
});

describe('buildPackage: permissions and provided', () => {
  test('the executable bit is kept, everything else normalised', async () => {
    const r = await build(
      [
        { name: 'bootstrap', content: '#!/bin/sh\necho hi\n', mode: 0o700 },
        { name: 'bin/tool', content: '#!/bin/sh\n', mode: 0o775 },
        { name: 'data.txt', content: 'x', mode: 0o666 },
        { name: 'secret.txt', content: 'x', mode: 0o600 },
      ],
      'provided',
      undefined,
    );
    assert.equal(await modeOf(join(r.outDir, 'bootstrap')), 0o755);
    assert.equal(await modeOf(join(r.outDir, 'bin/tool')), 0o755);
    assert.equal(await modeOf(join(r.outDir, 'data.txt')), 0o644);
    assert.equal(await modeOf(join(r.outDir, 'secret.txt')), 0o644);
    assert.equal(await modeOf(join(r.outDir, 'bin')), 0o755);
    assert.equal(r.entry, 'bootstrap');
    assert.deepEqual(r.warnings, []);
  });

  test('provided without a bootstrap', async () => {
    await buildFails([{ name: 'main.sh', content: '#!/bin/sh\n', mode: 0o755 }], 'provided', undefined, 'InvalidPackage', /^a provided-runtime package needs an executable file named 'bootstrap' at its root; the package contains: main\.sh$/);
    await buildFails([{ name: 'bootstrap/run', content: '#!/bin/sh\n', mode: 0o755 }], 'provided', 'x', 'InvalidPackage', /needs an executable file named 'bootstrap' at its root; 'bootstrap' is a directory/);
  });

  test('a bootstrap that is not executable is fixed, with a warning', async () => {
    const r = await build([{ name: 'bootstrap', content: '#!/bin/sh\necho hi\n', mode: 0o644 }], 'provided', 'my.handler');
    assert.equal(await modeOf(join(r.outDir, 'bootstrap')), 0o755);
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0] ?? '', /^bootstrap was not executable, so it was made executable \(0755\)/);
    const { stdout } = await run(join(r.outDir, 'bootstrap'));
    assert.equal(stdout, 'hi\n');
  });

  test('a bootstrap symlink inside the package is accepted; oddities are warned about', async () => {
    const r = await build(
      [
        { name: 'bin/run', content: '#!/bin/sh\r\necho hi\r\n', mode: 0o755 },
        { name: 'bootstrap', symlinkTo: 'bin/run' },
      ],
      'provided',
      undefined,
    );
    assert.equal((await lstat(join(r.outDir, 'bootstrap'))).isSymbolicLink(), true);
    assert.match(r.warnings.join('\n'), /Windows line ending \(CRLF\)/);
  });
});

describe('buildPackage: python', () => {
  let cacheTag: string;
  before(() => {
    cacheTag = execFileSync('python3', ['-c', 'import sys; print(sys.implementation.cache_tag)'], { encoding: 'utf8' }).trim();
  });

  test('a Python package is checked and precompiled like compileall, as unchecked-hash pycs', async () => {
    const r = await build(
      [
        { name: 'app.py', content: 'from pkg import mod\n\ndef handler(event, context):\n    return mod.double(event["n"])\n' },
        { name: 'pkg/__init__.py', content: '' },
        { name: 'pkg/mod.py', content: 'def double(n):\n    return n * 2\n' },
        { name: '__pycache__/stale.txt', content: 'not python' },
      ],
      'python',
      'app.handler',
    );
    assert.equal(r.entry, 'app.py');
    assert.ok(r.progress.includes('precompiling 3 Python files'), r.progress.join('\n'));
    for (const pyc of [`__pycache__/app.${cacheTag}.pyc`, `pkg/__pycache__/__init__.${cacheTag}.pyc`, `pkg/__pycache__/mod.${cacheTag}.pyc`]) {
      const bytes = await readFile(join(r.outDir, pyc));
      assert.equal(bytes.readUInt32LE(4), 0b01, `${pyc} is a hash-based pyc that is never re-validated`);
      assert.equal(await modeOf(join(r.outDir, pyc)), 0o644);
    }
    assert.equal(await modeOf(join(r.outDir, 'pkg/__pycache__')), 0o755);
    const { stdout } = await run('python3', ['-c', 'import sys, app; print(app.handler({"n": 21}, None)); print(app.__cached__)'], { cwd: r.outDir });
    assert.match(stdout, /^42\n.*__pycache__\/app\./);
  });

  test('a dotted module handler finds pkg/module.py', async () => {
    const r = await build([{ name: 'pkg/__init__.py', content: '' }, { name: 'pkg/mod.py', content: 'def handler(e, c):\n    return 1\n' }], 'python', 'pkg.mod.handler');
    assert.equal(r.entry, 'pkg/mod.py');
  });

  test('a Python syntax error fails the build naming file and line', async () => {
    await buildFails(
      [
        { name: 'app.py', content: 'import helper\n\ndef handler(event, context):\n    return helper.x\n' },
        { name: 'helper.py', content: 'a = 1\nb = 2\nx = = 3\n' },
      ],
      'python',
      'app.handler',
      'BuildFailed',
      /^syntax error in helper\.py:3: invalid syntax \(x = = 3\)$/,
    );
  });

  test('errors in installed dependencies are warnings, not failures', async () => {
    const r = await build(
      [
        { name: 'app.py', content: 'def handler(e, c):\n    return 1\n' },
        { name: 'olddep/__init__.py', content: 'print "python 2"\n' },
        { name: 'olddep-1.0.dist-info/RECORD', content: 'olddep/__init__.py,sha256=x,17\nolddep-1.0.dist-info/RECORD,,\n' },
      ],
      'python',
      'app.handler',
    );
    assert.match(r.warnings.join('\n'), /^1 Python file of installed dependencies did not compile and will fail if imported \(first: syntax error in olddep\/__init__\.py:1: /);
  });

  test('a missing handler module', async () => {
    await buildFails([{ name: 'other.py', content: 'x = 1\n' }], 'python', 'app.handler', 'InvalidPackage', /^handler module 'app' not found in the package \(looked for app\.py, app\/__init__\.py\); the package contains: other\.py/);
  });

  test('python3 missing on the server', async () => {
    await buildFails([{ name: 'app.py', content: 'x = 1\n' }], 'python', 'app.handler', 'BuildFailed', /^cannot check the Python package: \/nonexistent\/python3 is not installed on the server/, {
      pythonCommand: '/nonexistent/python3',
    });
  });
});
