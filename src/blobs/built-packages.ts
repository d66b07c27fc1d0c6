import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AviaryError } from '../shared/errors.ts';
import type { BlobStore } from './index.ts';
import type { Runtime, VersionRecord } from '../store/index.ts';
import type { BuildLimits, BuildResult } from '../build/index.ts';

/** What `prepare` names a build: the first 40 hex digits of a sha256. */
const BUILD_ID = /^[0-9a-f]{40}$/;

type Build = (input: { zip: Buffer; runtime: Runtime; handler: string | undefined; outDir: string; limits?: Partial<BuildLimits> }) => Promise<BuildResult>;

/**
 * Built packages, one immutable directory per (package digest, runtime, handler) under the
 * data folder. A deploy builds once; a node that lacks the directory (restored data folder,
 * another cluster node) rebuilds it from the stored zip on first use.
 */
export class BuiltPackages {
  readonly #blobs: BlobStore;
  readonly #dir: string;
  readonly #build: Build;
  readonly #limits: Partial<BuildLimits>;
  readonly #inFlight = new Map<string, Promise<{ buildId: string; codeSize: number; warnings: string[] }>>();

  constructor(opts: { blobs: BlobStore; dir: string; build: Build; limits: Partial<BuildLimits> }) {
    this.#blobs = opts.blobs;
    this.#dir = opts.dir;
    this.#build = opts.build;
    this.#limits = opts.limits;
  }

  dirFor(buildId: string): string {
    return path.join(this.#dir, buildId);
  }

  /** Builds the package for this runtime and handler unless already built. Concurrent calls share one build. */
  prepare(digest: string, runtime: Runtime, handler: string | null): Promise<{ buildId: string; codeSize: number; warnings: string[] }> {
    const buildId = createHash('sha256').update(`${digest}\n${runtime}\n${handler ?? ''}`).digest('hex').slice(0, 40);
    let p = this.#inFlight.get(buildId);
    if (!p) {
      p = this.#prepare(buildId, digest, runtime, handler).finally(() => this.#inFlight.delete(buildId));
      this.#inFlight.set(buildId, p);
    }
    return p;
  }

  async #prepare(buildId: string, digest: string, runtime: Runtime, handler: string | null): Promise<{ buildId: string; codeSize: number; warnings: string[] }> {
    const outDir = this.dirFor(buildId);
    const zip = await this.#blobs.get(digest);
    if (!zip) throw new AviaryError('PackageNotFound', `package ${digest} is not stored on this server; upload it with POST /v1/packages (aviary deploy does this for you)`);
    const metaFile = `${outDir}.json`;
    if (existsSync(outDir)) {
      // reused by a new version: a use, so the collector leaves it until that version is stored
      const now = new Date();
      await utimes(outDir, now, now).catch(() => {});
      const meta = JSON.parse(await readFile(metaFile, 'utf8').catch(() => '{}')) as { unzippedBytes?: number; warnings?: string[] };
      return { buildId, codeSize: meta.unzippedBytes ?? zip.length, warnings: meta.warnings ?? [] };
    }
    const result = await this.#build({ zip, runtime, handler: handler ?? undefined, outDir, limits: this.#limits });
    await writeFile(metaFile, JSON.stringify({ unzippedBytes: result.unzippedBytes, files: result.files, warnings: result.warnings }));
    return { buildId, codeSize: result.unzippedBytes, warnings: result.warnings };
  }

  /** Every build on disk, with when it was made, except those being built now. */
  async list(): Promise<{ buildId: string; builtAt: number }[]> {
    const out: { buildId: string; builtAt: number }[] = [];
    for (const name of await readdir(this.#dir).catch(() => [])) {
      if (!BUILD_ID.test(name) || this.#inFlight.has(name)) continue;
      const s = await stat(this.dirFor(name)).catch(() => undefined);
      if (s) out.push({ buildId: name, builtAt: s.mtimeMs });
    }
    return out;
  }

  /** Removes a build's directory and its metadata (instances already running from it keep their open files). */
  async remove(buildId: string): Promise<void> {
    if (!BUILD_ID.test(buildId)) throw new Error(`not a build id: ${buildId}`);
    await rm(this.dirFor(buildId), { recursive: true, force: true });
    await rm(`${this.dirFor(buildId)}.json`, { force: true });
  }

  /** The directory of a version's code, rebuilt from its package if missing. */
  async codeDir(version: VersionRecord): Promise<string> {
    const dir = this.dirFor(version.buildId);
    if (!existsSync(dir)) await this.prepare(version.packageDigest, version.runtime, version.handler);
    return dir;
  }
}
