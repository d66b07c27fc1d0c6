import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { AviaryError } from '../shared/errors.ts';
import { ChannelInstance } from './channel-instance.ts';
import { ProcessLimit } from './cgroups.ts';
import { bubblewrapArgs, nodeInstallDir, probeBubblewrap, TASK_ROOT, type MountPlan } from './isolation.ts';
import { SandboxProcess } from './process.ts';
import { ProvidedInstance } from './provided-instance.ts';
import { INIT_TIMEOUT_MS, type FunctionSpec, type Instance, type Sandbox } from './types.ts';

const RUNTIMES_HOST_DIR = path.resolve(import.meta.dirname, '..', 'runtimes');
const RUNTIMES_DIR_INSIDE = '/opt/aviary/runtimes';
/** A bootstrap that has not said hello by then is broken (a fresh Node starts in ~55 ms). */
const START_TIMEOUT_MS = 15_000;
const WATCHDOG_INTERVAL_MS = 50;

export interface SandboxOptions {
  isolation: 'auto' | 'bubblewrap' | 'none';
  /** Scratch directory for per-instance mount points (inside the data folder). */
  runDir: string;
  tmpBytes: number;
  fileBytes: number;
  /** Processes and threads one instance may have (a cgroup's pids.max), where cgroups allow. */
  maxProcesses: number;
  logCapBytes: number;
  maxResponseBytes: number;
  /** Says things an operator should know once (e.g. running without isolation). */
  warn: (message: string) => void;
}

type Watched = ChannelInstance | ProvidedInstance;

/**
 * Runs instances as OS processes: inside bubblewrap when it is available (own mount, pid, ipc,
 * uts and user namespaces, read-only code, bounded /tmp), plainly otherwise. Enforces the
 * memory limit with a watchdog over busy instances' resident memory, the file size limit with
 * RLIMIT_FSIZE (prlimit), the number of processes with a cgroup per instance (cgroups.ts), and
 * timeouts in the instances themselves. Instances run under SCHED_BATCH (chrt) where it is
 * available.
 */
export class ProcessSandbox implements Sandbox {
  readonly isolation: 'bubblewrap' | 'none';
  /** The per-instance process limit, or undefined where cgroups could not be used. */
  readonly processLimit: ProcessLimit | undefined;
  readonly #opts: SandboxOptions;
  readonly #busy = new Set<Watched>();
  readonly #watchdog: NodeJS.Timeout;
  readonly #prlimit: boolean;
  readonly #chrt: boolean;
  #python: { executable: string; prefix: string } | undefined;

