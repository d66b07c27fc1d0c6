/**
 * `npm run bench`: Aviary against a raw Node HTTP server, measured in the same run on
 * 127.0.0.1 — warm HTTP-trigger throughput and latency, cold starts (Node and Python), and
 * the cost of 200 idle functions. Bounded in time; stops every process it started.
 * See docs/performance.md for the method and `--help` for the options.
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { NODE_HELLO, PYTHON_HELLO, startAviary, type BenchServer } from './aviary.ts';
import { startBaseline } from './baseline.ts';
import { DEFAULT_INSTANCE_QUEUE } from '../src/server/config.ts';
import { cleanup, descendantPids, installSignalHandlers, onCleanup, processTree, rssKiB, wasInterrupted, type ProcessTree } from './procs.ts';
import { summarizeProfile, type ProfileSummary } from './profile.ts';
import { fmt, machineInfo, round, signed, table, type MachineInfo } from './report.ts';
import { cpuMs, mapLimit, median, percentile, sleep, summarize, type Summary } from './stats.ts';
import { errorCount, requireWrk, runWrk, type WrkResult } from './wrk.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

// ---------------------------------------------------------------------------------------------
// Options

const HELP = `Usage: npm run bench -- [options]     (or: node bench/run.ts [options])

Measures Aviary against a raw Node http server on 127.0.0.1, in one bounded run.

Options:
  --duration <s>        measured seconds per load phase (default 5)
  --warmup <s>          warm-up seconds before each load phase, not measured (default 2)
  --connections <list>  wrk connection counts (default 1,32)
  --rounds <n>          rounds of (baseline, Aviary) load phases; the median round is reported (default 5)
  --threads <n>         wrk threads (default 1: see docs/performance.md)
  --wrk-batch           run wrk under SCHED_BATCH (chrt), for baseline and Aviary alike: shows what the
                        client's wake-ups, preempting the server on the same cores, cost (a diagnostic;
                        the targets are judged without it)
  --max-instances <n>   maxInstances of the hello function (default: 2 × nproc)
  --instance-queue <n>  the server's --instance-queue (default: the server's default, ${DEFAULT_INSTANCE_QUEUE})
  --cold-runs <n>       cold starts measured per runtime (default 20)
  --cold-gap <ms>       pause between deploy and first request, for the spare process to be ready (default 500)
  --idle-functions <n>  functions deployed for the idle-cost phase (default 200)
  --only <list>         phases to run: warm,cold,idle (default all three)
  --profile             also CPU-profile the server (node --cpu-prof) under load and list the top costs
  --json                print the results as JSON on stdout (progress goes to stderr)
  --check               exit 1 when a target is missed
  --time-limit <s>      abort the whole run after this long (default 900)
  -h, --help            show this help
`;

interface Options {
  durationS: number;
  warmupS: number;
  connections: number[];
  rounds: number;
  threads: number;
  wrkBatch: boolean;
  maxInstances: number;
  instanceQueue: number;
  coldRuns: number;
  coldGapMs: number;
  idleFunctions: number;
  idleTtlS: number;
  phases: Set<string>;
  profile: boolean;
  json: boolean;
  check: boolean;
  timeLimitS: number;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '1,32' },
      rounds: { type: 'string', default: '5' },
      threads: { type: 'string', default: '1' },
      'wrk-batch': { type: 'boolean', default: false },
      'max-instances': { type: 'string', default: String(2 * os.availableParallelism()) },
      'instance-queue': { type: 'string', default: String(DEFAULT_INSTANCE_QUEUE) },
      'cold-runs': { type: 'string', default: '20' },
      'cold-gap': { type: 'string', default: '500' },
      'idle-functions': { type: 'string', default: '200' },
      only: { type: 'string', default: 'warm,cold,idle' },
      profile: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
      'time-limit': { type: 'string', default: '900' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const num = (name: string, v: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) usage(`--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return n;
  };
  const phases = new Set(values.only.split(',').map((s) => s.trim()).filter(Boolean));
  for (const p of phases) if (!['warm', 'cold', 'idle'].includes(p)) usage(`--only: unknown phase ${JSON.stringify(p)} (use warm, cold, idle)`);
  return {
    durationS: num('duration', values.duration, 1, 600),
    warmupS: num('warmup', values.warmup, 0, 600),
    connections: values.connections.split(',').map((c) => Math.round(num('connections', c, 1, 10_000))),
    rounds: Math.round(num('rounds', values.rounds, 1, 20)),
    threads: Math.round(num('threads', values.threads, 1, 64)),
    wrkBatch: values['wrk-batch'],
    maxInstances: Math.round(num('max-instances', values['max-instances'], 1, 1000)),
    instanceQueue: Math.round(num('instance-queue', values['instance-queue'], 0, 32)),
    coldRuns: Math.round(num('cold-runs', values['cold-runs'], 1, 1000)),
    coldGapMs: num('cold-gap', values['cold-gap'], 0, 60_000),
    idleFunctions: Math.round(num('idle-functions', values['idle-functions'], 1, 5000)),
    idleTtlS: 5,
    phases,
    profile: values.profile,
    json: values.json,
    check: values.check,
    timeLimitS: num('time-limit', values['time-limit'], 10, 24 * 3600),
  };
}

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\n\n${HELP}`);
  process.exit(2);
}

const log = (m: string): void => {
  process.stderr.write(`bench: ${m}\n`);
};

// ---------------------------------------------------------------------------------------------
// Warm: baseline vs Aviary's HTTP trigger under wrk

interface CpuShare {
  /** CPU µs per request of the server process (the baseline server, or Aviary's main process). */
  serverUsPerReq: number;
  /** CPU µs per request of the function instances (all processes below the Aviary server). */
  instancesUsPerReq: number;
  /** Everything else busy on the machine during the run (wrk, and other work on the machine), µs per request. */
  otherUsPerReq: number;
  /** Whole-machine CPU utilisation during the run, % of all cores (steal not included). */
  machineBusyPct: number;
  /** CPU time the hypervisor gave to other guests while this VM wanted it, % of all cores: a run with much of it measured a slower machine. */
  stealPct: number;
  /** The server's main thread: context switches per request (voluntary = waited for I/O; involuntary = preempted). */
  serverVoluntaryCsPerReq: number;
  serverInvoluntaryCsPerReq: number;
}

