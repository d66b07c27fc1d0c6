/**
 * Syntax-checks the package's own JavaScript (everything outside node_modules) with esbuild,
 * so a typo fails the deploy instead of the first invocation. `.mjs` is parsed as ESM and
 * `.cjs` as CommonJS; for `.js` esbuild decides from the syntax itself.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { buildFailed, esbuildMessages } from './esbuild-errors.ts';
import { listFiles } from './files.ts';

const CONCURRENCY = 8;

/** `skip` holds package-relative paths not to check (our own bundle). Returns the count checked. */
export async function checkJavaScriptSyntax(root: string, skip: ReadonlySet<string>, progress: (message: string) => void): Promise<number> {
  const files = (await listFiles(root, (dir) => dir === 'node_modules')).filter((f) => /\.[cm]?js$/.test(f) && !skip.has(f));
  if (files.length === 0) return 0;
  progress(`checking syntax of ${files.length} ${files.length === 1 ? 'file' : 'files'}`);
  const errors: esbuild.Message[][] = files.map(() => []);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < files.length; i = next++) {
      const file = files[i] as string;
      const code = await readFile(join(root, file));
      try {
        await esbuild.transform(code, {
          loader: 'js',
          sourcefile: file,
          format: file.endsWith('.mjs') ? 'esm' : file.endsWith('.cjs') ? 'cjs' : undefined,
          target: 'esnext',
          logLevel: 'silent',
        });
      } catch (err) {
        const messages = esbuildMessages(err);
        if (!messages) throw err;
        errors[i] = messages;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, files.length) }, worker));
  const all = errors.flat();
  if (all.length > 0) throw buildFailed(all);
  return files.length;
}
