import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isRunning } from '../shared/pids.ts';

/**
 * A process limit per instance: each instance runs in a cgroup of its own whose `pids.max`
 * bounds the processes and threads it may have, so a fork bomb in a function stops at its
 * instance's limit instead of exhausting the host. Uses cgroup v2 (a delegated subtree, or the
 * root of a container's cgroup namespace) or v1's `pids` hierarchy, whichever holds the pids
 * controller for the server; found once at start-up. Where neither can be written (no
 * delegation, a read-only cgroupfs), the server runs without the limit and says why.
 */

/** Where the server's own cgroup of the pids controller is, read from /proc (pure, for tests). */
export function locatePidsCgroup(procSelfCgroup: string, mountinfo: string): { version: 1 | 2; dir: string } | { reason: string } {
  const mounts = mountinfo.split('\n').filter(Boolean).map(parseMountinfoLine).filter((m) => m !== undefined);
  const memberships = procSelfCgroup.split('\n').filter(Boolean).map((line) => {
    const [, controllers = '', p = '/'] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    return { controllers: controllers.split(','), path: p };
  });
  // v1: a `cgroup` mount whose super options name the pids controller
  const v1 = mounts.find((m) => m.fstype === 'cgroup' && m.superOptions.split(',').includes('pids'));
  const v1Member = memberships.find((m) => m.controllers.includes('pids'));
  if (v1 && v1Member) return { version: 1, dir: joinCgroupPath(v1, v1Member.path) };
  // v2: the unified hierarchy (whether it has the pids controller is read from the directory)
  const v2 = mounts.find((m) => m.fstype === 'cgroup2');
  const v2Member = memberships.find((m) => m.controllers.length === 1 && m.controllers[0] === '');
  if (v2 && v2Member) return { version: 2, dir: joinCgroupPath(v2, v2Member.path) };
  return { reason: 'no cgroup hierarchy with the pids controller is mounted' };
}

interface Mount { root: string; mountPoint: string; fstype: string; superOptions: string }

/** `36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue` (proc(5)). */
function parseMountinfoLine(line: string): Mount | undefined {
  const [left, right] = line.split(' - ');
  if (left === undefined || right === undefined) return undefined;
  const l = left.split(' ');
  const r = right.split(' ');
  if (l.length < 5 || r.length < 3) return undefined;
  return { root: unescapeMountPath(l[3]!), mountPoint: unescapeMountPath(l[4]!), fstype: r[0]!, superOptions: r[2]! };
}

function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** The directory of cgroup `p` under a mount of its hierarchy (the mount may show a subtree only). */
function joinCgroupPath(m: Mount, p: string): string {
  const inside = m.root !== '/' && (p === m.root || p.startsWith(`${m.root}/`)) ? p.slice(m.root.length) : p;
  return path.join(m.mountPoint, inside).replace(/(.)\/+$/, '$1');
}

/** The cgroups of one server's instances, under `<own cgroup>/aviary-<server pid>`. */
export class ProcessLimit {
  readonly max: number;
  readonly #base: string;
  readonly #live = new Set<string>();

  private constructor(base: string, max: number) {
    this.#base = base;
    this.max = max;
  }

  /** Sets up the server's subtree; returns why not when the host does not allow it. */
  static setUp(max: number, proc = { cgroup: '/proc/self/cgroup', mountinfo: '/proc/self/mountinfo' }): ProcessLimit | { reason: string } {
    let where;
    try {
      where = locatePidsCgroup(readFileSync(proc.cgroup, 'utf8'), readFileSync(proc.mountinfo, 'utf8'));
    } catch (err) {
      return { reason: `cannot read the server's cgroup (${(err as Error).message})` };
    }
    if ('reason' in where) return where;
    try {
      if (where.version === 2) enablePidsV2(where.dir);
      removeStaleSubtrees(where.dir);
      const base = path.join(where.dir, `aviary-${process.pid}`);
      mkdirSync(base, { recursive: true });
      if (where.version === 2) appendFileSync(path.join(base, 'cgroup.subtree_control'), '+pids');
      const limit = new ProcessLimit(base, max);
      limit.create().remove(); // proves an instance's cgroup can be made and limited
      return limit;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const why = e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS'
        ? `the server may not create cgroups under ${where.dir} (${e.code}); run it as root, or as a systemd service with Delegate=pids`
        : `setting up cgroups under ${where.dir} failed: ${e.message}`;
      return { reason: why };
    }
  }