/** The raw Node server, the bare process hand-off (bench/ipc-floor-server.ts), and Aviary. */
type WarmTarget = 'baseline' | 'ipc-floor' | 'aviary';
const WARM_TARGETS: readonly WarmTarget[] = ['baseline', 'ipc-floor', 'aviary'];

interface LoadRun {
  target: WarmTarget;
  round: number;
  wrk: WrkResult;
  cpu: CpuShare;
}

/** The median of each figure over the rounds of one (target, connections) pair. */
interface LoadSummary {
  target: WarmTarget;
  connections: number;
  rounds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  cpu: CpuShare;
}

interface WarmResults {
  isolation: string;
  maxInstances: number;
  summary: LoadSummary[];
  /** Aviary against the baseline, and against the IPC floor (the process hand-off alone). */
  /** Each the median over the rounds of that round's figure: a round runs the three targets back to back. */
  ratios: { connections: number; throughputRatio: number; floorRatio: number; ofFloor: number; p50DiffMs: number; p99DiffMs: number; floorP50DiffMs: number; roundRatios: number[] }[];
  instanceQueue: number;
  /** Sequential warm invocations through the management API: where the per-request time goes. */
  stages: { invocations: number; serverDurationP50Ms: number; clientP50Ms: number; clientP99Ms: number };
  runs: LoadRun[];
}

