import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { InstanceCgroup } from './cgroups.ts';
import { LineSplitter } from './lines.ts';
import { ProcTreeReader } from './proc-tree.ts';
import type { ExitInfo, LogLine } from './types.ts';

const MAX_LOG_LINE = 256 * 1024;

export interface SpawnSpec {
  /** argv[0] and the rest; already wrapped in prlimit/bwrap by the caller when sandboxed. */
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** Extra pipes: fd 3 (host → runtime) and fd 4 (runtime → host) for our own bootstraps. */
  channel: boolean;
  /** The cgroup `command` joins (already wrapped by the caller), removed once the process exits. */
  cgroup?: InstanceCgroup | undefined;
}

/**
 * One OS process of a sandbox: spawning, raw stdout/stderr lines, exit, kill and memory.
 * The protocols on top (our fd channel, the Lambda Runtime API) live in their own files.
 */
export class SandboxProcess {
  readonly child: ChildProcess;
  readonly cgroup: InstanceCgroup | undefined;
  #exit: ExitInfo | undefined;
  #killReason: ExitInfo['reason'] = null;
  readonly #exitListeners: ((info: ExitInfo) => void)[] = [];
  /** Output lines from fd 1 and 2, as they arrive. */
  onOutput: (line: LogLine) => void = () => {};
  /** Last stderr lines, kept to explain a crash (e.g. V8's "heap out of memory"). */
  readonly stderrTail: string[] = [];
  /** The last precise memory reading (see overMemory), while the RSS sum is over the limit. */
  #precise: { at: number; sumBytes: number; bytes: number } | undefined;
  /** Made on the first memory check, closed at exit. */
  #tree: ProcTreeReader | undefined;

  constructor(spec: SpawnSpec) {
    this.child = spawn(spec.command, spec.args, {
      env: spec.env,
      cwd: spec.cwd,
      // own process group, so kill() reaches every process it started
      detached: true,
      stdio: spec.channel ? ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
    });
    this.cgroup = spec.cgroup;
    if (spec.cgroup) this.onExit(() => spec.cgroup!.remove());
    this.#capture(this.child.stdout!, 'stdout');
    this.#capture(this.child.stderr!, 'stderr');
    this.child.on('error', () => this.#exited(null, null));
    this.child.on('exit', (code, signal) => this.#exited(code, signal));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.#exit === undefined;
  }

  #capture(stream: NodeJS.ReadableStream, name: 'stdout' | 'stderr'): void {
    const emit = (message: string): void => {
      if (name === 'stderr') {
        this.stderrTail.push(message);
        if (this.stderrTail.length > 20) this.stderrTail.shift();
      }
      this.onOutput({ time: Date.now(), stream: name, message });
    };
    const lines = new LineSplitter(emit, { maxLineBytes: MAX_LOG_LINE, onOverflow: () => emit('[aviary: line longer than 256 KB dropped]') });
    stream.on('data', (chunk: Buffer) => lines.push(chunk));
    stream.on('end', () => {
      const rest = lines.flush();
      if (rest) emit(rest);
    });
  }

  #exited(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#exit) return;
    this.#exit = { code, signal, reason: this.#killReason };
    this.#tree?.close();
    for (const l of this.#exitListeners) l(this.#exit);
  }

  onExit(listener: (info: ExitInfo) => void): void {
    if (this.#exit) listener(this.#exit);
    else this.#exitListeners.push(listener);
  }

  kill(reason: Exclude<ExitInfo['reason'], null> = 'killed'): void {
    if (!this.alive || this.child.pid === undefined) return;
    this.#killReason ??= reason;
    try {
      process.kill(-this.child.pid, 'SIGKILL');
    } catch {
      this.child.kill('SIGKILL');
    }
  }

  /**
   * Whether the process and its descendants use more than `limitBytes`. Summing each one's
   * RSS (statm) is cheap, but counts pages they share once per process: a function with 100
   * `sleep` children passes 128 MB that way. So a sum over the limit is measured again
   * precisely: the largest process's RSS plus the private memory of every other one
   * (`smaps_rollup`, 40 µs to 0.3 ms a process). While the sum stays over, that is redone at
   * most once a second, or at once when the sum has grown by more than the precise figure's
   * margin below the limit.
   */
  overMemory(limitBytes: number): boolean {
    const root = this.child.pid;
    if (root === undefined || !this.alive) return false;
    const tree = (this.#tree ??= new ProcTreeReader(root)).read();
    let sum = 0;
    for (const p of tree) sum += p.rssBytes;
    if (sum <= limitBytes) {
      this.#precise = undefined;
      return false;
    }
    const now = performance.now();
    const last = this.#precise;
    if (last && now - last.at < PRECISE_EVERY_MS && sum - last.sumBytes < limitBytes - last.bytes) return false;
    const bytes = preciseBytes(tree);
    this.#precise = { at: now, sumBytes: sum, bytes };
    return bytes > limitBytes;
  }
}

/** How often, at most, a tree whose RSS sum stays over its limit is measured precisely. */
const PRECISE_EVERY_MS = 1000;

/** The largest process's RSS plus the others' private memory: shared pages counted once. */
function preciseBytes(tree: { pid: number; rssBytes: number }[]): number {
  let largest = 0;
  for (let i = 1; i < tree.length; i++) if (tree[i]!.rssBytes > tree[largest]!.rssBytes) largest = i;
  let bytes = 0;
  tree.forEach((p, i) => {
    bytes += i === largest ? p.rssBytes : privateBytes(p.pid) ?? p.rssBytes;
  });
  return bytes;
}

/** Private_Clean + Private_Dirty from /proc/PID/smaps_rollup; undefined if it cannot be read. */
function privateBytes(pid: number): number | undefined {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'latin1');
    let kb = 0;
    for (const m of rollup.matchAll(/^Private_(?:Clean|Dirty):\s+(\d+) kB$/gm)) kb += Number(m[1]);
    return kb * 1024;
  } catch {
    return undefined; // gone, or a kernel without smaps_rollup: its RSS counts
  }
}

/** Lambda's wording for a runtime that exited, extended with the reason when we know it. */
export function describeExit(info: ExitInfo, memoryMB: number, stderrTail: readonly string[]): { errorType: string; errorMessage: string } {
  const heapOom = stderrTail.some((l) => l.includes('JavaScript heap out of memory') || l.includes('MemoryError'));
  if (info.reason === 'memory' || heapOom) {
    return {
      errorType: 'Runtime.OutOfMemory',
      errorMessage: `Runtime exited: memory limit of ${memoryMB} MB exceeded; deploy with a larger --memory or use less memory`,
    };
  }
  const how = info.signal ? `signal: ${info.signal === 'SIGKILL' ? 'killed' : info.signal}` : `exit status ${info.code ?? 'unknown'}`;
  return { errorType: 'Runtime.ExitError', errorMessage: `Runtime exited with error: ${how}` };
}
