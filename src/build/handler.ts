/**
 * Parses a handler string: `path/file.export` (node) or `path/module.function` (python), split
 * as Lambda splits them (see below); the file part may contain `/`.
 */
import { validationError } from '../shared/errors.ts';

export interface ParsedHandler {
  /** Package-relative path without extension: `src/app`, `pkg/mod`. */
  modulePath: string;
  /** The export (node) or function (python) name. */
  name: string;
}

export function parseHandler(runtime: 'node' | 'python', handler: string | undefined): ParsedHandler {
  const example = runtime === 'node' ? 'index.handler or src/app.handler' : 'app.handler or pkg/module.handler';
  const shape = runtime === 'node' ? 'FILE.EXPORT' : 'MODULE.FUNCTION';
  const fail = (message: string) => validationError([{ path: 'handler', message }], 'function config');
  if (handler === undefined || handler === '') throw fail(`is required for the ${runtime} runtime: set it to ${shape}, e.g. ${example}`);
  // Lambda's rules: node splits at the first dot after the last '/' (`index.a.b` is export a.b of
  // index), python at the last dot (`pkg.mod.handler` is handler of pkg/mod.py)
  const dot = runtime === 'node' ? handler.indexOf('.', handler.lastIndexOf('/') + 1) : handler.lastIndexOf('.');
  if (dot <= 0 || dot === handler.length - 1) throw fail(`'${handler}' must look like ${shape}, e.g. ${example}`);
  const name = handler.slice(dot + 1);
  let modulePath = handler.slice(0, dot);
  if (runtime === 'python') modulePath = modulePath.replace(/\./g, '/');
  if (!name.split('.').every((part) => /^[\p{L}\p{N}_$]+$/u.test(part))) throw fail(`'${handler}': '${name}' is not a valid ${runtime === 'node' ? 'export' : 'function'} name`);
  if (modulePath.startsWith('/')) throw fail(`'${handler}' must be relative to the package root (no leading '/'), e.g. ${example}`);
  if (/[\\\0]/.test(modulePath)) throw fail(`'${handler}' may not contain backslashes; use '/' between folders`);
  if (modulePath.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw fail(`'${handler}' must name a file inside the package (no '..', '.' or empty folder names), e.g. ${example}`);
  }
  return { modulePath, name };
}
