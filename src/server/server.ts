import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Keys, SecretBox, setUpAdmin, type AccessKey } from '../auth/index.ts';
import { BuiltPackages, FsBlobStore, PackageCollector, type CodeInUse } from '../blobs/index.ts';
import { buildPackage } from '../build/index.ts';
import { createHttpServer } from '../http/index.ts';
import { Invoker } from '../invoke/index.ts';
import { Recorder } from '../observe/index.ts';
import { Pool } from '../pool/index.ts';
import { Registry } from '../registry/index.ts';
import { ProcessSandbox } from '../sandbox/index.ts';
import { SqliteDatabase, SqliteRecordWriter, SqliteStore, StoreRecordWriter } from '../store/index.ts';
import { Scheduler, Schedules, SqliteScheduleStore } from '../triggers/schedule/index.ts';
import { EventBus, Rules, SqliteRuleStore } from '../triggers/events/index.ts';
import { AsyncConfigs, AsyncDispatcher, AsyncService, SqliteQueue } from '../async/index.ts';
import { QueueTriggers, SqliteTopicStore, SqliteTriggerStore, Topics } from '../triggers/queue/index.ts';
import type { ServerConfig } from './config.ts';
import { lockDataDir } from './data-lock.ts';

export const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface RunningServer {
  url: string;
  config: ServerConfig;
  isolation: 'bubblewrap' | 'none';
  /** Processes and threads one instance may have; null where cgroups could not be used. */
  processLimit: number | null;
  /** The admin key, only on the first start of a data folder. */
  adminKey: string | undefined;
  /** Its SigV4 credentials (Lambda Invoke API), only on the first start of a data folder. */
  adminCredentials: AccessKey | undefined;
  close(): Promise<void>;
}

/**
 * The composition root: builds every part from the config, wires them, starts listening.
 * Parts get what they need as arguments; nothing here is global.
 */
export async function startServer(config: ServerConfig, log: { warn: (m: string) => void }): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const unlock = lockDataDir(config.dataDir);
  try {
    return await startParts(config, log, unlock);
  } catch (err) {
    unlock();
    throw err;
  }
}