async function warmPhase(o: Options, scratch: string): Promise<WarmResults> {
  log('warm: starting the baseline server, the IPC floor and Aviary');
  const baseline = await startBaseline(path.join(import.meta.dirname, 'baseline-server.ts'));
  // the same number of processes as Aviary's instances, each holding as many requests
  const floor = await startBaseline(path.join(import.meta.dirname, 'ipc-floor-server.ts'), [String(o.maxInstances), String(1 + o.instanceQueue)]);
  const aviary = await startAviary(['--instance-queue', String(o.instanceQueue)]);
  const isolation = await healthIsolation(aviary);
  await deployHello(aviary, o.maxInstances);
  await checkHello(baseline.url);
  await checkHello(floor.url);
  await checkHello(aviary.url);
  const servers = { baseline, 'ipc-floor': floor, aviary };

  const runs: LoadRun[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const connections of o.connections) {
      // alternate the order, so a drift in the machine's load does not favour one side
      const order = round % 2 === 1 ? WARM_TARGETS : [...WARM_TARGETS].reverse();
      for (const target of order) {
        const { url, pid } = servers[target];
        const settings = { url: `${url}/hello`, connections, threads: o.threads, timeoutS: 10, scratchDir: scratch, batch: o.wrkBatch };
        if (o.warmupS > 0) await runWrk({ ...settings, durationS: o.warmupS });
        const before = cpuSnapshot(pid);
        const wrk = await runWrk({ ...settings, durationS: o.durationS });
        const after = cpuSnapshot(pid);
        const cpu = cpuShare(before, after, wrk.requests);
        runs.push({ target, round, wrk, cpu });
        log(`warm: round ${round}/${o.rounds} ${target.padEnd(9)} c=${String(connections).padEnd(3)} ${fmt(wrk.rps, 0)} req/s  p50 ${fmt(wrk.p50Ms, 3)} ms  p99 ${fmt(wrk.p99Ms, 3)} ms  errors ${errorCount(wrk)}  (load average ${os.loadavg()[0]!.toFixed(2)}, steal ${fmt(cpu.stealPct, 0)}%)`);
        if (errorCount(wrk) > 0) log(`warm: WARNING: ${target} had errors: ${JSON.stringify(wrk.errors)}`);
      }
    }
  }

  // the same function through the management API, one at a time: the server-side duration is
  // pool acquire + the round trip to the instance (channel write, handler, result frame)
  log('warm: timing sequential invocations through the management API');
  const server: number[] = [];
  const client: number[] = [];
  for (let i = 0; i < 500; i++) {
    const r = await aviary.api.invoke('hello');
    if (i >= 50) {
      server.push(r.durationMs);
      client.push(r.clientMs);
    }
  }
  await aviary.stop();
  await floor.stop();
  await baseline.stop();

  const summary: LoadSummary[] = [];
  for (const connections of o.connections) {
    for (const target of WARM_TARGETS) {
      const rs = runs.filter((r) => r.target === target && r.wrk.connections === connections);
      const m = (f: (r: LoadRun) => number): number => median(rs.map(f));
      summary.push({
        target,
        connections,
        rounds: rs.length,
        rps: m((r) => r.wrk.rps),
        p50Ms: m((r) => r.wrk.p50Ms),
        p99Ms: m((r) => r.wrk.p99Ms),
        errors: rs.reduce((n, r) => n + errorCount(r.wrk), 0),
        cpu: {
          serverUsPerReq: m((r) => r.cpu.serverUsPerReq),
          instancesUsPerReq: m((r) => r.cpu.instancesUsPerReq),
          otherUsPerReq: m((r) => r.cpu.otherUsPerReq),
          machineBusyPct: m((r) => r.cpu.machineBusyPct),
          stealPct: m((r) => r.cpu.stealPct),
          serverVoluntaryCsPerReq: m((r) => r.cpu.serverVoluntaryCsPerReq),
          serverInvoluntaryCsPerReq: m((r) => r.cpu.serverInvoluntaryCsPerReq),
        },
      });
    }
  }
  // compared within each round, whose three runs follow each other, then the median over the
  // rounds: the machine's speed drifts between rounds more than within one
  const ratios = o.connections.map((c) => {
    const perRound = (f: (aviary: WrkResult, baseline: WrkResult, floor: WrkResult) => number): number[] => {
      const out: number[] = [];
      for (let round = 1; round <= o.rounds; round++) {
        const at = (target: WarmTarget): WrkResult => runs.find((r) => r.target === target && r.round === round && r.wrk.connections === c)!.wrk;
        out.push(f(at('aviary'), at('baseline'), at('ipc-floor')));
      }
      return out;
    };
    const roundRatios = perRound((a, b) => a.rps / b.rps);
    return {
      connections: c,
      throughputRatio: median(roundRatios),
      floorRatio: median(perRound((_, b, f) => f.rps / b.rps)),
      ofFloor: median(perRound((a, _, f) => a.rps / f.rps)),
      p50DiffMs: median(perRound((a, b) => a.p50Ms - b.p50Ms)),
      p99DiffMs: median(perRound((a, b) => a.p99Ms - b.p99Ms)),
      // what the bare process hand-off alone adds to the baseline's latency on this machine
      floorP50DiffMs: median(perRound((_, b, f) => f.p50Ms - b.p50Ms)),
      roundRatios,
    };
  });
  return {
    isolation,
    maxInstances: o.maxInstances,
    instanceQueue: o.instanceQueue,
    summary,
    ratios,
    stages: { invocations: server.length, serverDurationP50Ms: median(server), clientP50Ms: median(client), clientP99Ms: percentile(client, 99) },
    runs,
  };
}

interface CpuSnap { server: number; instances: number; machineBusy: number; machineSteal: number; machineTotal: number; voluntary: number; involuntary: number }

function cpuSnapshot(serverPid: number): CpuSnap {
  let instances = 0;
  for (const p of descendantPids(serverPid).all) instances += cpuMs(p);
  const { busy, steal, total } = machineCpu();
  const cs = contextSwitches(serverPid);
  return { server: cpuMs(serverPid), instances, machineBusy: busy, machineSteal: steal, machineTotal: total, ...cs };
}

