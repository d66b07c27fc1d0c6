/**
 * Unpacks a zip into an existing empty directory, safely: every entry name is checked before
 * anything is written (no absolute paths, no `..`, no duplicates, nothing written through a
 * symlink), sizes are counted while streaming, symlinks are created last and only when they
 * stay inside the package. Permissions are normalised to 0644/0755 (files keep only the
 * executable bit) and 0755 for directories, because the sandbox user does not own the files.
 */
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32, inflateRawSync } from 'node:zlib';
import yauzl from 'yauzl';
import { AviaryError } from '../shared/errors.ts';
import { normalizeEntryName, printable, unsafeEntry } from './entry-names.ts';
import type { BuildLimits } from './limits.ts';
import { describeLimit, formatBytes } from './limits.ts';
import { checkSymlink } from './symlinks.ts';

export interface UnzipResult {
  /** Regular files and symlinks written (directories do not count). */
  files: number;
  /** Bytes actually written (file contents and symlink targets). */
  unzippedBytes: number;
}

type Kind = 'file' | 'directory' | 'symlink';

interface PlannedEntry {
  entry: yauzl.Entry;
  rawName: string;
  path: string;
  kind: Kind;
  executable: boolean;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const MAX_SYMLINK_TARGET = 4096;
const SMALL_FILE = 1024 * 1024;
/** Files written at once: hides the file system's per-call latency. */
const EXTRACT_CONCURRENCY = 16;
const SYMLINK_FIX = 'point it at a file inside the package, or zip without --symlinks (-y) so the file it points to is stored instead';

export function invalidZip(reason: string): AviaryError {
  return new AviaryError(
    'InvalidPackage',
    `package is not a valid zip archive (${reason}): create it with \`zip -r\` or let \`aviary deploy DIR\` package the folder`,
  );
}

export async function unzipPackage(zip: Buffer, dir: string, limits: BuildLimits, progress: (message: string) => void): Promise<UnzipResult> {
  const zipfile = await openZip(zip);
  try {
    const planned = await planEntries(zipfile, limits);
    const files = planned.filter((p) => p.kind !== 'directory');
    const claimed = files.reduce((sum, p) => sum + p.entry.uncompressedSize, 0);
    progress(`unpacking ${files.length} ${files.length === 1 ? 'file' : 'files'} (${formatBytes(claimed)})`);
    return await extract(zipfile, planned, dir, limits);
  } finally {
    zipfile.close();
  }
}

function openZip(zip: Buffer): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(
      zip,
      { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: true, strictFileNames: true },
      (err, zipfile) => (err ? reject(invalidZip(err.message)) : resolve(zipfile)),
    );
  });
}

/** Reads the central directory and checks every name, kind and limit before anything is written. */
async function planEntries(zipfile: yauzl.ZipFile, limits: BuildLimits): Promise<PlannedEntry[]> {
  const planned: PlannedEntry[] = [];
  const kinds = new Map<string, Kind>();
  let fileCount = 0;
  let claimedBytes = 0;

  await new Promise<void>((resolve, reject) => {
    zipfile.on('error', (err: Error) => reject(err instanceof AviaryError ? err : invalidZip(err.message)));
    zipfile.on('end', () => resolve());
    zipfile.on('entry', (entry: yauzl.Entry) => {
      try {
        const rawName = yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, true);
        const path = normalizeEntryName(rawName);
        const unixMode = entry.externalFileAttributes >>> 16;
        const kind = classify(rawName, unixMode);
        if (path === '') {
          if (kind !== 'directory') throw unsafeEntry(rawName, 'has an empty name');
        } else if (path !== '__MACOSX' && !path.startsWith('__MACOSX/')) {
          // __MACOSX/ holds Finder's resource forks: never part of the function.
          const previous = kinds.get(path);
          if (previous !== undefined && !(previous === 'directory' && kind === 'directory')) {
            throw new AviaryError(
              'InvalidPackage',
              `package has two entries named '${printable(path)}'${previous === kind ? '' : ` (a ${previous} and a ${kind})`}: re-create the zip so each file appears once (\`zip -r\` from a clean folder, or \`aviary deploy DIR\`)`,
            );
          }
          if (previous === undefined) {
            kinds.set(path, kind);
            planned.push({ entry, rawName, path, kind, executable: (unixMode & 0o111) !== 0 });
          }
          if (kind !== 'directory') {
            fileCount++;
            if (fileCount > limits.maxFiles) throw tooManyFiles(limits);
            claimedBytes += entry.uncompressedSize;
            if (claimedBytes > limits.maxUnzippedBytes) throw tooBig(limits);
            if (kind === 'symlink' && entry.uncompressedSize > MAX_SYMLINK_TARGET) {
              throw unsafeEntry(rawName, `is a symlink with a target longer than ${MAX_SYMLINK_TARGET} bytes`);
            }
          }
        }
        zipfile.readEntry();
      } catch (err) {
        reject(err);
      }
    });
    zipfile.readEntry();
  });

  // Nothing may be written below a file or a symlink (writing through a symlink is zip-slip).
  for (const p of planned) {
    const segments = p.path.split('/');
    for (let i = 1; i < segments.length; i++) {
      const prefix = segments.slice(0, i).join('/');
      const kind = kinds.get(prefix);
      if (kind === 'file' || kind === 'symlink') {
        throw unsafeEntry(p.rawName, `would be written inside '${printable(prefix)}', which is a ${kind} in the same package`);
      }
    }
  }
  return planned;
}

