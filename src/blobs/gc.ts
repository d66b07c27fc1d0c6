import type { BlobStore } from './index.ts';
import type { BuiltPackages } from './built-packages.ts';

/** Package digests and build ids of every version there is. */
export interface CodeInUse {
  digests: ReadonlySet<string>;
  buildIds: ReadonlySet<string>;
}

/**
 * Removes uploaded packages and builds that no version uses (the code of deleted functions,
 * uploads never deployed) last used before `unusedSince`. The collector leaves an hour's grace:
 * an upload is followed by its deploy, and a build by its version, well within it, and asking
 * whether a package is stored (what `aviary deploy` does before it skips an upload) counts as a use.
 */
async function collectUnused(blobs: BlobStore, packages: BuiltPackages, inUse: CodeInUse, unusedSince: number): Promise<void> {
  for (const b of await packages.list()) {
    if (!inUse.buildIds.has(b.buildId) && b.builtAt <= unusedSince) await packages.remove(b.buildId);
  }
  for (const b of await blobs.list()) {
    if (!inUse.digests.has(b.digest) && b.usedAt <= unusedSince) await blobs.delete(b.digest);
  }
}

export interface PackageCollectorOptions {
  blobs: BlobStore;
  packages: BuiltPackages;
  inUse: () => CodeInUse;
  graceMs: number;
  everyMs: number;
  warn: (message: string) => void;
}

/**
 * Runs `collectUnused` at start, every `everyMs`, and when asked (after a function is deleted),
 * one pass at a time. A failed pass is reported and tried again at the next one.
 */
export class PackageCollector {
  readonly #o: PackageCollectorOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;

  constructor(opts: PackageCollectorOptions) {
    this.#o = opts;
  }

  start(): void {
    this.#timer = setInterval(() => void this.run(), this.#o.everyMs);
    this.#timer.unref();
    void this.run();
  }

  /** A pass now, or right after the one running; resolves when it is done. */
  run(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        try {
          const { blobs, packages, inUse, graceMs } = this.#o;
          await collectUnused(blobs, packages, inUse(), Date.now() - graceMs);
        } catch (err) {
          this.#o.warn(`removing unused code packages failed: ${(err as Error).message}; trying again in ${Math.round(this.#o.everyMs / 60_000)} min`);
        }
      } while (this.#again);
      this.#running = undefined;
    })();
    return this.#running;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
