/**
 * Decides whether a symlink in a package stays inside the package. Resolution is physical,
 * like the kernel's: a symlink met along the way is followed before a later `..` is applied,
 * so `a -> d1/d2/l/..` with `d1/d2/l -> ../..` is caught although it looks harmless written
 * down. Only the package's own symlinks are known; everything else is a plain name.
 */

const MAX_HOPS = 40; // Linux's MAXSYMLINKS

export type SymlinkVerdict = { ok: true; resolved: string } | { ok: false; reason: string };

/** `links` maps each symlink's package path (`a/b`) to its target as stored in the zip. */
export function checkSymlink(linkPath: string, links: ReadonlyMap<string, string>): SymlinkVerdict {
  let hops = 0;
  const walk = (base: string[], target: string): string[] | string => {
    if (target === '') return 'has an empty target';
    if (target.startsWith('/')) return `points to the absolute path '${target}'; use a relative target inside the package`;
    const parts = [...base];
    for (const segment of target.split('/')) {
      if (segment === '' || segment === '.') continue;
      if (segment === '..') {
        if (parts.length === 0) return `points to '${target}', outside the package`;
        parts.pop();
        continue;
      }
      parts.push(segment);
      const next = links.get(parts.join('/'));
      if (next === undefined) continue;
      if (++hops > MAX_HOPS) return 'is part of a symlink loop';
      const resolved = walk(parts.slice(0, -1), next);
      if (typeof resolved === 'string') return resolved === 'is part of a symlink loop' ? resolved : `points to '${target}', which leads outside the package through another symlink`;
      parts.splice(0, parts.length, ...resolved);
    }
    return parts;
  };
  const target = links.get(linkPath);
  if (target === undefined) throw new Error(`checkSymlink: ${linkPath} is not a symlink`);
  const base = linkPath.split('/').slice(0, -1);
  const result = walk(base, target);
  return typeof result === 'string' ? { ok: false, reason: result } : { ok: true, resolved: result.join('/') };
}
