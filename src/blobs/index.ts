import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';

export { BuiltPackages } from './built-packages.ts';
export { PackageCollector, type CodeInUse } from './gc.ts';

/** Content-addressed storage of uploaded code packages, keyed by `sha256:<hex>`. */
export interface BlobStore {
  /** Whether it is stored; asking counts as a use (see `list`), as a deploy by digest follows. */
  has(digest: string): Promise<boolean>;
  /** Stores the bytes; returns their digest. Storing the same bytes twice is a no-op. */
  put(bytes: Buffer): Promise<{ digest: string; created: boolean }>;
  get(digest: string): Promise<Buffer | undefined>;
  /** Every blob with its size and when it was last stored or asked about (ms since the epoch). */
  list(): Promise<{ digest: string; bytes: number; usedAt: number }[]>;
  delete(digest: string): Promise<void>;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function isDigest(value: string): boolean {
  return DIGEST.test(value);
}

export function digestOf(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Blobs as files under one directory; writes go to a temp name first, so a reader never sees half a file. */
export class FsBlobStore implements BlobStore {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  #file(digest: string): string {
    if (!isDigest(digest)) throw new Error(`not a sha256 digest: ${digest}`);
    const hex = digest.slice(7);
    return path.join(this.#dir, hex.slice(0, 2), hex);
  }

  async has(digest: string): Promise<boolean> {
    try {
      const now = new Date();
      await utimes(this.#file(digest), now, now);
      return true;
    } catch {
      return false;
    }
  }

  async put(bytes: Buffer): Promise<{ digest: string; created: boolean }> {
    const digest = digestOf(bytes);
    if (await this.has(digest)) return { digest, created: false };
    const file = this.#file(digest);
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
    await writeFile(tmp, bytes, { mode: 0o600 });
    await rename(tmp, file);
    return { digest, created: true };
  }

  async get(digest: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.#file(digest));
    } catch {
      return undefined;
    }
  }

  async list(): Promise<{ digest: string; bytes: number; usedAt: number }[]> {
    const out: { digest: string; bytes: number; usedAt: number }[] = [];
    for (const prefix of await readdir(this.#dir).catch(() => [])) {
      for (const name of await readdir(path.join(this.#dir, prefix)).catch(() => [])) {
        const digest = `sha256:${name}`;
        if (!isDigest(digest) || !name.startsWith(prefix)) continue; // a temp file mid-write, or a stranger
        const s = await stat(path.join(this.#dir, prefix, name)).catch(() => undefined);
        if (s) out.push({ digest, bytes: s.size, usedAt: s.mtimeMs });
      }
    }
    return out;
  }

  async delete(digest: string): Promise<void> {
    await rm(this.#file(digest), { force: true });
  }
}