function cpuShare(a: CpuSnap, b: CpuSnap, requests: number): CpuShare {
  const per = (x: number, scale = 1000): number => (requests > 0 ? (x * scale) / requests : Number.NaN);
  const server = b.server - a.server;
  const instances = b.instances - a.instances;
  const machine = b.machineBusy - a.machineBusy;
  return {
    serverUsPerReq: per(server),
    instancesUsPerReq: per(instances),
    otherUsPerReq: per(Math.max(0, machine - server - instances)),
    machineBusyPct: b.machineTotal > a.machineTotal ? (100 * machine) / (b.machineTotal - a.machineTotal) : Number.NaN,
    stealPct: b.machineTotal > a.machineTotal ? (100 * (b.machineSteal - a.machineSteal)) / (b.machineTotal - a.machineTotal) : Number.NaN,
    serverVoluntaryCsPerReq: per(b.voluntary - a.voluntary, 1),
    serverInvoluntaryCsPerReq: per(b.involuntary - a.involuntary, 1),
  };
}

/** Busy, stolen and total CPU ms of the whole machine, from the first line of /proc/stat. */
function machineCpu(): { busy: number; steal: number; total: number } {
  const fields = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  const total = fields.slice(0, 8).reduce((sum, v) => sum + v, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const steal = fields[7] ?? 0;
  return { busy: (total - idle - steal) * 10, steal: steal * 10, total: total * 10 };
}

/** Context switches of a process's main thread so far. */
function contextSwitches(pid: number): { voluntary: number; involuntary: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    return {
      voluntary: Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0),
      involuntary: Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0),
    };
  } catch {
    return { voluntary: 0, involuntary: 0 };
  }
}

async function healthIsolation(server: BenchServer): Promise<string> {
  const r = await server.api.send('GET', '/healthz', undefined, undefined, false);
  return (JSON.parse(r.body) as { isolation?: string }).isolation ?? 'unknown';
}

async function deployHello(server: BenchServer, maxInstances: number): Promise<void> {
  const digest = await server.api.upload({ 'index.js': NODE_HELLO });
  await server.api.deploy('hello', { runtime: 'node', handler: 'index.handler', package: digest, maxInstances });
  await server.api.route('GET', '/hello', 'hello');
}

async function checkHello(base: string): Promise<void> {
  const res = await fetch(`${base}/hello`);
  const body = await res.text();
  if (res.status !== 200 || body !== '{"message":"hello"}' || !res.headers.get('content-type')?.startsWith('application/json')) {
    throw new Error(`${base}/hello answered ${res.status} ${res.headers.get('content-type')} ${body}, expected 200 application/json {"message":"hello"}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Cold starts: a new function each time, first request through the management invoke API

interface ColdRuntimeResults {
  runtime: 'node' | 'python';
  runs: number;
  /** All measured first requests reported `cold: true`. */
  coldFlags: number;
  /** Client-side time of the first `POST /v1/functions/NAME/invocations`. */
  clientMs: Summary;
  /** The `durationMs` the invoke API returned (acquire + specialise + invoke, server-side). */
  serverMs: Summary;
  /** `init_ms` of the cold invocation's record: the runtime's own time to load the handler (read from the server's database; the API does not return it). */
  initMs: Summary | undefined;
  /** Time of the second (warm) invocation, client-side, for comparison. */
  warmClientMs: Summary;
  deployMs: Summary;
}

async function coldPhase(o: Options): Promise<ColdRuntimeResults[]> {
  log('cold: starting Aviary');
  const server = await startAviary([]);
  const out: ColdRuntimeResults[] = [];
  const warmups = 2;
  for (const runtime of ['node', 'python'] as const) {
    const client: number[] = [];
    const measured: string[] = [];
    const serverSide: number[] = [];
    const warm: number[] = [];
    const deploys: number[] = [];
    let coldFlags = 0;
    for (let i = 0; i < warmups + o.coldRuns; i++) {
      const name = `cold-${runtime}-${i}`;
      // a new package per function (its own name in a comment): nothing is shared with the previous one
      const files: Record<string, string> = runtime === 'node'
        ? { 'index.js': `// ${name}\n${NODE_HELLO}` }
        : { 'index.py': `# ${name}\n${PYTHON_HELLO}` };
      const digest = await server.api.upload(files);
      const deployMs = await server.api.deploy(name, { runtime, handler: 'index.handler', package: digest });
      await sleep(o.coldGapMs);
      const first = await server.api.invoke(name);
      const second = await server.api.invoke(name);
      if (i < warmups) continue; // the server's own code paths are JIT-compiled by then
      client.push(first.clientMs);
      measured.push(name);
      serverSide.push(first.durationMs);
      warm.push(second.clientMs);
      deploys.push(deployMs);
      if (first.cold) coldFlags++;
    }
    await sleep(500); // invocation records are written in batches every 200 ms
    const inits = initTimes(server.dataDir, measured);
    const r: ColdRuntimeResults = {
      runtime,
      runs: client.length,
      coldFlags,
      clientMs: summarize(client),
      serverMs: summarize(serverSide),
      initMs: inits.length > 0 ? summarize(inits) : undefined,
      warmClientMs: summarize(warm),
      deployMs: summarize(deploys),
    };
    log(`cold: ${runtime.padEnd(6)} first request p50 ${fmt(r.clientMs.p50)} ms p90 ${fmt(r.clientMs.p90)} ms (server durationMs p50 ${fmt(r.serverMs.p50)}), cold=true ${coldFlags}/${r.runs}`);
    out.push(r);
  }
  await server.stop();
  return out;
}

