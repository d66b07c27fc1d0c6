/**
 * The provided runtime (Lambda custom runtimes): the package must have an executable
 * `bootstrap` at its root, a regular file or a symlink to one inside the package (symlinks
 * were already checked to stay inside). The handler is free-form: it reaches the bootstrap as
 * _HANDLER.
 */
import { chmod, open, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { AviaryError } from '../shared/errors.ts';
import { describeContents, wrappingFolder } from './files.ts';
import type { RuntimeBuild } from './runtime-build.ts';

export async function buildProvided(root: string): Promise<RuntimeBuild> {
  const path = join(root, 'bootstrap');
  let stats: Stats | null = null;
  try {
    stats = await stat(path);
  } catch {
    stats = null;
  }
  if (stats === null || !stats.isFile()) {
    const folder = await wrappingFolder(root, ['bootstrap']);
    const problem = stats?.isDirectory() ? "; 'bootstrap' is a directory" : '';
    const hint = folder ? `; it is inside the folder '${folder}/': zip the folder's contents rather than the folder` : '';
    throw new AviaryError(
      'InvalidPackage',
      `a provided-runtime package needs an executable file named 'bootstrap' at its root${problem}; ${await describeContents(root)}${hint}`,
    );
  }

  const warnings: string[] = [];
  if ((stats.mode & 0o111) === 0) {
    await chmod(path, 0o755);
    warnings.push("bootstrap was not executable, so it was made executable (0755); run `chmod +x bootstrap` before zipping to silence this warning");
  }
  const head = await readHead(path, 256);
  if (head.subarray(0, 2).toString('latin1') === '#!') {
    const firstLine = head.toString('latin1').split('\n')[0] ?? '';
    if (firstLine.endsWith('\r')) {
      warnings.push("bootstrap's first line ends with a Windows line ending (CRLF), so the kernel will not find its interpreter; convert it with `dos2unix bootstrap`");
    }
  } else if (head.subarray(0, 4).toString('latin1') !== '\x7fELF') {
    warnings.push("bootstrap is neither a script starting with '#!' nor an ELF executable, so the server may be unable to run it; add a shebang line such as #!/bin/sh");
  }
  return { entry: 'bootstrap', bundled: false, warnings };
}

async function readHead(path: string, bytes: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
