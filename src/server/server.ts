import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Keys } from '../auth/index.ts';
import { BuiltPackages, FsBlobStore } from '../blobs/index.ts';
import { buildPackage } from '../build/index.ts';
import { createHttpServer } from '../http/index.ts';
import { Invoker } from '../invoke/index.ts';
import { Recorder } from '../observe/index.ts';
import { Pool } from '../pool/index.ts';
import { Registry } from '../registry/index.ts';
import { ProcessSandbox } from '../sandbox/index.ts';
import { SqliteDatabase, SqliteStore } from '../store/index.ts';
import type { ServerConfig } from './config.ts';

export const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface RunningServer {
  url: string;
  config: ServerConfig;
  isolation: 'bubblewrap' | 'none';
  /** The admin key, only on the first start of a data folder. */
  adminKey: string | undefined;
  close(): Promise<void>;
}

/**
 * The composition root: builds every part from the config, wires them, starts listening.
 * Parts get what they need as arguments; nothing here is global.
 */
export async function startServer(config: ServerConfig, log: { warn: (m: string) => void; logLevel?: string }): Promise<RunningServer> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const packagesDir = path.join(config.dataDir, 'packages');
  mkdirSync(packagesDir, { recursive: true });
  // unsandboxed runs resolve package.json upwards: stop them at ours, whatever folder holds the data
  writeFileSync(path.join(packagesDir, 'package.json'), '{"type":"commonjs"}\n');

  const database = new SqliteDatabase(path.join(config.dataDir, 'aviary.db'));
  const store = new SqliteStore(database);
  const keys = new Keys(store);
  const adminKey = await keys.ensureAdminKey(config.adminKey, Date.now());
  if (adminKey) writeFileSync(path.join(config.dataDir, 'admin.key'), `${adminKey}\n`, { mode: 0o600 });

  const blobs = new FsBlobStore(path.join(config.dataDir, 'blobs'));
  const packages = new BuiltPackages({
    blobs,
    dir: packagesDir,
    build: buildPackage,
    limits: { maxZipBytes: config.limits.packageBytes, maxUnzippedBytes: config.limits.unzippedPackageBytes, maxFiles: config.limits.packageFiles },
  });
  const registry = await Registry.load(store);
  const sandbox = new ProcessSandbox({
    isolation: config.isolation,
    runDir: path.join(config.dataDir, 'run'),
    tmpBytes: config.limits.tmpBytes,
    fileBytes: config.limits.fileBytes,
    logCapBytes: config.limits.logBytesPerInvocation,
    maxResponseBytes: config.limits.syncPayloadBytes,
    warn: log.warn,
  });
  const recorder = new Recorder({ store, retentionMs: config.limits.retentionMs, warn: log.warn });
  const pool = new Pool({
    sandbox,
    idleTtlMs: config.idleTtlMs,
    prewarm: config.prewarm,
    queueLimit: config.limits.queuePerFunction,
    warn: log.warn,
    onStrayLog: (target, requestId, line) => recorder.logs([{
      invocationId: requestId ?? '', functionId: target.functionId, version: target.version, time: line.time, stream: line.stream, message: line.message,
    }]),
  });
  const invoker = new Invoker({ registry, pool, code: packages, recorder, sandboxed: sandbox.isolation === 'bubblewrap', syncPayloadBytes: config.limits.syncPayloadBytes });

  // generic processes for the default class are ready before the first deploy; then min-warm for every function
  pool.prewarm('node', 128);
  pool.prewarm('python', 128);
  for (const entry of registry.allFunctions()) {
    const latest = entry.versions.get(entry.record.latestVersion);
    if (latest) void invoker.applyWarmTarget(entry.record, latest);
  }

  const http = await createHttpServer(
    { registry, invoker, blobs, packages, keys, recorder, store, pool, limits: config.limits, isolation: sandbox.isolation, version: VERSION },
    { logLevel: log.logLevel ?? 'warn', warn: log.warn },
  );
  await new Promise<void>((resolve, reject) => {
    http.server.once('error', reject);
    http.server.listen(config.port, config.host, () => resolve());
  });
  const address = http.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    config,
    isolation: sandbox.isolation,
    adminKey,
    close: () => (closing ??= (async () => {
      // stop accepting, let in-flight requests finish (bounded), then stop instances and flush records
      const closed = http.app.close();
      http.server.closeIdleConnections();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000).unref())]);
      await pool.drain();
      await recorder.close();
      await sandbox.close();
      await store.close();
    })()),
  };
}