function classify(rawName: string, unixMode: number): Kind {
  const type = unixMode & S_IFMT;
  if (type === S_IFLNK) return 'symlink';
  if (type === S_IFDIR || rawName.endsWith('/') || rawName.endsWith('\\')) return 'directory';
  if (type === 0 || type === S_IFREG) return 'file';
  throw unsafeEntry(rawName, 'is a device, FIFO or socket; a package may hold only files, directories and symlinks');
}

function tooManyFiles(limits: BuildLimits): AviaryError {
  return new AviaryError(
    'InvalidPackage',
    `package has more than ${limits.maxFiles} files, the maxFiles limit: leave out what the function does not need (tests, docs, dev dependencies) or ask the operator to raise maxFiles`,
  );
}

function tooBig(limits: BuildLimits): AviaryError {
  return new AviaryError(
    'InvalidPackage',
    `package unpacks to more than ${describeLimit(limits.maxUnzippedBytes)}, the maxUnzippedBytes limit: leave out what the function does not need (tests, docs, dev dependencies) or ask the operator to raise maxUnzippedBytes`,
  );
}

async function extract(zipfile: yauzl.ZipFile, planned: PlannedEntry[], dir: string, limits: BuildLimits): Promise<UnzipResult> {
  const target = (path: string): string => {
    const full = join(dir, path);
    if (!full.startsWith(dir + sep)) throw unsafeEntry(path, 'would be written outside the package'); // belt and braces
    return full;
  };
  const dirs = new Set<string>();
  for (const p of planned) {
    const segments = p.path.split('/');
    for (let i = 1; i < segments.length; i++) dirs.add(segments.slice(0, i).join('/'));
    if (p.kind === 'directory') dirs.add(p.path);
  }
  for (const d of [...dirs].sort()) await guard(d, () => mkdir(target(d), { recursive: true, mode: 0o755 }));

  let written = 0;
  let files = 0;
  const links = new Map<string, string>();
  const count = (chunk: Buffer, crc: number): number => {
    written += chunk.length;
    if (written > limits.maxUnzippedBytes) throw tooBig(limits);
    return crc32(chunk, crc);
  };
  const checkCrc = (p: PlannedEntry, crc: number): void => {
    if (crc !== p.entry.crc32) throw invalidZip(`entry '${printable(p.rawName)}': CRC-32 mismatch, the data is corrupt`);
  };

  const writeFileEntry = async (p: PlannedEntry): Promise<void> => {
    const mode = p.executable ? 0o755 : 0o644;
    const path = target(p.path);
    await guard(p.rawName, async () => {
      let crc = 0;
      if (p.entry.uncompressedSize <= SMALL_FILE) {
        // most files are small: inflating in one call and writing in one call is much faster
        const data = await readSmallEntry(zipfile, p.entry);
        checkCrc(p, count(data, 0));
        await writeFile(path, data, { flag: 'wx', mode });
      } else {
        const stream = await openStream(zipfile, p.entry);
        const counter = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            try {
              crc = count(chunk, crc);
              callback(null, chunk);
            } catch (err) {
              callback(err as Error);
            }
          },
          flush(callback) {
            try {
              checkCrc(p, crc);
              callback();
            } catch (err) {
              callback(err as Error);
            }
          },
        });
        await pipeline(stream, counter, createWriteStream(path, { flags: 'wx', mode }));
      }
      await chmod(path, mode);
    });
    files++;
  };

  const readSymlinkEntry = async (p: PlannedEntry): Promise<void> => {
    const linkTarget = await guard(p.rawName, async () => {
      const data = await readSmallEntry(zipfile, p.entry); // planEntries capped its size
      checkCrc(p, count(data, 0));
      return data.toString('utf8');
    });
    if (linkTarget.includes('\0')) throw unsafeEntry(p.rawName, 'is a symlink whose target contains a NUL character');
    links.set(p.path, linkTarget);
  };

  await eachConcurrently(
    planned.filter((p) => p.kind !== 'directory'),
    EXTRACT_CONCURRENCY,
    (p) => (p.kind === 'file' ? writeFileEntry(p) : readSymlinkEntry(p)),
  );

  for (const p of planned) {
    if (p.kind !== 'symlink') continue;
    const verdict = checkSymlink(p.path, links);
    if (!verdict.ok) throw unsafeEntry(p.rawName, `is a symlink that ${verdict.reason}`, SYMLINK_FIX);
  }
  for (const p of planned) {
    if (p.kind !== 'symlink') continue;
    const linkTarget = links.get(p.path) ?? '';
    await guard(p.rawName, () => symlink(linkTarget, target(p.path)));
    files++;
  }

  for (const d of dirs) await chmod(target(d), 0o755);
  await chmod(dir, 0o755);
  return { files, unzippedBytes: written };
}

