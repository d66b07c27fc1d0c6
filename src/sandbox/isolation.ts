import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync } from 'node:fs';
import path from 'node:path';

/** What a sandboxed process may see, beyond its own code (mounted read-only at /var/task). */
export interface MountPlan {
  /** Host directories bound read-only: [host path, path inside] (interpreters, runtimes). */
  readOnly: [string, string][];
  /** Private tmpfs size in bytes. */
  tmpBytes: number;
}

export const TASK_ROOT = '/var/task';
/** The sandbox user, as Lambda's (sbx_user1051 is uid 993). */
const SANDBOX_UID = '993';

/** Host paths every sandbox needs: the system's programs and libraries, DNS and TLS roots. */
const SYSTEM_DIRS = ['/usr', '/bin', '/lib', '/lib64', '/lib32', '/sbin'];
const SYSTEM_FILES = ['/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/ssl', '/etc/ca-certificates', '/etc/localtime', '/etc/alternatives'];

/**
 * Checks that bubblewrap exists and can create the namespaces we use (it may be installed but
 * refused by the kernel, e.g. user namespaces disabled). Returns a reason when it cannot.
 */
export function probeBubblewrap(): { ok: true } | { ok: false; reason: string } {
  const r = spawnSync('bwrap', ['--unshare-user', '--uid', SANDBOX_UID, '--unshare-pid', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', 'true'], {
    encoding: 'utf8',
    timeout: 5000,
  });
  if (r.error) return { ok: false, reason: (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)' : r.error.message };
  if (r.status !== 0) return { ok: false, reason: `bwrap failed: ${r.stderr.trim() || `exit ${r.status}`}` };
  return { ok: true };
}

/**
 * bwrap arguments for one instance: new user, pid, ipc and uts namespaces, all capabilities
 * dropped, the system read-only, a bounded private /tmp, the code read-only at /var/task, and
 * nothing else of the host (the server's data folder and other functions stay invisible).
 * The network namespace is shared: functions may call out, and provided runtimes reach the
 * Runtime API on loopback.
 */
export function bubblewrapArgs(codeDir: string, plan: MountPlan): string[] {
  const args = ['--unshare-user', '--uid', SANDBOX_UID, '--gid', SANDBOX_UID, '--unshare-pid', '--unshare-ipc', '--unshare-uts',
    '--unshare-cgroup-try', '--hostname', 'aviary', '--die-with-parent', '--new-session'];
  for (const dir of SYSTEM_DIRS) {
    if (!existsSync(dir)) continue;
    const st = lstatSync(dir);
    // merged-/usr systems: /bin -> usr/bin must stay a symlink inside too
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(dir), dir);
    else args.push('--ro-bind', dir, dir);
  }
  for (const file of SYSTEM_FILES) args.push('--ro-bind-try', file, file);
  for (const [host, inside] of plan.readOnly) args.push('--ro-bind', host, inside);
  args.push('--proc', '/proc', '--dev', '/dev', '--size', String(plan.tmpBytes), '--tmpfs', '/tmp');
  args.push('--ro-bind', codeDir, TASK_ROOT, '--chdir', TASK_ROOT);
  return args;
}

/** The directory holding the running Node binary (bound into sandboxes so `node` runs there). */
export function nodeInstallDir(): string {
  return path.dirname(process.execPath);
}
