/**
 * Runs `wrk` and reads its results from a Lua `done` hook (one JSON line, latencies in µs),
 * which is exact where wrk's `--latency` text rounds to two decimals.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnTracked } from './procs.ts';

export interface WrkOptions {
  url: string;
  connections: number;
  threads: number;
  durationS: number;
  /** Per-request timeout; a request slower than this counts as a timeout error. */
  timeoutS: number;
  /** Folder where the Lua script is written. */
  scratchDir: string;
  /** Lua run before the done hook, e.g. `wrk.method = "POST"` and `wrk.body`/`wrk.headers` (default: a plain GET). */
  prelude?: string;
  /** Run wrk under SCHED_BATCH (chrt): a diagnostic of how much a client on the same cores costs the server. */
  batch?: boolean;
}

export interface WrkResult {
  connections: number;
  threads: number;
  durationS: number;
  requests: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  /** Connect/read/write/timeout errors and non-2xx/3xx responses. */
  errors: { connect: number; read: number; write: number; timeout: number; status: number };
}

const MARK = 'BENCH_WRK_JSON ';

const DONE_SCRIPT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('${MARK}{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d,"p50":%.1f,"p90":%.1f,"p99":%.1f,"mean":%.1f,"max":%.1f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
`;

/** The wrk binary, or a clear message and exit code 2 when it is missing. */
export function requireWrk(): string {
  const probe = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  // `wrk -v` prints its version and usage, and exits 1
  if (probe.error || !/wrk/i.test(`${probe.stdout}${probe.stderr}`)) {
    process.stderr.write(
      'bench: the load generator `wrk` was not found on PATH.\n' +
      '       Install it (Debian/Ubuntu: `sudo apt-get install wrk`; macOS: `brew install wrk`) and run `npm run bench` again.\n',
    );
    process.exit(2);
  }
  return (/wrk (\S+)/.exec(`${probe.stdout}${probe.stderr}`)?.[1]) ?? 'unknown';
}

/** One script file per prelude. */
const scripts = new Map<string, string>();

export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  const prelude = o.prelude ?? '';
  let scriptPath = scripts.get(prelude);
  if (!scriptPath) {
    scriptPath = path.join(o.scratchDir, scripts.size === 0 ? 'done.lua' : `done-${scripts.size}.lua`);
    writeFileSync(scriptPath, prelude + DONE_SCRIPT);
    scripts.set(prelude, scriptPath);
  }
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.durationS}s`, `--timeout`, `${o.timeoutS}s`, '-s', scriptPath, o.url];
  // under SCHED_BATCH the client no longer preempts the server it measures each time a response wakes it
  const child = o.batch
    ? spawnTracked('wrk', 'chrt', ['--batch', '0', 'wrk', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawnTracked('wrk', 'wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  // wrk stops by itself after -d; this guards against a wedged run
  const guard = setTimeout(() => child.kill('SIGKILL'), (o.durationS + o.timeoutS + 10) * 1000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  }).finally(() => clearTimeout(guard));
  const line = out.split('\n').find((l) => l.startsWith(MARK));
  if (code !== 0 || !line) throw new Error(`wrk ${args.join(' ')} failed (exit ${code}):\n${out}`);
  const r = JSON.parse(line.slice(MARK.length)) as Record<string, number>;
  const seconds = r.duration_us! / 1e6;
  return {
    connections: o.connections,
    threads: o.threads,
    durationS: seconds,
    requests: r.requests!,
    rps: r.requests! / seconds,
    p50Ms: r.p50! / 1000,
    p90Ms: r.p90! / 1000,
    p99Ms: r.p99! / 1000,
    meanMs: r.mean! / 1000,
    maxMs: r.max! / 1000,
    errors: { connect: r.connect!, read: r.read!, write: r.write!, timeout: r.timeout!, status: r.status! },
  };
}

export function errorCount(r: WrkResult): number {
  const e = r.errors;
  return e.connect + e.read + e.write + e.timeout + e.status;
}
