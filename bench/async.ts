/**
 * `node bench/async.ts`: asynchronous invocations on a real `aviary server` — events accepted
 * per second (concurrent `POST …/invocations?mode=async` with wrk; every 202 is answered only
 * after the event is committed to the embedded database) and events completed per second for a
 * no-op function: overall (from the first accepted event to the last one finished, accepting
 * and running sharing the machine) and while draining (the last 1,000 events, by the server's
 * own finish times, when nothing else is accepted). Bounded in time; stops every process it started.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startAviary, type BenchServer } from './aviary.ts';
import { cleanup, installSignalHandlers } from './procs.ts';
import { fmt, machineInfo } from './report.ts';
import { sleep } from './stats.ts';
import { errorCount, requireWrk, runWrk } from './wrk.ts';

const HELP = `Usage: node bench/async.ts [options]

Options:
  --duration <s>        seconds of accepting events (default 5)
  --connections <n>     concurrent clients posting events (default 32)
  --max-instances <n>   maxInstances of the no-op function (default: 2 per core)
  --json                print the results as JSON on stdout (progress goes to stderr)
  --check               exit 1 when a target is missed
  -h, --help            show this help

Targets: >= ${3000} events accepted/s, >= ${1500} completed/s (no-op function).
`;

const TARGET_ACCEPTED = 3000;
const TARGET_COMPLETED = 1500;
const DRAIN_LIMIT_MS = 300_000;

const log = (m: string): void => void process.stderr.write(`bench: ${m}\n`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '5' },
      connections: { type: 'string', default: '32' },
      'max-instances': { type: 'string', default: String(2 * os.availableParallelism()) },
      json: { type: 'boolean', default: false },
      check: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const durationS = Number(values.duration);
  const connections = Number(values.connections);
  const maxInstances = Number(values['max-instances']);
  const wrkVersion = requireWrk();
  installSignalHandlers();
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'aviary-bench-async-'));
  let server: BenchServer | undefined;
  try {
    server = await startAviary([]);
    const digest = await server.api.upload({ 'index.js': 'exports.handler = async () => null;\n' });
    await server.api.deploy('noop', { runtime: 'node', handler: 'index.handler', package: digest, maxInstances });
    await server.api.invoke('noop');
    const url = `${server.url}/v1/functions/noop/invocations?mode=async`;
    const prelude = `wrk.method = "POST"\nwrk.body = '{"n":1}'\nwrk.headers["content-type"] = "application/json"\nwrk.headers["authorization"] = "Bearer ${server.adminKey}"\n`;

    log(`accepting events for ${durationS} s with ${connections} connections (no-op function, max instances ${maxInstances})`);
    const started = performance.now();
    const wrk = await runWrk({ url, connections, threads: 1, durationS, timeoutS: 10, scratchDir: scratch, prelude });
    if (errorCount(wrk) > 0) throw new Error(`wrk saw errors (each one an event not accepted): ${JSON.stringify(wrk.errors)}`);
    log(`accepted ${wrk.requests} events: ${fmt(wrk.rps, 0)}/s, p50 ${fmt(wrk.p50Ms, 2)} ms, p99 ${fmt(wrk.p99Ms, 2)} ms; waiting for the rest to run`);

    const pending = async (status: string): Promise<boolean> =>
      (await server!.api.json<{ invocations: unknown[] }>('GET', `/v1/functions/noop/invocations?status=${status}&limit=1`)).invocations.length > 0;
    const drainStarted = performance.now();
    while ((await pending('queued')) || (await pending('running'))) {
      if (performance.now() - drainStarted > DRAIN_LIMIT_MS) throw new Error(`events still pending after ${DRAIN_LIMIT_MS / 1000} s`);
      await sleep(50);
    }
    const finished = performance.now();
    if (await pending('failed')) throw new Error('some events failed; see GET /v1/functions/noop/invocations?status=failed');
    const completedPerS = wrk.requests / ((finished - started) / 1000);
    // the newest 1,000 events finished last, after accepting stopped: the dispatcher alone
    const tail = (await server.api.json<{ invocations: { finishedAt: string }[] }>('GET', '/v1/functions/noop/invocations?status=succeeded&limit=1000'))
      .invocations.map((i) => Date.parse(i.finishedAt));
    const drainPerS = tail.length > 1 ? (tail.length - 1) / ((Math.max(...tail) - Math.min(...tail)) / 1000) : Number.NaN;
    const results = {
      machine: machineInfo(wrkVersion),
      connections,
      maxInstances,
      accepted: { events: wrk.requests, perSecond: wrk.rps, p50Ms: wrk.p50Ms, p99Ms: wrk.p99Ms },
      completed: { events: wrk.requests, perSecond: completedPerS, seconds: (finished - started) / 1000, drainingPerSecond: drainPerS },
      targets: { acceptedPerSecond: TARGET_ACCEPTED, completedPerSecond: TARGET_COMPLETED },
    };
    if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    else {
      process.stdout.write(`Async invocations (${results.machine.cpus} CPUs, ${results.machine.cpuModel})\n`);
      process.stdout.write(`  accepted  ${fmt(wrk.rps, 0).padStart(7)} events/s  (target >= ${TARGET_ACCEPTED}; each 202 after its commit; p50 ${fmt(wrk.p50Ms, 2)} ms, p99 ${fmt(wrk.p99Ms, 2)} ms)\n`);
      process.stdout.write(`  completed ${fmt(completedPerS, 0).padStart(7)} events/s  (target >= ${TARGET_COMPLETED}; ${wrk.requests} no-op events in ${fmt(results.completed.seconds, 1)} s, accepting and running at once)\n`);
      process.stdout.write(`  draining  ${fmt(drainPerS, 0).padStart(7)} events/s  (the last ${tail.length} events, nothing else accepted meanwhile)\n`);
    }
    if (values.check && (wrk.rps < TARGET_ACCEPTED || completedPerS < TARGET_COMPLETED)) process.exitCode = 1;
  } finally {
    await server?.stop();
    await cleanup();
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
