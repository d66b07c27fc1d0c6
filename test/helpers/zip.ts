/**
 * Builds zip archives in memory for tests. Any entry name is possible, including the unsafe
 * ones (`../evil`, `/etc/x`, `..\evil`) that yazl refuses: those are written under a
 * placeholder of the same byte length and patched into the finished archive.
 */
import yazl from 'yazl';

export interface ZipEntrySpec {
  /** Path inside the zip; a trailing `/` makes a directory entry. */
  name: string;
  content?: string | Buffer;
  /** Unix permission bits (0o755) or a full mode (0o100755); files default to 0o644. */
  mode?: number;
  /** Makes the entry a symlink pointing here (stored as the entry's data, mode S_IFLNK). */
  symlinkTo?: string;
}

const S_IFMT = 0o170000;

export async function zipFromEntries(entries: ZipEntrySpec[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  const patches: { placeholder: Buffer; name: Buffer }[] = [];
  entries.forEach((entry, index) => {
    const isDirectory = entry.name.endsWith('/') && entry.symlinkTo === undefined;
    const stored = isDirectory ? entry.name.slice(0, -1) : entry.name;
    let name = stored;
    if (needsPatch(stored)) {
      const length = Buffer.byteLength(stored);
      const tag = `p${index}`;
      if (length < tag.length) throw new Error(`zipFromEntries: name '${stored}' is too short to patch in`);
      name = tag + '~'.repeat(length - tag.length);
      patches.push({ placeholder: Buffer.from(name), name: Buffer.from(stored) });
    }
    if (isDirectory) {
      zip.addEmptyDirectory(name, { mode: withType(entry.mode ?? 0o755, 0o040000) });
    } else if (entry.symlinkTo !== undefined) {
      zip.addBuffer(Buffer.from(entry.symlinkTo), name, { mode: withType(entry.mode ?? 0o777, 0o120000, true), compress: false });
    } else {
      const content = typeof entry.content === 'string' ? Buffer.from(entry.content) : (entry.content ?? Buffer.alloc(0));
      zip.addBuffer(content, name, { mode: withType(entry.mode ?? 0o644, 0o100000) });
    }
  });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream as AsyncIterable<Buffer>) chunks.push(chunk);
  const archive = Buffer.concat(chunks);
  for (const { placeholder, name } of patches) {
    let at = archive.indexOf(placeholder);
    if (at === -1) throw new Error('zipFromEntries: placeholder not found');
    while (at !== -1) {
      name.copy(archive, at);
      at = archive.indexOf(placeholder, at + name.length);
    }
  }
  return archive;
}

function needsPatch(name: string): boolean {
  return name.includes('\\') || name.startsWith('/') || /^[a-zA-Z]:/.test(name) || name.split('/').includes('..');
}

function withType(mode: number, type: number, force = false): number {
  return (mode & S_IFMT) !== 0 && !force ? mode : (mode & 0o7777) | type;
}
