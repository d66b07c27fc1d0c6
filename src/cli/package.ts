import { createHash } from 'node:crypto';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { ZipFile } from 'yazl';
import { usageError } from './errors.ts';

/** A deployable code package: the zip bytes and their content address. */
export interface CodePackage {
  zip: Buffer;
  /** `sha256:<64 hex>`, the id the server stores the package under. */
  digest: string;
  /** Entries in the zip. */
  files: number;
  kind: 'file' | 'folder' | 'zip';
}

/** Directories never packaged: version-control metadata is not code. */
const SKIPPED = new Set(['.git']);

/**
 * Every entry gets this timestamp and a normalised mode (0644, or 0755 when any exec bit is
 * set), entries are sorted, and only the DOS timestamp (local-time fields) is written: the
 * same files give the same bytes on any machine, so the digest lets an unchanged package
 * skip the upload.
 */
const FIXED_MTIME = new Date(1980, 0, 1, 0, 0, 0);

export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * Packages PATH for deploy: a `.zip` file is sent as is; another file is zipped alone under
 * its own name; a folder is zipped recursively (node_modules included, `.git` skipped).
 * Symlinks are followed only when they resolve inside the folder, and stored as the file
 * they point at; others are skipped with a warning.
 */
export async function packagePath(input: string, onWarning: (message: string) => void = () => {}): Promise<CodePackage> {
  let st;
  try {
    st = await stat(input);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw usageError(`cannot package ${input}: ${code === 'ENOENT' ? 'no such file or folder' : (err as Error).message}`);
  }
  if (st.isFile() && /\.zip$/i.test(input)) {
    const zip = await readFile(input);
    return { zip, digest: sha256Digest(zip), files: countZipEntries(zip, input), kind: 'zip' };
  }
  let entries: Entry[];
  let kind: CodePackage['kind'];
  if (st.isFile()) {
    entries = [{ abs: input, name: path.basename(input), mode: st.mode }];
    kind = 'file';
  } else if (st.isDirectory()) {
    const root = await realpath(input);
    entries = [];
    await walk(root, root, '', new Set([root]), entries, onWarning);
    if (entries.length === 0) throw usageError(`cannot package ${input}: the folder has no files`);
    kind = 'folder';
  } else {
    throw usageError(`cannot package ${input}: not a file or a folder`);
  }
  const zip = await zipEntries(entries);
  return { zip, digest: sha256Digest(zip), files: entries.length, kind };
}

interface Entry {
  abs: string;
  /** Path inside the zip, `/`-separated. */
  name: string;
  mode: number;
}

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root + path.sep);
}

async function walk(
  root: string,
  dir: string,
  prefix: string,
  ancestors: Set<string>,
  out: Entry[],
  warn: (message: string) => void,
): Promise<void> {
  const dirents = await readdir(dir, { withFileTypes: true });
  dirents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const d of dirents) {
    if (SKIPPED.has(d.name)) continue;
    const abs = path.join(dir, d.name);
    const name = prefix ? `${prefix}/${d.name}` : d.name;
    let real = abs;
    if (d.isSymbolicLink()) {
      try {
        real = await realpath(abs);
      } catch {
        warn(`skipped ${name}: broken symlink`);
        continue;
      }
      if (!inside(root, real)) {
        warn(`skipped ${name}: symlink to ${real}, outside the folder`);
        continue;
      }
    }
    const st = await stat(real);
    if (st.isDirectory()) {
      if (ancestors.has(real)) {
        warn(`skipped ${name}: symlink loop`);
        continue;
      }
      await walk(root, real, name, new Set([...ancestors, real]), out, warn);
    } else if (st.isFile()) {
      out.push({ abs: real, name, mode: st.mode });
    } else {
      warn(`skipped ${name}: not a regular file`);
    }
  }
}

function zipEntries(entries: Entry[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const zip = new ZipFile();
    const chunks: Buffer[] = [];
    zip.on('error', reject);
    zip.outputStream.on('error', reject);
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    for (const e of entries) {
      zip.addFile(e.abs, e.name, {
        mtime: FIXED_MTIME,
        mode: (e.mode & 0o111 ? 0o755 : 0o644) | 0o100000,
        forceDosTimestamp: true,
        compress: true,
      });
    }
    zip.end();
  });
}

/**
 * Reads the entry count from the zip's end-of-central-directory record, which also checks
 * that the file is a zip at all before it is uploaded.
 */
export function countZipEntries(zip: Buffer, name = 'package'): number {
  // The record is 22 bytes plus a comment of up to 65535 bytes, at the very end.
  const stop = Math.max(0, zip.length - 22 - 0xffff);
  for (let i = zip.length - 22; i >= stop; i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      const count = zip.readUInt16LE(i + 10);
      // 0xffff means the real count is in the zip64 record; the server will read it.
      return count;
    }
  }
  throw usageError(`${name} is not a valid zip file (no end of central directory record)`);
}