/** init_ms of the cold invocations of these functions, from the server's SQLite database (read-only). */
function initTimes(dataDir: string, names: string[]): number[] {
  try {
    const { DatabaseSync } = process.getBuiltinModule('node:sqlite');
    const db = new DatabaseSync(path.join(dataDir, 'aviary.db'), { readOnly: true });
    try {
      const rows = db.prepare('SELECT f.name AS name, i.init_ms AS initMs FROM invocations i JOIN functions f ON f.id = i.function_id WHERE i.cold = 1 AND i.init_ms IS NOT NULL').all() as { name: string; initMs: number }[];
      const wanted = new Set(names);
      return rows.filter((r) => wanted.has(r.name)).map((r) => Number(r.initMs));
    } finally {
      db.close();
    }
  } catch (err) {
    log(`cold: could not read init_ms from the server's database (${(err as Error).message}); skipped`);
    return [];
  }
}

// ---------------------------------------------------------------------------------------------
// Idle cost: N functions deployed and invoked once, then reaped

interface IdleSnapshot {
  serverRssMiB: number;
  children: number;
  /** Processes running functions (spares included): bwrap, runtime bootstraps. */
  runtimeProcesses: number;
  descendants: number;
  descendantsRssMiB: number;
  kinds: Record<string, number>;
}

interface IdleResults {
  functions: number;
  idleTtlS: number;
  /** Before any deploy: the server and its pre-started spare processes. */
  atStart: IdleSnapshot;
  /** Largest number of processes seen while the functions were being invoked. */
  peak: IdleSnapshot;
  /** Once reaping brought the process count back down. */
  afterReap: IdleSnapshot;
  reapedWithinS: number;
  deployAndInvokeS: number;
}

async function idlePhase(o: Options): Promise<IdleResults> {
  log(`idle: starting Aviary with --idle-ttl ${o.idleTtlS}`);
  const server = await startAviary(['--idle-ttl', String(o.idleTtlS)]);
  await sleep(1500); // spares started
  const snap = (): IdleSnapshot => {
    const t: ProcessTree = processTree(server.pid);
    return {
      serverRssMiB: (rssKiB(server.pid) ?? 0) / 1024, children: t.children, runtimeProcesses: t.runtimeProcesses,
      descendants: t.descendants, descendantsRssMiB: t.descendantsRssKiB / 1024, kinds: t.kinds,
    };
  };
  const atStart = snap();
  let peak = atStart;
  const sampler = setInterval(() => {
    const s = snap();
    if (s.descendants > peak.descendants) peak = s;
  }, 250);
  const stopSampler = onCleanup('idle sampler', () => clearInterval(sampler));

  const started = performance.now();
  const digest = await server.api.upload({ 'index.js': NODE_HELLO });
  const names = Array.from({ length: o.idleFunctions }, (_, i) => `idle-${i}`);
  log(`idle: deploying ${names.length} functions`);
  await mapLimit(names, 4, (name) => server.api.deploy(name, { runtime: 'node', handler: 'index.handler', package: digest }));
  log(`idle: invoking each once`);
  let cold = 0;
  await mapLimit(names, 4, async (name) => {
    if ((await server.api.invoke(name)).cold) cold++;
  });
  const deployAndInvokeS = (performance.now() - started) / 1000;
  if (cold !== names.length) log(`idle: WARNING: ${names.length - cold} invocations were not cold starts`);
  const s = snap();
  if (s.descendants > peak.descendants) peak = s;

  log(`idle: waiting for idle reaping (ttl ${o.idleTtlS} s)`);
  const waitStart = performance.now();
  const deadline = waitStart + (o.idleTtlS + 60) * 1000;
  let now = snap();
  // done when no more processes run functions than before the deploys (the pre-started spares)
  while (now.runtimeProcesses > atStart.runtimeProcesses && performance.now() < deadline) {
    await sleep(250);
    now = snap();
  }
  const reapedWithinS = (performance.now() - waitStart) / 1000;
  clearInterval(sampler);
  stopSampler();
  await sleep(1000);
  const afterReap = snap();
  if (afterReap.runtimeProcesses > atStart.runtimeProcesses) {
    log(`idle: WARNING: ${afterReap.runtimeProcesses} runtime processes left after ${fmt(reapedWithinS, 1)} s (started with ${atStart.runtimeProcesses})`);
  }
  await server.stop();
  const r = (x: IdleSnapshot): IdleSnapshot => ({ ...x, serverRssMiB: round(x.serverRssMiB, 1), descendantsRssMiB: round(x.descendantsRssMiB, 1) });
  return { functions: names.length, idleTtlS: o.idleTtlS, atStart: r(atStart), peak: r(peak), afterReap: r(afterReap), reapedWithinS, deployAndInvokeS };
}

