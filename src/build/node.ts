/**
 * The node runtime: finds the handler file (`.js/.mjs/.cjs` run as is, `.ts/.mts/.cts`
 * bundled with esbuild) and syntax-checks the package's JavaScript.
 */
import { AviaryError } from '../shared/errors.ts';
import { checkJavaScriptSyntax } from './js-syntax.ts';
import { describeContents, isFile, wrappingFolder } from './files.ts';
import { parseHandler } from './handler.ts';
import type { RuntimeBuild } from './runtime-build.ts';
import { bundleTypeScript } from './typescript.ts';

const JS_EXTENSIONS = ['.js', '.mjs', '.cjs'];
const TS_EXTENSIONS = ['.ts', '.mts', '.cts'];

export async function buildNode(root: string, handler: string | undefined, progress: (message: string) => void): Promise<RuntimeBuild> {
  const { modulePath, name } = parseHandler('node', handler);
  const candidates = [...JS_EXTENSIONS, ...TS_EXTENSIONS].map((ext) => modulePath + ext);
  const present: string[] = [];
  for (const candidate of candidates) if (await isFile(root, candidate)) present.push(candidate);
  const found = present[0];
  if (found === undefined) throw await handlerFileMissing(root, modulePath, name, candidates);

  const warnings: string[] = [];
  const typescript = present.find((p) => TS_EXTENSIONS.some((ext) => p.endsWith(ext)));
  if (typescript !== undefined && typescript !== found) {
    warnings.push(`found both ${found} and ${typescript}: running ${found} as is; remove it from the package to have ${typescript} bundled instead`);
  }

  let entry = found;
  let bundled = false;
  const skip = new Set<string>();
  if (found === typescript) {
    const bundle = await bundleTypeScript(root, found, progress);
    entry = bundle.outfile;
    bundled = true;
    skip.add(bundle.outfile);
    warnings.push(...bundle.warnings);
  }
  await checkJavaScriptSyntax(root, skip, progress);
  return { entry, bundled, warnings };
}

async function handlerFileMissing(root: string, modulePath: string, name: string, candidates: string[]): Promise<AviaryError> {
  const looked = candidates.join(', ');
  const folder = await wrappingFolder(root, candidates);
  const hint = folder
    ? `; the files are inside the folder '${folder}/': zip the folder's contents rather than the folder, or set handler to '${folder}/${modulePath}.${name}'`
    : `; set handler to FILE.EXPORT where FILE is the path of the handler file without its extension`;
  return new AviaryError(
    'InvalidPackage',
    `handler file '${modulePath}' not found in the package (looked for ${looked}); ${await describeContents(root)}${hint}`,
  );
}