  constructor(opts: SandboxOptions) {
    this.#opts = opts;
    this.isolation = chooseIsolation(opts);
    this.#prlimit = spawnSync('prlimit', ['--version']).status === 0;
    if (!this.#prlimit) opts.warn('prlimit (util-linux) not found: the per-instance file size limit is not enforced');
    this.#chrt = spawnSync('chrt', ['--batch', '0', 'true']).status === 0;
    const limit = ProcessLimit.setUp(opts.maxProcesses);
    if (limit instanceof ProcessLimit) this.processLimit = limit;
    else opts.warn(`the number of processes and threads of an instance is not limited (a fork bomb in a function can exhaust the host): ${limit.reason}`);
    rmSync(opts.runDir, { recursive: true, force: true });
    mkdirSync(opts.runDir, { recursive: true });
    this.#watchdog = setInterval(() => this.#checkMemory(), WATCHDOG_INTERVAL_MS);
    this.#watchdog.unref();
  }

  async startGeneric(runtime: 'node' | 'python', memoryMB: number): Promise<Instance> {
    const slotDir = this.isolation === 'bubblewrap' ? path.join(this.#opts.runDir, randomUUID()) : undefined;
    if (slotDir) mkdirSync(slotDir, { mode: 0o755 });
    const runtimesDir = this.isolation === 'bubblewrap' ? RUNTIMES_DIR_INSIDE : RUNTIMES_HOST_DIR;
    const argv = runtime === 'node'
      ? [process.execPath, '--enable-source-maps', `--max-old-space-size=${memoryMB}`, `${runtimesDir}/node/bootstrap.mjs`]
      : [this.#pythonInfo().executable, '-s', '-B', `${runtimesDir}/python/bootstrap.py`];
    const proc = this.#spawn(argv, baseEnv(runtime === 'node' ? `${runtimesDir}/node` : `${runtimesDir}/python`), slotDir, true);
    const instance = new ChannelInstance(proc, {
      runtime,
      slotDir,
      logCapBytes: this.#opts.logCapBytes,
      maxResponseBytes: this.#opts.maxResponseBytes + 64 * 1024,
      resultLimitBytes: this.#opts.maxResponseBytes,
      initTimeoutMs: INIT_TIMEOUT_MS,
      onBusyChange: (i, busy) => this.#setBusy(i, busy),
    });
    proc.onExit(() => {
      this.#busy.delete(instance);
      if (slotDir) void rm(slotDir, { recursive: true, force: true });
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        instance.started,
        new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no hello and pong (src/runtimes/PROTOCOL.md) within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS); }),
      ]);
    } catch (err) {
      instance.kill();
      throw new AviaryError('SandboxFailed', `could not start a ${runtime} instance: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    return instance;
  }

  startProvided(): Instance {
    const instance: ProvidedInstance = new ProvidedInstance({
      logCapBytes: this.#opts.logCapBytes,
      maxResponseBytes: this.#opts.maxResponseBytes,
      initTimeoutMs: INIT_TIMEOUT_MS,
      onBusyChange: (i, busy) => this.#setBusy(i, busy),
      spawn: (spec: FunctionSpec, env: Record<string, string>) => {
        const sandboxed = this.isolation === 'bubblewrap';
        const proc = this.#spawn([sandboxed ? `${TASK_ROOT}/bootstrap` : path.join(spec.codeDir, 'bootstrap')],
          { ...baseEnv(sandboxed ? TASK_ROOT : spec.codeDir), ...env, LAMBDA_TASK_ROOT: sandboxed ? TASK_ROOT : spec.codeDir },
          sandboxed ? spec.codeDir : undefined, false, sandboxed ? undefined : spec.codeDir);
        proc.onExit(() => this.#busy.delete(instance));
        return proc;
      },
    });
    return instance;
  }

  async close(): Promise<void> {
    clearInterval(this.#watchdog);
    await this.processLimit?.close();
    await rm(this.#opts.runDir, { recursive: true, force: true });
  }

  #spawn(argv: string[], env: Record<string, string>, mountDir: string | undefined, channel: boolean, cwd?: string): SandboxProcess {
    let command = argv;
    if (mountDir) {
      const plan: MountPlan = { readOnly: this.#readOnlyMounts(), tmpBytes: this.#opts.tmpBytes };
      command = ['bwrap', ...bubblewrapArgs(mountDir, plan), '--', ...argv];
    }
    if (this.#prlimit) command = ['prlimit', `--fsize=${this.#opts.fileBytes}`, '--', ...command];
    // SCHED_BATCH: a woken instance does not preempt the server (which serves every function)
    // on its core; measured +15% warm throughput with short functions (docs/performance.md)
    if (this.#chrt) command = ['chrt', '--batch', '0', ...command];
    let cgroup;
    try {
      cgroup = this.processLimit?.create();
    } catch (err) {
      throw new AviaryError('SandboxFailed', `could not create the cgroup that limits an instance's processes: ${(err as Error).message}`, { cause: err });
    }
    if (cgroup) command = cgroup.wrap(command);
    return new SandboxProcess({ command: command[0]!, args: command.slice(1), env, cwd: cwd ?? (mountDir ? '/' : '/tmp'), channel, cgroup });
  }

  #readOnlyMounts(): [string, string][] {
    const mounts: [string, string][] = [[nodeInstallDir(), nodeInstallDir()], [RUNTIMES_HOST_DIR, RUNTIMES_DIR_INSIDE]];
    const py = this.#pythonInfoIfKnown();
    if (py && !py.prefix.startsWith('/usr/')) mounts.push([py.prefix, py.prefix]);
    return mounts;
  }

  #pythonInfoIfKnown(): { executable: string; prefix: string } | undefined {
    return this.#python;
  }

  /** Finds the server's python3 once (its prefix must be visible inside sandboxes). */
  #pythonInfo(): { executable: string; prefix: string } {
    if (!this.#python) {
      try {
        const out = execFileSync('python3', ['-c', 'import sys, json; print(json.dumps([sys.executable, sys.base_prefix]))'], { encoding: 'utf8', timeout: 10_000 });
        const [executable, prefix] = JSON.parse(out) as [string, string];
        this.#python = { executable, prefix };
      } catch (err) {
        throw new AviaryError('SandboxFailed', `python3 is needed to run python functions but could not be started (${(err as Error).message}); install python3 on the server`);
      }
    }
    return this.#python;
  }

  #setBusy(instance: Watched, busy: boolean): void {
    if (busy) this.#busy.add(instance);
    else this.#busy.delete(instance);
  }

  #checkMemory(): void {
    for (const instance of this.#busy) {
      const spec = instance.spec;
      if (spec && instance.overMemory(spec.memoryMB * 1024 * 1024)) {
        this.#busy.delete(instance);
        instance.killForMemory();
      }
    }
  }
}

function chooseIsolation(opts: SandboxOptions): 'bubblewrap' | 'none' {
  if (opts.isolation === 'none') {
    opts.warn('isolation is off (--isolation none): functions run as plain processes with the server\'s user and can read its files');
    return 'none';
  }
  const probe = probeBubblewrap();
  if (probe.ok) return 'bubblewrap';
  if (opts.isolation === 'bubblewrap') throw new AviaryError('Unavailable', `isolation "bubblewrap" was requested but ${probe.reason}`);
  opts.warn(`running functions WITHOUT isolation: ${probe.reason}. Functions can read the server's files; install bubblewrap to sandbox them`);
  return 'none';
}

/** The environment every instance starts with; nothing of the server's own environment leaks in. */
function baseEnv(runtimeDir: string): Record<string, string> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    HOME: '/tmp',
    TZ: ':UTC',
    LAMBDA_RUNTIME_DIR: runtimeDir,
    LAMBDA_TASK_ROOT: TASK_ROOT,
  };
}

