// Finding the server's pids cgroup from /proc/self/cgroup and /proc/self/mountinfo
// (src/sandbox/cgroups.ts): cgroup v1, v2, hybrid hosts, and a container's namespaced view.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { locatePidsCgroup } from '../../src/sandbox/cgroups.ts';

const V1_MOUNTS = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;
const V2_MOUNTS = '30 23 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n';

/** [case, /proc/self/cgroup, /proc/self/mountinfo, what is found] */
const CASES: [string, string, string, ReturnType<typeof locatePidsCgroup>][] = [
  ['cgroup v1 (and hybrid): the pids hierarchy wins over the unified one, which has no pids controller there',
    '9:name=systemd:/\n8:pids:/user.slice/session-1.scope\n1:cpu:/\n0::/user.slice/session-1.scope\n', V1_MOUNTS,
    { version: 1, dir: '/sys/fs/cgroup/pids/user.slice/session-1.scope' }],
  ['cgroup v1 with the server in the root cgroup', '8:pids:/\n0::/\n', V1_MOUNTS, { version: 1, dir: '/sys/fs/cgroup/pids' }],
  ['cgroup v1 with co-mounted controllers (pids listed among others)', '4:memory,pids:/aviary.service\n',
    '50 31 0:40 / /sys/fs/cgroup/pids,memory rw - cgroup cgroup rw,memory,pids\n', { version: 1, dir: '/sys/fs/cgroup/pids,memory/aviary.service' }],
  ['cgroup v2: the unified hierarchy', '0::/system.slice/aviary.service\n', V2_MOUNTS, { version: 2, dir: '/sys/fs/cgroup/system.slice/aviary.service' }],
  ['a mount that shows a subtree only (its root field) is joined without repeating that subtree', '0::/kubepods/pod1/c1\n',
    '30 23 0:27 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n', { version: 2, dir: '/sys/fs/cgroup/c1' }],
  ['escaped spaces in a mount point', '8:pids:/\n', '39 31 0:36 / /mnt/cg\\040pids rw - cgroup cgroup rw,pids\n', { version: 1, dir: '/mnt/cg pids' }],
  ['no cgroup mounts at all: says so', '0::/\n', '22 1 0:21 / /proc rw - proc proc rw\n', { reason: 'no cgroup hierarchy with the pids controller is mounted' }],
];

describe('locatePidsCgroup', () => {
  for (const [name, self, mounts, expected] of CASES) {
    test(name, () => assert.deepEqual(locatePidsCgroup(self, mounts), expected));
  }
});
