import { link, mkdir, readdir, readlink, symlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Populates `to` with hard links to every file of `from` (same file system). A generic
 * sandbox already has `to` bound read-only at /var/task, so linking the code in is how a
 * pre-started process gets its function without a restart: no bytes are copied.
 */
export async function linkTree(from: string, to: string): Promise<void> {
  const entries = await readdir(from, { withFileTypes: true });
  await Promise.all(entries.map(async (e) => {
    const src = path.join(from, e.name);
    const dst = path.join(to, e.name);
    if (e.isDirectory()) {
      await mkdir(dst, { mode: 0o755 });
      await linkTree(src, dst);
    } else if (e.isSymbolicLink()) {
      await symlink(await readlink(src), dst);
    } else if (e.isFile()) {
      await link(src, dst);
    }
  }));
}
