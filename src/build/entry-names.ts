/**
 * Turns the raw name of a zip entry into a safe relative path, or explains why it is unsafe.
 * Backslashes count as separators (zips made on Windows use them), so `..\evil` is caught
 * like `../evil`.
 */
import { AviaryError } from '../shared/errors.ts';

export const ZIP_FIX = 'create it with `zip -r` from inside the folder (cd DIR && zip -r ../function.zip .) or let `aviary deploy DIR` package the folder';

export function unsafeEntry(rawName: string, problem: string, fix: string = ZIP_FIX): AviaryError {
  return new AviaryError('InvalidPackage', `package entry '${printable(rawName)}' ${problem}: ${fix}`);
}

/** Returns the normalised path (`a/b.js`), or '' for an entry naming the package root (`./`). */
export function normalizeEntryName(rawName: string): string {
  if (rawName.includes('\0')) throw unsafeEntry(rawName, 'contains a NUL character');
  const name = rawName.replace(/\\/g, '/');
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) throw unsafeEntry(rawName, 'has an absolute path; entries must be relative to the package root');
  const segments: string[] = [];
  for (const segment of name.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      throw unsafeEntry(rawName, `would be written outside the package ('..' segment${rawName.includes('\\') ? '; backslashes count as separators' : ''})`);
    }
    segments.push(segment);
  }
  return segments.join('/');
}

/** Control characters are shown escaped so a message cannot be used to forge log lines. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
