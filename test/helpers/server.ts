import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Spawns the real `aviary` binary: a server to test against, and CLI runs. */

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const AVIARY_BIN = path.join(ROOT, 'bin', 'aviary.js');

export interface StartServerOptions {
  /** Defaults to a fresh temporary folder, removed by stop(). */
  dataDir?: string;
  /** Extra environment; AVIARY_* of the calling shell are not inherited. */
  env?: Record<string, string>;
  /** Extra arguments after `server --port 0 --data DIR`. */
  args?: string[];
  /** How long to wait for the "listening" line (default 30 s). */
  startTimeoutMs?: number;
}

export interface RunningServer {
  /** `http://127.0.0.1:PORT`, parsed from the server's "Aviary [version] listening on …" line. */
  url: string;
  adminKey: string;
  dataDir: string;
  pid: number;
  /** Everything the server printed so far (stdout and stderr), for assertion messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process has exited. */
  stop(): Promise<void>;
}

export const TEST_ADMIN_KEY = 'test-admin-key';
const KILL_AFTER_MS = 5000;

/** Children still running, killed if the test process exits without stopping them. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of live) if (c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
    });
  }
}

/** The environment for a child: this process's, minus any AVIARY_* settings, plus `extra`. */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('AVIARY_') && k !== 'NODE_TEST_CONTEXT') env[k] = v;
  }
  return { ...env, ...extra };
}

export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'aviary-test-data-')));
  const env = childEnv({ AVIARY_ADMIN_KEY: TEST_ADMIN_KEY, ...options.env });
  const adminKey = env.AVIARY_ADMIN_KEY ?? TEST_ADMIN_KEY;
  const child = spawn(process.execPath, [AVIARY_BIN, 'server', '--port', '0', '--data', dataDir, ...(options.args ?? [])], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      fail(new Error(`the server did not print "Aviary listening on …" within ${options.startTimeoutMs ?? 30_000} ms; output:\n${output}`));
    }, options.startTimeoutMs ?? 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /Aviary (?:\S+ )?listening on (https?:\/\/\S+)/.exec(output);
      if (m?.[1]) {
        clearTimeout(timer);
        child.off('exit', onExit);
        resolve(m[1].replace(/\/+$/, ''));
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (code ${code}, signal ${signal}) before listening; output:\n${output}`));
    };
    const fail = (err: Error) => {
      child.off('exit', onExit);
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
      reject(err);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  }).catch(async (err: unknown) => {
    await exited;
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  });

  let stopping: Promise<void> | undefined;
  return {
    url,
    adminKey,
    dataDir,
    pid: child.pid ?? -1,
    output: () => output,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
          process.kill(child.pid, 'SIGTERM');
          const timer = setTimeout(() => {
            if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
          }, KILL_AFTER_MS);
          await exited;
          clearTimeout(timer);
        }
        if (ownDir) await rm(dataDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunCliOptions {
  env?: Record<string, string>;
  /** Written to stdin, then closed; without it stdin is /dev/null (not a terminal). */
  input?: string;
  cwd?: string;
  /** Killed (SIGKILL) after this long; default 60 s. */
  timeoutMs?: number;
}

/** Runs `node bin/aviary.js ARGS` to completion. */
export function runCli(args: string[], options: RunCliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AVIARY_BIN, ...args], {
      cwd: options.cwd ?? ROOT,
      env: childEnv({ NO_COLOR: '1', ...options.env }),
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    track(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, options.timeoutMs ?? 60_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}
