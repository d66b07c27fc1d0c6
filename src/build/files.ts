/** Walks an unpacked package and describes it in error messages. */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Package-relative paths (`src/app.js`) of the regular files under `root`, sorted. Symlinks are
 * not followed (their targets are inside the package and listed in their own right); a
 * directory for which `skipDir(name)` is true is not entered.
 */
export async function listFiles(root: string, skipDir: (name: string) => boolean = () => false): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await readdir(rel === '' ? root : join(root, rel), { withFileTypes: true });
    for (const entry of entries) {
      const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!skipDir(entry.name)) await walk(path);
      } else if (entry.isFile()) {
        out.push(path);
      }
    }
  };
  await walk('');
  return out.sort();
}

/** True when `path` (package-relative) is a regular file, following symlinks inside the package. */
export async function isFile(root: string, path: string): Promise<boolean> {
  try {
    return (await stat(join(root, path))).isFile();
  } catch {
    return false;
  }
}

/** `the package contains: a.js, lib/, … (3 more)` — at most `max` top-level names. */
export async function describeContents(root: string, max = 10): Promise<string> {
  const entries = (await readdir(root, { withFileTypes: true })).map((e) => (e.isDirectory() ? `${e.name}/` : e.name)).sort();
  if (entries.length === 0) return 'the package is empty';
  const shown = entries.slice(0, max).join(', ');
  return `the package contains: ${shown}${entries.length > max ? `, … (${entries.length - max} more)` : ''}`;
}

/**
 * The common mistake of zipping the folder instead of its contents: when the package has a
 * single top-level folder holding one of `candidates`, returns that folder's name.
 */
export async function wrappingFolder(root: string, candidates: string[]): Promise<string | null> {
  const entries = (await readdir(root, { withFileTypes: true })).filter((e) => e.name !== '__MACOSX');
  const only = entries[0];
  if (entries.length !== 1 || only === undefined || !only.isDirectory()) return null;
  for (const candidate of candidates) {
    if (await isFile(root, `${only.name}/${candidate}`)) return only.name;
  }
  return null;
}
