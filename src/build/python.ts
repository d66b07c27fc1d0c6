/**
 * The python runtime: checks the handler module exists, then syntax-checks and precompiles
 * every .py file with one python3 process. The .pyc files go where `compileall` puts them
 * (`__pycache__/mod.cpython-3XX.pyc`) as unchecked-hash pycs: packages are immutable and
 * mounted read-only, so Python never has to compile at cold start and never re-reads a
 * source just to validate its cache. The runtime must use the same python3 (same cache tag).
 */
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AviaryError } from '../shared/errors.ts';
import { describeContents, isFile, listFiles, wrappingFolder } from './files.ts';
import { parseHandler } from './handler.ts';
import type { RuntimeBuild } from './runtime-build.ts';

/** Reads a JSON list of package-relative paths on stdin; prints {"compiled":n,"errors":[…]}. */
const COMPILE_SCRIPT = `
import importlib.util, json, os, py_compile, sys
root = sys.argv[1]
compiled, errors = 0, []
for rel in json.load(sys.stdin):
    path = os.path.join(root, rel)
    cfile = importlib.util.cache_from_source(path)
    try:
        py_compile.compile(path, cfile=cfile, dfile=rel, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except py_compile.PyCompileError as e:
        v = e.exc_value
        text = getattr(v, "text", None)
        errors.append({"file": rel, "type": e.exc_type_name, "line": getattr(v, "lineno", None),
                       "message": getattr(v, "msg", None) or str(v),
                       "text": text.strip() if isinstance(text, str) else None})
        continue
    os.chmod(cfile, 0o644)
    os.chmod(os.path.dirname(cfile), 0o755)
    compiled += 1
json.dump({"compiled": compiled, "errors": errors}, sys.stdout)
`;

interface CompileError {
  file: string;
  type: string;
  line: number | null;
  message: string;
  text: string | null;
}

const MAX_LISTED = 5;

export async function buildPython(
  root: string,
  handler: string | undefined,
  progress: (message: string) => void,
  pythonCommand = 'python3',
): Promise<RuntimeBuild> {
  const { modulePath, name } = parseHandler('python', handler);
  const candidates = [`${modulePath}.py`, `${modulePath}/__init__.py`];
  let entry: string | undefined;
  for (const candidate of candidates) {
    if (await isFile(root, candidate)) {
      entry = candidate;
      break;
    }
  }
  if (entry === undefined) {
    const folder = await wrappingFolder(root, candidates);
    const hint = folder
      ? `; the files are inside the folder '${folder}/': zip the folder's contents rather than the folder, or set handler to '${folder}/${modulePath}.${name}'`
      : '; set handler to MODULE.FUNCTION where MODULE is the path of the .py file without its extension';
    throw new AviaryError(
      'InvalidPackage',
      `handler module '${modulePath}' not found in the package (looked for ${candidates.join(', ')}); ${await describeContents(root)}${hint}`,
    );
  }

  const files = (await listFiles(root, (dir) => dir === '__pycache__')).filter((f) => f.endsWith('.py'));
  progress(`precompiling ${files.length} Python ${files.length === 1 ? 'file' : 'files'}`);
  const result = await runCompiler(pythonCommand, root, files);

  const dependencies = await dependencyRoots(root);
  const isDependency = (file: string): boolean =>
    dependencies.has(file.split('/')[0] ?? '') || file.split('/').some((s) => s === 'site-packages' || s === 'dist-packages');
  const own = result.errors.filter((e) => !isDependency(e.file));
  const theirs = result.errors.filter((e) => isDependency(e.file));
  if (own.length > 0) {
    const listed = own.slice(0, MAX_LISTED).map(describe);
    const more = own.length - listed.length;
    throw new AviaryError('BuildFailed', listed.join('; ') + (more > 0 ? `; … and ${more} more ${more === 1 ? 'error' : 'errors'}` : ''));
  }
  const warnings =
    theirs.length > 0
      ? [`${theirs.length} Python ${theirs.length === 1 ? 'file' : 'files'} of installed dependencies did not compile and will fail if imported (first: ${describe(theirs[0] as CompileError)})`]
      : [];
  return { entry, bundled: false, warnings };
}

/** `syntax error in app.py:3: invalid syntax (x = = 1)` */
function describe(e: CompileError): string {
  const where = e.line ? `${e.file}:${e.line}` : e.file;
  const text = e.text ? ` (${e.text})` : '';
  if (e.type === 'SyntaxError') return `syntax error in ${where}: ${e.message}${text}`;
  if (e.type === 'IndentationError' || e.type === 'TabError') return `syntax error in ${where}: ${e.type}: ${e.message}${text}`;
  return `cannot compile ${where}: ${e.type}: ${e.message}`;
}

/** Top-level names installed by pip (`pip install -t .`), from each `*.dist-info/RECORD`. */
async function dependencyRoots(root: string): Promise<Set<string>> {
  const roots = new Set<string>();
  for (const entry of await readdir(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || !entry.name.endsWith('.dist-info')) continue;
    let record: string;
    try {
      record = await readFile(join(root, entry.name, 'RECORD'), 'utf8');
    } catch {
      continue;
    }
    for (const line of record.split('\n')) {
      const first = line.replace(/^"/, '').split(/[/,]/)[0];
      if (first && !first.startsWith('..') && !first.endsWith('.dist-info')) roots.add(first);
    }
  }
  return roots;
}

function runCompiler(command: string, root: string, files: string[]): Promise<{ compiled: number; errors: CompileError[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, ['-I', '-B', '-c', COMPILE_SCRIPT, root], { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.stdin.on('error', () => {}); // an early exit is reported by 'close' below
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        reject(
          new AviaryError(
            'BuildFailed',
            `cannot check the Python package: ${command} is not installed on the server; the operator must install Python 3 (e.g. \`apt-get install python3\`), the same interpreter the python runtime uses`,
          ),
        );
      } else {
        reject(err);
      }
    });
    child.on('close', (code) => {
      const out = Buffer.concat(stdout).toString('utf8');
      if (code === 0) {
        try {
          resolve(JSON.parse(out) as { compiled: number; errors: CompileError[] });
          return;
        } catch {
          // fall through: report what python printed
        }
      }
      const detail = Buffer.concat(stderr).toString('utf8').trim().split('\n').slice(-3).join(' | ') || `exit code ${String(code)}`;
      reject(new AviaryError('BuildFailed', `${command} failed while precompiling the package (${detail}): check that the server's ${command} is Python 3.8 or newer`));
    });
    child.stdin.end(JSON.stringify(files));
  });
}
