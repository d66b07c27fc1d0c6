/**
 * Parses a handler string: `path/file.export` (node) or `path/module.function` (python). The
 * last dot splits; the file part may contain `/` (python also accepts dots: `pkg.mod.handler`
 * means pkg/mod.py, as in Lambda).
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
  const dot = handler.lastIndexOf('.');
  if (dot <= 0 || dot === handler.length - 1) throw fail(`'${handler}' must look like ${shape}, e.g. ${example}`);
  const name = handler.slice(dot + 1);
  let modulePath = handler.slice(0, dot);
  if (runtime === 'python') modulePath = modulePath.replace(/\./g, '/');
  if (!/^[\p{L}\p{N}_$]+$/u.test(name)) throw fail(`'${handler}': '${name}' is not a valid ${runtime === 'node' ? 'export' : 'function'} name`);
  if (modulePath.startsWith('/')) throw fail(`'${handler}' must be relative to the package root (no leading '/'), e.g. ${example}`);
  if (/[\\\0]/.test(modulePath)) throw fail(`'${handler}' may not contain backslashes; use '/' between folders`);
  if (modulePath.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw fail(`'${handler}' must name a file inside the package (no '..', '.' or empty folder names), e.g. ${example}`);
  }
  return { modulePath, name };
}
