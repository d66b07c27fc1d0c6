/**
 * Everything the benchmark starts (servers, wrk, temp dirs) is registered here and undone by
 * `cleanup()`: on normal exit, on error, and on Ctrl-C / SIGTERM. Processes are ended by PID.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

type Undo = () => Promise<void> | void;

const undo: { label: string; fn: Undo }[] = [];
let cleaning: Promise<void> | undefined;

/** Registers something to undo; returns a function that unregisters it (already undone). */
export function onCleanup(label: string, fn: Undo): () => void {
  const entry = { label, fn };
  undo.push(entry);
  return () => {
    const i = undo.indexOf(entry);
    if (i !== -1) undo.splice(i, 1);
  };
}

/** Runs every registered undo, newest first; each is awaited at most 10 s. */
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    while (undo.length > 0) {
      const { label, fn } = undo.pop()!;
      try {
        await Promise.race([fn(), new Promise((r) => setTimeout(r, 10_000).unref())]);
      } catch (err) {
        process.stderr.write(`bench: cleanup of ${label} failed: ${(err as Error).message}\n`);
      }
    }
  })();
  return cleaning;
}

let interrupted = false;

/** True once Ctrl-C / SIGTERM started the cleanup (failures after that are expected). */
export function wasInterrupted(): boolean {
  return interrupted;
}

/** Ctrl-C and SIGTERM stop everything we started, then exit 130 / 143. */
export function installSignalHandlers(): void {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      interrupted = true;
      process.stderr.write(`\nbench: ${signal} received, stopping the processes it started…\n`);
      cleanup().finally(() => process.exit(code));
    });
  }
}

/** Spawns a child that is killed (SIGTERM, then SIGKILL after 3 s) by cleanup(). */
export function spawnTracked(label: string, command: string, args: string[], options: SpawnOptions): ChildProcess {
  const child = spawn(command, args, options);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const unregister = onCleanup(`${label} (pid ${child.pid})`, async () => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  });
  void exited.then(unregister);
  return child;
}

/** VmRSS of one process in KiB (undefined once it is gone). */
export function rssKiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : 0;
  } catch {
    return undefined;
  }
}

export interface ProcessTree {
  /** Direct children of the process. */
  children: number;
  /** Processes that run functions: spare and specialised instances (bwrap, prlimit, runtime bootstraps). */
  runtimeProcesses: number;
  /** Descendants by kind (`bwrap`, `node bootstrap.mjs`, `python3 bootstrap.py`, `esbuild`, …). */
  kinds: Record<string, number>;
  /** Every process below it (bubblewrap adds its own processes per instance). */
  descendants: number;
  /** Sum of the descendants' VmRSS (KiB); shared pages are counted once per process. */
  descendantsRssKiB: number;
}

/** Every process below `pid` (one walk over /proc). */
export function descendantPids(pid: number): { direct: number[]; all: number[] } {
  const kids = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue;
    }
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so read after the last ')'
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    let list = kids.get(ppid);
    if (!list) kids.set(ppid, (list = []));
    list.push(Number(name));
  }
  const direct = kids.get(pid) ?? [];
  const all: number[] = [];
  const stack = [...direct];
  while (stack.length > 0) {
    const p = stack.pop()!;
    all.push(p);
    stack.push(...(kids.get(p) ?? []));
  }
  return { direct, all };
}

/** Counts the processes below `pid` and their memory. */
export function processTree(pid: number): ProcessTree {
  const { direct, all } = descendantPids(pid);
  let rss = 0;
  let runtimeProcesses = 0;
  const kinds: Record<string, number> = {};
  for (const p of all) {
    rss += rssKiB(p) ?? 0;
    const k = kindOf(p);
    kinds[k] = (kinds[k] ?? 0) + 1;
    if (k === 'bwrap' || k === 'prlimit' || k.includes('bootstrap')) runtimeProcesses++;
  }
  return { children: direct.length, runtimeProcesses, kinds, descendants: all.length, descendantsRssKiB: rss };
}

/** `bwrap`, `node bootstrap.mjs`, `esbuild`…: the program's name, plus its script for interpreters. */
function kindOf(pid: number): string {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean);
  } catch {
    return 'gone';
  }
  const base = (s: string): string => s.slice(s.lastIndexOf('/') + 1);
  const exe = base(argv[0] ?? '?');
  const script = argv.slice(1).find((a) => /\.(mjs|js|ts|py)$/.test(a));
  return script && /^(node|python)/.test(exe) ? `${exe} ${base(script)}` : exe;
}