/**
 * Runs `work` over `items`, at most `limit` at a time. After the first failure no new item is
 * started; the ones running are awaited (so nothing writes after we return), then it throws.
 */
async function eachConcurrently<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== null) throw (failure as { err: unknown }).err;
}

/** An entry's data in one buffer: the raw bytes read at once, then inflated synchronously. */
async function readSmallEntry(zipfile: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
  if (entry.isEncrypted()) throw new Error('entry is encrypted');
  const method = entry.compressionMethod;
  if (method !== 0 && method !== 8) throw new Error(`unsupported compression method ${method}; use deflate (the default of zip -r)`);
  const chunks: Buffer[] = [];
  for await (const chunk of await openStream(zipfile, entry, false)) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  let data: Buffer;
  try {
    data = method === 8 ? inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.uncompressedSize) }) : raw;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === 'ERR_BUFFER_TOO_LARGE' ? 'too many bytes in the stream' : (err as Error).message);
  }
  if (data.length !== entry.uncompressedSize) {
    throw new Error(`${data.length > entry.uncompressedSize ? 'too many' : 'not enough'} bytes in the stream (expected ${entry.uncompressedSize}, got ${data.length})`);
  }
  return data;
}

/** Decoded data, or the raw (still compressed) bytes. */
function openStream(zipfile: yauzl.ZipFile, entry: yauzl.Entry, decodeFileData = true): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, stream: Readable): void => (err ? reject(err) : resolve(stream));
    // never pass `decodeFileData: true`: yauzl 3.4.0 then skips inflating (`decompress = options.decodeFileData !== true`)
    if (decodeFileData) zipfile.openReadStream(entry, done);
    else zipfile.openReadStream(entry, { decodeFileData: false }, done);
  });
}

/** Maps a failure while writing one entry to a message naming the entry. */
async function guard<T>(rawName: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof AviaryError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (typeof e.syscall === 'string') {
      if (e.code === 'EEXIST' || e.code === 'ENOTDIR' || e.code === 'EISDIR' || e.code === 'ENAMETOOLONG' || e.code === 'EILSEQ') {
        throw unsafeEntry(rawName, `cannot be unpacked (${e.code})`);
      }
      throw err; // disk full, permissions: a server problem, not the package's
    }
    if (/encrypted/i.test(e.message)) {
      throw new AviaryError('InvalidPackage', `package entry '${printable(rawName)}' is encrypted: create the zip without a password`);
    }
    throw invalidZip(`entry '${printable(rawName)}': ${e.message}`);
  }
}
