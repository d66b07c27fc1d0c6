/**
 * `node bench/queue.ts`: queue-trigger throughput from NATS JetStream. A no-op Node function
 * consumes a subject through an Aviary trigger (batch 10 by default); the baseline, measured
 * in the same run on the same stream, is a raw JetStream consumer in this process that acks
 * each message in batches of the same size (the ceiling of the broker and client). Each
 * round publishes N messages while the trigger is paused, resumes it, and times the drain
 * until the trigger reports every message succeeded. Bounded in time; stops what it started.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { startAviary, type BenchServer } from './aviary.ts';
import { cleanup, installSignalHandlers, onCleanup } from './procs.ts';
import { fmt, table } from './report.ts';
import { median, sleep } from './stats.ts';
import { ensureNats, NATS_URL } from '../test/helpers/brokers.ts';

const HELP = `Usage: node bench/queue.ts [options]

Options:
  --messages <n>     messages per round (default 20000)
  --batch <n>        trigger batch size (default 10)
  --concurrency <n>  trigger maxConcurrency, and the function's maxInstances (default 4)
  --rounds <n>       measured rounds; the median is reported (default 3)
  --json             print the results as JSON
`;

const { values: opts } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const MESSAGES = Number(opts.messages);
const BATCH = Number(opts.batch);
const CONCURRENCY = Number(opts.concurrency);
const ROUNDS = Number(opts.rounds);
const ROUND_TIMEOUT_MS = 120_000;
const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** Publishes `n` messages, up to 1000 awaiting their PubAck at once. */
async function publishMany(nc: NatsConnection, subject: string, n: number): Promise<void> {
  const js = jetstream(nc);
  const body = JSON.stringify({ order: 1, item: 'x'.repeat(64) });
  let next = 0;
  await Promise.all(Array.from({ length: 1000 }, async () => {
    while (next < n) {
      next++;
      await js.publish(subject, body);
    }
  }));
}

/** Raw JetStream: a durable consumer acking each message, batches of BATCH; messages/s. */
async function baseline(nc: NatsConnection, stream: string, subject: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const durable = `bench-baseline-${randomBytes(3).toString('hex')}`;
  await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New, filter_subject: subject, max_ack_pending: BATCH * CONCURRENCY * 2 });
  await publishMany(nc, subject, MESSAGES);
  const consumer = await jetstream(nc).consumers.get(stream, durable);
  const started = performance.now();
  let done = 0;
  let batch: JsMsg[] = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('baseline did not finish in time')), ROUND_TIMEOUT_MS);
    void consumer.consume({
      max_messages: BATCH * CONCURRENCY * 2,
      callback: (m) => {
        batch.push(m);
        if (batch.length < BATCH && done + batch.length < MESSAGES) return;
        for (const b of batch) b.ack();
        done += batch.length;
        batch = [];
        if (done >= MESSAGES) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  const rate = MESSAGES / ((performance.now() - started) / 1000);
  await jsm.consumers.delete(stream, durable);
  return rate;
}

interface TriggerHealth { status: string; succeeded: number; retried: number; lastError: string | null }

async function health(server: BenchServer, name: string): Promise<TriggerHealth> {
  return (await server.api.json<{ trigger: { health: TriggerHealth } }>('GET', `/v1/triggers/${name}`)).trigger.health;
}

/** Aviary: publish while paused, resume, time until every message succeeded; messages/s. */
async function aviaryRound(server: BenchServer, nc: NatsConnection, name: string, subject: string, n: number): Promise<number> {
  const before = (await health(server, name)).succeeded;
  await server.api.json('POST', `/v1/triggers/${name}/pause`);
  await publishMany(nc, subject, n);
  const started = performance.now();
  await server.api.json('POST', `/v1/triggers/${name}/resume`);
  const deadline = started + ROUND_TIMEOUT_MS;
  for (;;) {
    const h = await health(server, name);
    if (h.succeeded - before >= n) break;
    if (performance.now() > deadline) throw new Error(`the trigger processed ${h.succeeded - before} of ${n} messages in ${ROUND_TIMEOUT_MS / 1000} s (${JSON.stringify(h)})`);
    await sleep(20);
  }
  return n / ((performance.now() - started) / 1000);
}

async function main(): Promise<void> {
  installSignalHandlers();
  await ensureNats();
  const nc = await connect({ servers: NATS_URL });
  onCleanup('NATS connection', () => nc.close());
  const id = randomBytes(4).toString('hex');
  const stream = `BENCH_${id}`;
  const subject = `bench.${id}.orders`;
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects: [`bench.${id}.>`] });
  onCleanup(`stream ${stream}`, async () => void (await jsm.streams.delete(stream)));

  log(`baseline: raw JetStream consumer, ${MESSAGES} messages, batches of ${BATCH}…`);
  const base: number[] = [];
  for (let r = 0; r < ROUNDS; r++) base.push(await baseline(nc, stream, `bench.${id}.baseline`));

  log('starting aviary…');
  const server = await startAviary(['--prewarm', '1']);
  const digest = await server.api.upload({ 'index.js': 'exports.handler = async () => ({});\n' });
  await server.api.deploy('noop', { runtime: 'node', handler: 'index.handler', package: digest, maxInstances: CONCURRENCY });
  const name = `bench-${id}`;
  await server.api.json('POST', '/v1/triggers', { name, function: 'noop', source: 'nats', subject, url: NATS_URL, stream, batchSize: BATCH, maxConcurrency: CONCURRENCY }, [201]);
  for (let i = 0; i < 200 && (await health(server, name)).status !== 'healthy'; i++) await sleep(50);
  log('warm-up round (1000 messages, not measured)…');
  await aviaryRound(server, nc, name, subject, 1000);
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    log(`round ${r + 1}/${ROUNDS}: ${MESSAGES} messages…`);
    rates.push(await aviaryRound(server, nc, name, subject, MESSAGES));
  }
  const h = await health(server, name);
  await server.api.send('DELETE', `/v1/triggers/${name}`);
  await server.stop();

  const result = {
    messages: MESSAGES, batch: BATCH, concurrency: CONCURRENCY, rounds: ROUNDS,
    baselineMsgPerSec: Math.round(median(base)),
    aviaryMsgPerSec: Math.round(median(rates)),
    aviaryInvocationsPerSec: Math.round(median(rates) / BATCH),
    ratio: median(rates) / median(base),
    retried: h.retried,
    allRounds: { baseline: base.map(Math.round), aviary: rates.map(Math.round) },
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  process.stdout.write(`\nQueue trigger throughput, NATS JetStream → no-op Node function (batch ${BATCH}, concurrency ${CONCURRENCY}, ${MESSAGES} messages, median of ${ROUNDS})\n\n`);
  process.stdout.write(`${table(['', 'messages/s', 'invocations/s', 'rounds (messages/s)'], [
    ['raw JetStream consumer (baseline)', fmt(result.baselineMsgPerSec, 0), '-', result.allRounds.baseline.join(', ')],
    ['aviary queue trigger', fmt(result.aviaryMsgPerSec, 0), fmt(result.aviaryInvocationsPerSec, 0), result.allRounds.aviary.join(', ')],
  ])}\n`);
  process.stdout.write(`\naviary / baseline: ${fmt(result.ratio, 3)}   (messages retried: ${result.retried})\n`);
}

main().then(
  () => cleanup(),
  async (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    await cleanup();
    process.exitCode = 1;
  },
);