// ---------------------------------------------------------------------------------------------
// Profile: where the server's CPU goes on the warm path

interface ProfileResults { connections: number; rps: number; file: string | undefined; summary: ProfileSummary }

async function profilePhase(o: Options, scratch: string): Promise<ProfileResults> {
  const dir = path.join(scratch, 'cpu-prof');
  log('profile: starting Aviary under node --cpu-prof');
  const server = await startAviary([], { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir} --cpu-prof-interval=250` });
  await deployHello(server, o.maxInstances);
  const connections = Math.max(...o.connections);
  const settings = { url: `${server.url}/hello`, connections, threads: o.threads, timeoutS: 10, scratchDir: scratch, batch: o.wrkBatch };
  if (o.warmupS > 0) await runWrk({ ...settings, durationS: o.warmupS });
  const from = Number(process.hrtime.bigint() / 1000n);
  const wrk = await runWrk({ ...settings, durationS: o.durationS });
  const to = Number(process.hrtime.bigint() / 1000n);
  await server.stop(); // the profile is written when the server exits
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f));
  const serverProfile = files.find((f) => path.basename(f).includes(`.${server.pid}.`)) ?? files[0];
  if (!serverProfile) throw new Error(`no .cpuprofile was written in ${dir}`);
  const keep = process.env.BENCH_KEEP_PROFILE ? path.resolve(process.env.BENCH_KEEP_PROFILE) : undefined;
  if (keep) copyFileSync(serverProfile, keep);
  return { connections, rps: wrk.rps, file: keep, summary: summarizeProfile(serverProfile, ROOT, [from, to]) };
}

// ---------------------------------------------------------------------------------------------
// Targets and output

interface Target { name: string; goal: string; measured: string; met: boolean | null }

function targets(r: { warm?: WarmResults; cold?: ColdRuntimeResults[]; idle?: IdleResults }): Target[] {
  const out: Target[] = [];
  const w = r.warm;
  const at = (c: number) => w?.ratios.find((x) => x.connections === c);
  const r32 = at(32);
  out.push({
    name: 'warm throughput, 32 connections',
    goal: '>= 50% of baseline',
    measured: r32 ? `${fmt(100 * r32.throughputRatio, 1)}%` : 'not run',
    met: r32 ? r32.throughputRatio >= 0.5 : null,
  });
  const r1 = at(1);
  out.push({
    name: 'warm p50 latency, 1 connection',
    goal: '<= baseline + 0.25 ms',
    measured: r1 ? `baseline ${signed(r1.p50DiffMs, 3)} ms (IPC floor ${signed(r1.floorP50DiffMs, 3)} ms)` : 'not run',
    met: r1 ? r1.p50DiffMs <= 0.25 : null,
  });
  for (const [runtime, limit] of [['node', 10], ['python', 30]] as const) {
    const c = r.cold?.find((x) => x.runtime === runtime);
    out.push({
      name: `cold start p50, ${runtime === 'node' ? 'Node' : 'Python'}`,
      goal: `<= ${limit} ms`,
      measured: c ? `${fmt(c.clientMs.p50)} ms` : 'not run',
      met: c ? c.clientMs.p50 <= limit : null,
    });
  }
  const i = r.idle;
  out.push({
    name: `${i?.functions ?? 200} idle functions cost nothing`,
    goal: 'no instances left after reaping',
    measured: i ? `${i.afterReap.runtimeProcesses - i.atStart.runtimeProcesses} extra runtime processes; server RSS ${signed(i.afterReap.serverRssMiB - i.atStart.serverRssMiB, 1)} MiB` : 'not run',
    met: i ? i.afterReap.runtimeProcesses <= i.atStart.runtimeProcesses : null,
  });
  return out;
}

interface Results {
  machine: MachineInfo;
  settings: Omit<Options, 'phases'> & { phases: string[]; threadsNote: string; maxInstancesNote: string };
  warm?: WarmResults;
  cold?: ColdRuntimeResults[];
  idle?: IdleResults;
  profile?: ProfileResults;
  targets: Target[];
}

const THREADS_NOTE = 'wrk -t1: the machine has few cores and the server, the function instance(s) and wrk compete for them; one wrk thread ' +
  'drives far more requests than either server answers (so it is never the bottleneck) and takes the least CPU away from the servers; ' +
  'baseline and Aviary get identical settings.';
const MAX_INSTANCES_NOTE = 'maxInstances = 2 × cores by default: an instance runs one invocation at a time, so with two per core one can run while ' +
  'the other waits for its next event; a sweep on 2 cores measured 2 instances ~12% and 10 (the platform default) ~11% below 4. The ipc-floor ' +
  'runs as many worker processes. Up to 1 + --instance-queue requests are in flight per instance; connections beyond that wait in the ' +
  'function\'s queue (100 deep, so 32 connections are never throttled).';

function render(r: Results): string {
  const m = r.machine;
  const lines: string[] = [];
  lines.push(`Aviary benchmark — ${m.date}`);
  lines.push(`machine: ${m.cpus} × ${m.cpuModel}, ${m.memTotalGiB} GiB RAM (${m.memAvailableGiB} available), Linux ${m.kernel}, Node ${m.node}, wrk ${m.wrk}, load average at start ${m.loadAverage.join(' ')}`);
  if (r.warm) {
    const w = r.warm;
    lines.push('', `Warm HTTP: GET /hello; median of ${r.settings.rounds} round(s), each ${r.settings.durationS} s measured after ${r.settings.warmupS} s warm-up; wrk -t${r.settings.threads}${r.settings.wrkBatch ? ' under SCHED_BATCH (--wrk-batch)' : ''}; Aviary isolation ${w.isolation}, hello maxInstances ${w.maxInstances}, --instance-queue ${w.instanceQueue}; ipc-floor: ${w.maxInstances} worker processes of the same handler, ${w.instanceQueue + 1} requests each at most (bench/ipc-floor-server.ts)`);
    lines.push(table(
      ['target', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'errors', 'server CPU µs/req', 'instances CPU µs/req', 'other CPU µs/req', 'server cs/req vol+invol', 'machine busy', 'steal'],
      w.summary.map((x) => [x.target, String(x.connections), fmt(x.rps, 0), fmt(x.p50Ms, 3), fmt(x.p99Ms, 3), String(x.errors),
        fmt(x.cpu.serverUsPerReq, 1), x.target === 'baseline' ? '-' : fmt(x.cpu.instancesUsPerReq, 1), fmt(x.cpu.otherUsPerReq, 1),
        `${fmt(x.cpu.serverVoluntaryCsPerReq, 2)}+${fmt(x.cpu.serverInvoluntaryCsPerReq, 2)}`, `${fmt(x.cpu.machineBusyPct, 0)}%`, `${fmt(x.cpu.stealPct, 0)}%`]),
    ));
    lines.push(table(
      ['Aviary vs baseline', 'throughput ratio', 'per round', 'p50 diff ms', 'p99 diff ms', 'IPC floor vs baseline', 'IPC floor p50 diff ms', 'Aviary vs IPC floor'],
      w.ratios.map((x) => [`${x.connections} connection${x.connections === 1 ? '' : 's'}`, `${fmt(100 * x.throughputRatio, 1)}%`, x.roundRatios.map((v) => `${fmt(100 * v, 1)}%`).join(' '),
        signed(x.p50DiffMs, 3), signed(x.p99DiffMs, 3), `${fmt(100 * x.floorRatio, 1)}%`, signed(x.floorP50DiffMs, 3), `${fmt(100 * x.ofFloor, 1)}%`]),
    ));
    lines.push(`management API invoke of the warm function, sequential (${w.stages.invocations}): server durationMs p50 ${fmt(w.stages.serverDurationP50Ms, 3)} ms, client p50 ${fmt(w.stages.clientP50Ms, 3)} ms, p99 ${fmt(w.stages.clientP99Ms, 3)} ms`);
  }
  if (r.cold) {
    lines.push('', `Cold start: a new function per run, deployed, then after ${r.settings.coldGapMs} ms its first request via POST /v1/functions/NAME/invocations (client-side time; durationMs is the server's)`);
    lines.push(table(
      ['runtime', 'runs', 'p50 ms', 'p90 ms', 'min ms', 'max ms', 'durationMs p50', 'durationMs p90', 'init_ms p50', 'cold=true', 'warm 2nd p50 ms', 'deploy p50 ms'],
      r.cold.map((c) => [c.runtime, String(c.runs), fmt(c.clientMs.p50), fmt(c.clientMs.p90), fmt(c.clientMs.min), fmt(c.clientMs.max),
        fmt(c.serverMs.p50), fmt(c.serverMs.p90), fmt(c.initMs?.p50), `${c.coldFlags}/${c.runs}`, fmt(c.warmClientMs.p50), fmt(c.deployMs.p50, 0)]),
    ));
  }
  if (r.idle) {
    const i = r.idle;
    lines.push('', `Idle cost: ${i.functions} Node functions deployed and invoked once (${fmt(i.deployAndInvokeS, 1)} s), server --idle-ttl ${i.idleTtlS}; reaped within ${fmt(i.reapedWithinS, 1)} s`);
    lines.push(table(
      ['moment', 'server RSS MiB', 'children', 'processes below server', 'of which run functions', 'their RSS MiB'],
      ([['before deploys', i.atStart], ['peak while invoking', i.peak], ['after idle reaping', i.afterReap]] as const).map(([label, s]) =>
        [label, fmt(s.serverRssMiB, 1), String(s.children), String(s.descendants), String(s.runtimeProcesses), fmt(s.descendantsRssMiB, 1)]),
    ));
    lines.push(`after reaping: ${Object.entries(i.afterReap.kinds).map(([k, n]) => `${n} × ${k}`).join(', ')} (the spares are pre-started generic processes, one per runtime, kept by --prewarm)`);
  }
  if (r.profile) {
    const p = r.profile;
    lines.push('', `Server CPU profile at ${p.connections} connections (${fmt(p.rps, 0)} req/s under the profiler): ${p.summary.samples} samples, busy ${fmt(p.summary.busyMs, 0)} ms, idle ${fmt(p.summary.idleMs, 0)} ms${p.file ? `; saved to ${p.file}` : ''}`);
    lines.push('(V8 samples at wall-clock intervals: a native frame such as writev also counts while the server is descheduled inside that system call;');
    lines.push(' the CPU µs/req columns above are the exact CPU use, this is where the main thread was found)');
    lines.push(table(['top self time', 'ms', '% busy'], p.summary.topSelf.map((e) => [e.name, fmt(e.ms, 0), fmt(e.pct, 1)])));
    lines.push(table(['by area (self time)', 'ms', '% busy'], p.summary.byArea.map((e) => [e.name, fmt(e.ms, 0), fmt(e.pct, 1)])));
    lines.push(table(['inclusive (src/ and node http)', 'ms', '% busy'], p.summary.topInclusive.map((e) => [e.name, fmt(e.ms, 0), fmt(e.pct, 1)])));
  }
  lines.push('', 'Targets');
  lines.push(table(['target', 'goal', 'measured', 'met'], r.targets.map((t) => [t.name, t.goal, t.measured, t.met === null ? '-' : t.met ? 'yes' : 'NO'])));
  lines.push('', `Notes: ${THREADS_NOTE}`, `       ${MAX_INSTANCES_NOTE}`);
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  installSignalHandlers();
  const wrkVersion = o.phases.has('warm') || o.profile ? requireWrk() : 'not used';
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'aviary-bench-'));
  onCleanup(`scratch dir ${scratch}`, () => rmSync(scratch, { recursive: true, force: true }));
  const limit = setTimeout(() => {
    log(`the run took longer than --time-limit ${o.timeLimitS} s; stopping`);
    void cleanup().finally(() => process.exit(1));
  }, o.timeLimitS * 1000);
  limit.unref();

  const results: Results = {
    machine: machineInfo(wrkVersion),
    settings: { ...o, phases: [...o.phases], threadsNote: THREADS_NOTE, maxInstancesNote: MAX_INSTANCES_NOTE },
    targets: [],
  };
  if (o.phases.has('warm')) results.warm = await warmPhase(o, scratch);
  if (o.phases.has('cold')) results.cold = await coldPhase(o);
  if (o.phases.has('idle')) results.idle = await idlePhase(o);
  if (o.profile) results.profile = await profilePhase(o, scratch);
  const { targets: _unset, ...measured } = results;
  const final: Results = { ...measured, targets: targets(results) };
  clearTimeout(limit);

  process.stdout.write(o.json ? `${JSON.stringify(final, (_k, v: unknown) => (typeof v === 'number' ? round(v, 4) : v), 2)}\n` : render(final));
  if (o.check && final.targets.some((t) => t.met === false)) process.exitCode = 1;
}

main().then(
  () => cleanup(),
  async (err: unknown) => {
    if (wasInterrupted()) return; // the signal handler cleans up and exits
    process.stderr.write(`bench: failed: ${(err as Error).stack ?? String(err)}\n`);
    await cleanup();
    process.exit(1);
  },
);
