/**
 * Bundles a TypeScript handler into one ESM file next to it (`src/app.ts` → `src/app.mjs`),
 * with a linked source map so `node --enable-source-maps` reports the user's .ts lines.
 * The package's own node_modules stay external and are resolved at run time.
 */
import { access, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { AviaryError } from '../shared/errors.ts';
import { buildFailed, describeMessage, esbuildMessages } from './esbuild-errors.ts';

/**
 * CommonJS-style code (`require`, `__filename`, `__dirname`) keeps working in the ESM bundle.
 * `require` must be declared under its own name for esbuild's `__require` shim (esbuild
 * renames any user binding called `require`); the other two get private names and `define`
 * points only free references at them, so user code that declares its own `__dirname` (the
 * usual ESM idiom) does not clash with the banner.
 */
const BANNER = [
  "import { createRequire as __aviaryCreateRequire } from 'node:module';",
  "import { fileURLToPath as __aviaryFileURLToPath } from 'node:url';",
  "import { dirname as __aviaryDirname } from 'node:path';",
  'const require = __aviaryCreateRequire(import.meta.url);',
  'const __aviary_filename = __aviaryFileURLToPath(import.meta.url);',
  'const __aviary_dirname = __aviaryDirname(__aviary_filename);',
].join('\n');

export interface BundleResult {
  /** Package-relative path of the bundle (`src/app.mjs`). */
  outfile: string;
  warnings: string[];
}

/** `file` is package-relative (`src/app.ts`). */
export async function bundleTypeScript(root: string, file: string, progress: (message: string) => void): Promise<BundleResult> {
  const outfile = await freeOutputName(root, file.replace(/\.[cm]?ts$/, ''));
  progress(`bundling ${file} with esbuild`);
  let result: esbuild.BuildResult;
  try {
    result = await esbuild.build({
      absWorkingDir: root,
      entryPoints: [join(root, file)],
      outfile: join(root, outfile),
      bundle: true,
      platform: 'node',
      target: 'node24',
      format: 'esm',
      packages: 'external',
      sourcemap: true,
      banner: { js: BANNER },
      define: { __filename: '__aviary_filename', __dirname: '__aviary_dirname' },
      logLevel: 'silent',
      write: true,
    });
  } catch (err) {
    const messages = esbuildMessages(err);
    if (messages) throw buildFailed(messages);
    throw err;
  }
  await chmod(join(root, outfile), 0o644);
  await chmod(join(root, `${outfile}.map`), 0o644);
  const warnings = result.warnings.slice(0, 5).map((w) => `esbuild: ${describeMessage(w).replace(/^syntax error/, 'warning')}`);
  return { outfile, warnings };
}

/**
 * `base.mjs`, where the runtime looks for the handler's module. A package that already has
 * something there or at `base.mjs.map` (a folder, a stale map) is refused rather than
 * overwritten; another name would not be found by the runtime.
 */
async function freeOutputName(root: string, base: string): Promise<string> {
  const name = `${base}.mjs`;
  for (const taken of [name, `${name}.map`]) {
    if (await exists(join(root, taken))) {
      throw new AviaryError('InvalidPackage',
        `${base}.ts is bundled to ${name} (with ${name}.map), but the package already has '${taken}': remove or rename it in the package`);
    }
  }
  return name;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}
