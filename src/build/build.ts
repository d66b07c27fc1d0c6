/**
 * buildPackage: zip in, deployable package directory out, atomically. Everything happens in
 * `${outDir}.tmp-<random>` beside outDir, which is renamed to outDir only when every step
 * succeeded; on any failure the temp dir is removed, so a failed build changes nothing.
 */
import { lstat, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { AviaryError, validationError } from '../shared/errors.ts';
import { parseHandler } from './handler.ts';
import type { BuildLimits } from './limits.ts';
import { describeLimit, formatBytes, resolveLimits } from './limits.ts';
import { buildNode } from './node.ts';
import { buildProvided } from './provided.ts';
import { buildPython } from './python.ts';
import type { RuntimeBuild } from './runtime-build.ts';
import { unzipPackage } from './unzip.ts';

export type Runtime = 'node' | 'python' | 'provided';

export const RUNTIMES: readonly Runtime[] = ['node', 'python', 'provided'];

export interface BuildInput {
  zip: Buffer;
  runtime: Runtime;
  /** Required for node and python; optional for provided (passed to the bootstrap as _HANDLER). */
  handler: string | undefined;
  /** Must not exist yet; its parent is created if needed. */
  outDir: string;
  limits?: Partial<BuildLimits>;
  onProgress?: (message: string) => void;
  /** Interpreter used to check and precompile Python packages (default `python3`). */
  pythonCommand?: string;
}

export interface BuildResult {
  /** Files unpacked from the zip (regular files and symlinks). */
  files: number;
  /** Bytes unpacked from the zip (before bundling or precompiling). */
  unzippedBytes: number;
  /** Package-relative path of the file the runtime loads: `src/app.js`, `src/app.mjs` (bundled TypeScript), `app.py`, `bootstrap`. */
  entry: string | null;
  /** True when `entry` was produced by bundling TypeScript. */
  bundled: boolean;
  warnings: string[];
}

export async function buildPackage(input: BuildInput): Promise<BuildResult> {
  const limits = resolveLimits(input.limits);
  const progress = (message: string): void => {
    try {
      input.onProgress?.(message);
    } catch {
      // a failing progress listener must not fail the build
    }
  };
  if (!RUNTIMES.includes(input.runtime)) {
    throw validationError([{ path: 'runtime', message: `'${String(input.runtime)}' is not a runtime; use one of ${RUNTIMES.join(', ')}` }], 'function config');
  }
  if (input.runtime !== 'provided') parseHandler(input.runtime, input.handler); // fail before unpacking
  if (input.zip.length > limits.maxZipBytes) {
    throw new AviaryError(
      'PayloadTooLarge',
      `package is ${formatBytes(input.zip.length)}, over the maxZipBytes limit of ${describeLimit(limits.maxZipBytes)}: leave out what the function does not need (tests, docs, dev dependencies) or ask the operator to raise the limit`,
    );
  }

  const outDir = resolve(input.outDir);
  if (await exists(outDir)) throw outDirExists(outDir);
  await mkdir(dirname(outDir), { recursive: true });
  const tmp = await mkdtemp(`${outDir}.tmp-`);
  try {
    const unzipped = await unzipPackage(input.zip, tmp, limits, progress);
    const built = await buildRuntime(input, tmp, progress);
    try {
      await rename(tmp, outDir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') throw outDirExists(outDir);
      throw err;
    }
    return { files: unzipped.files, unzippedBytes: unzipped.unzippedBytes, ...built };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

function buildRuntime(input: BuildInput, dir: string, progress: (message: string) => void): Promise<RuntimeBuild> {
  switch (input.runtime) {
    case 'node':
      return buildNode(dir, input.handler, progress);
    case 'python':
      return buildPython(dir, input.handler, progress, input.pythonCommand);
    case 'provided':
      return buildProvided(dir);
  }
}

function outDirExists(outDir: string): AviaryError {
  return new AviaryError('InternalError', `build output directory ${outDir} already exists: the caller must reuse it (cache hit) or remove it before building again`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