async function startParts(config: ServerConfig, log: { warn: (m: string) => void }, unlock: () => void): Promise<RunningServer> {
  const packagesDir = path.join(config.dataDir, 'packages');
  mkdirSync(packagesDir, { recursive: true });
  // unsandboxed runs resolve package.json upwards: stop them at ours, whatever folder holds the data
  // (no "type": Node then detects ESM syntax in a plain .js, as it does for the sandbox's /var/task)
  writeFileSync(path.join(packagesDir, 'package.json'), '{}\n');

  const databaseFile = path.join(config.dataDir, 'aviary.db');
  const database = new SqliteDatabase(databaseFile);
  const store = new SqliteStore(database);
  const keys = new Keys(store, { secrets: SecretBox.loadOrCreate(path.join(config.dataDir, 'master.key')) });
  const { adminKey, adminCredentials } = await setUpAdmin(keys, config.dataDir, { token: config.adminKey, ...config.adminAccessKey }, Date.now());

  const blobs = new FsBlobStore(path.join(config.dataDir, 'blobs'));
  const packages = new BuiltPackages({
    blobs,
    dir: packagesDir,
    build: buildPackage,
    limits: { maxZipBytes: config.limits.packageBytes, maxUnzippedBytes: config.limits.unzippedPackageBytes, maxFiles: config.limits.packageFiles },
  });
  const registry = await Registry.load(store);
  // uploads and builds no version uses (deleted functions, uploads never deployed) are removed
  // once unused for an hour: at start, hourly, and after each delete
  const collector = new PackageCollector({
    blobs,
    packages,
    inUse: () => inUseCode(registry),
    graceMs: UNUSED_CODE_GRACE_MS,
    everyMs: 3600_000,
    warn: log.warn,
  });
  registry.onChange((e) => {
    if (e.type === 'deleted') void collector.run();
  });
  const schedules = await Schedules.load({ store: new SqliteScheduleStore(database), functions: registry, warn: log.warn });
  const rules = await Rules.load({ store: new SqliteRuleStore(database), functions: registry, warn: log.warn });
  const sandbox = new ProcessSandbox({
    isolation: config.isolation,
    runDir: path.join(config.dataDir, 'run'),
    tmpBytes: config.limits.tmpBytes,
    fileBytes: config.limits.fileBytes,
    maxProcesses: config.maxProcesses,
    logCapBytes: config.limits.logBytesPerInvocation,
    maxResponseBytes: config.limits.syncPayloadBytes,
    warn: log.warn,
  });
  // invocation records and logs are written from a worker thread with its own connection
  const writer = new SqliteRecordWriter(databaseFile, { fallback: new StoreRecordWriter(store), warn: log.warn });
  const recorder = new Recorder({ store, writer, retentionMs: config.limits.retentionMs, warn: log.warn });
  const pool = new Pool({
    sandbox,
    idleTtlMs: config.idleTtlMs,
    prewarm: config.prewarm,
    queueLimit: config.limits.queuePerFunction,
    instanceQueue: config.instanceQueue,
    warn: log.warn,
    onStrayLog: (target, requestId, line) => recorder.logs([{
      invocationId: requestId ?? '', functionId: target.functionId, version: target.version, time: line.time, stream: line.stream, message: line.message,
    }]),
  });
  const invoker = new Invoker({ registry, pool, code: packages, recorder, sandboxed: sandbox.isolation === 'bubblewrap', syncPayloadBytes: config.limits.syncPayloadBytes });
  // built-in topics: queue-trigger sources and async destinations
  const topicStore = new SqliteTopicStore(database);
  const topics = new Topics({ store: topicStore });
  // async invocations: a durable queue in the same database, run by the dispatcher through the invoker
  const asyncQueue = new SqliteQueue(database);
  const asyncConfigs = new AsyncConfigs(asyncQueue);
  await asyncConfigs.load();
  const dispatcher = new AsyncDispatcher({
    queue: asyncQueue, invoker, registry, configs: asyncConfigs, settings: config.async, retentionMs: config.limits.retentionMs, exclusive: true, warn: log.warn, topics,
  });
  const asyncInvoker = new AsyncService({ queue: asyncQueue, registry, configs: asyncConfigs, dispatcher, payloadBytes: config.limits.asyncPayloadBytes, warn: log.warn, topics });
  // published events fan out to the functions of matching rules as async invocations
  const events = new EventBus({ rules, invoker: asyncInvoker });
  // queue triggers: built-in topics, NATS JetStream and MQTT, each batch through the invoker
  const queueTriggers = new QueueTriggers({
    store: new SqliteTriggerStore(database), topicStore, topics, registry, invoke: (input) => invoker.invoke(input), maxEventBytes: config.limits.syncPayloadBytes, warn: log.warn,
  });

  const http = await createHttpServer(
    { registry, invoker, blobs, packages, keys, recorder, store, pool, limits: config.limits, isolation: sandbox.isolation, processLimit: sandbox.processLimit?.max ?? null, version: VERSION, schedules, rules, events, asyncInvoker, topics, queueTriggers },
    { logLevel: config.logLevel, warn: log.warn },
  );
  await new Promise<void>((resolve, reject) => {
    http.server.once('error', reject);
    http.server.listen(config.port, config.host, () => resolve());
  });
  // only once listening (a failed start leaves no processes behind): generic processes for the
  // default class, ready before the first deploy; then min-warm for every function
  pool.prewarm('node', 128);
  pool.prewarm('python', 128);
  for (const entry of registry.allFunctions()) {
    const latest = entry.versions.get(entry.record.latestVersion);
    if (latest) void invoker.applyWarmTarget(entry.record, latest);
  }
  const address = http.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  await dispatcher.start();
  // schedules fire as async invocations; fires missed while the server was down follow each schedule's policy
  const scheduler = new Scheduler({ schedules, invoker: asyncInvoker, warn: log.warn });
  await scheduler.start();
  await queueTriggers.start();
  collector.start();

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    config,
    isolation: sandbox.isolation,
    processLimit: sandbox.processLimit?.max ?? null,
    adminKey,
    adminCredentials,
    close: () => (closing ??= (async () => {
      // stop accepting, let in-flight requests finish (bounded), then stop instances and flush records
      const schedulerStopped = scheduler.close();
      const closed = http.app.close();
      // async: stop claiming now, let running events finish (bounded); the rest run again after restart
      const asyncStopped = dispatcher.stop();
      // queue triggers: take no more messages, let batches in flight finish (bounded); unsettled ones are redelivered later
      const triggersStopped = queueTriggers.stop();
      http.server.closeIdleConnections();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000).unref())]);
      await asyncStopped;
      await triggersStopped;
      await pool.drain();
      await collector.stop();
      await recorder.close();
      await sandbox.close();
      await schedulerStopped;
      await store.close();
      unlock();
    })()),
  };
}

/** How long code no version uses is kept: an upload's deploy, a build's version, follow well within it. */
const UNUSED_CODE_GRACE_MS = 3600_000;

/** The package digests and build ids of every version of every function. */
function inUseCode(registry: Registry): CodeInUse {
  const digests = new Set<string>();
  const buildIds = new Set<string>();
  for (const entry of registry.allFunctions()) {
    for (const v of entry.versions.values()) {
      digests.add(v.packageDigest);
      buildIds.add(v.buildId);
    }
  }
  return { digests, buildIds };
}