  /** A fresh cgroup for one instance, limited to `max` processes and threads. */
  create(): InstanceCgroup {
    const dir = path.join(this.#base, randomUUID());
    mkdirSync(dir);
    this.#live.add(dir);
    try {
      writeFileSync(path.join(dir, 'pids.max'), String(this.max));
    } catch (err) {
      rmdirSync(dir);
      this.#live.delete(dir);
      throw err;
    }
    return new InstanceCgroup(dir, this.max, () => this.#live.delete(dir));
  }

  /**
   * Removes the server's subtree once the instances' processes are gone (they end just after
   * the instances were stopped); waits up to `waitMs` for them. Called when the server stops.
   */
  async close(waitMs = 2000): Promise<void> {
    const until = Date.now() + waitMs;
    for (;;) {
      for (const dir of this.#live) if (tryRmdir(dir)) this.#live.delete(dir);
      if (this.#live.size === 0 || Date.now() >= until) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    tryRmdir(this.#base);
  }
}

export class InstanceCgroup {
  readonly dir: string;
  readonly max: number;
  readonly #forget: () => void;
  #attempts = 0;
  #hitsReported = 0;

  constructor(dir: string, max: number, forget: () => void) {
    this.dir = dir;
    this.max = max;
    this.#forget = forget;
  }

  /**
   * `argv` started through /bin/sh, which moves itself into this cgroup and then becomes
   * `argv` (exec): everything the instance ever starts is inside from its first instruction.
   */
  wrap(argv: string[]): string[] {
    return ['/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', path.join(this.dir, 'cgroup.procs'), ...argv];
  }

  /** Times a fork or clone was refused at the limit. */
  #limitHits(): number {
    try {
      return Number(/^max (\d+)/m.exec(readFileSync(path.join(this.dir, 'pids.events'), 'utf8'))?.[1] ?? 0);
    } catch {
      return 0;
    }
  }

  /** A log line for a failed invocation, when forks were refused at the limit since the last one. */
  limitNote(): string | undefined {
    const hits = this.#limitHits();
    if (hits <= this.#hitsReported) return undefined;
    const refused = hits - this.#hitsReported;
    this.#hitsReported = hits;
    return `[aviary: this instance reached its limit of ${this.max} processes and threads; starting another failed ${refused} time${refused === 1 ? '' : 's'} (EAGAIN)]`;
  }

  /**
   * Removes the cgroup once its processes are gone. The processes inside the sandbox's pid
   * namespace end just after its first process, so a busy cgroup is retried for a while.
   */
  remove(): void {
    if (tryRmdir(this.dir) || ++this.#attempts > 50) {
      this.#forget();
      return;
    }
    setTimeout(() => this.remove(), 100).unref();
  }
}

/** cgroup v2: children of `dir` get the pids controller only if `dir` hands it down. */
function enablePidsV2(dir: string): void {
  const available = readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').split(/\s+/);
  if (!available.includes('pids')) {
    throw Object.assign(new Error(`the pids controller is not delegated to ${dir}`), { code: 'EACCES' });
  }
  if (readFileSync(path.join(dir, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes('pids')) return;
  try {
    appendFileSync(path.join(dir, 'cgroup.subtree_control'), '+pids');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EBUSY') throw err;
    // "no internal processes": a cgroup that hands controllers down may hold no process itself,
    // so the server moves into a leaf of its own first (what systemd asks of delegated services)
    const leaf = path.join(dir, 'aviary-server');
    mkdirSync(leaf, { recursive: true });
    writeFileSync(path.join(leaf, 'cgroup.procs'), String(process.pid));
    try {
      appendFileSync(path.join(dir, 'cgroup.subtree_control'), '+pids');
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code !== 'EBUSY') throw again;
      throw Object.assign(new Error(`other processes share the server's cgroup ${dir} (a login session?); start the server as a systemd service with Delegate=pids`), { code: 'EBUSY' });
    }
  }
}

/** `aviary-<pid>` subtrees of servers that are gone (killed before they could clean up). */
function removeStaleSubtrees(dir: string): void {
  for (const name of readdirSync(dir)) {
    const pid = /^aviary-(\d+)$/.exec(name)?.[1];
    if (pid === undefined || Number(pid) === process.pid || isRunning(Number(pid))) continue;
    const subtree = path.join(dir, name);
    try {
      for (const child of readdirSync(subtree, { withFileTypes: true })) if (child.isDirectory()) tryRmdir(path.join(subtree, child.name));
    } catch {
      // raced with another server's clean-up
    }
    tryRmdir(subtree);
  }
}

/** rmdir on cgroupfs removes a cgroup without processes; true when it is gone. */
function tryRmdir(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
