import path from 'node:path';
import { z } from 'zod';
import { validationError } from '../shared/errors.ts';
import { MAX_PACKAGE_BYTES } from '../shared/limits.ts';
import { asyncSettingsFromEnv, type AsyncSettings } from '../async/settings.ts';

/**
 * Server configuration, parsed once at start-up (STYLE habit 9). Sources, strongest first:
 * command-line options, then AVIARY_* environment variables, then defaults. Every field is
 * documented in docs/operations.md.
 */
export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  /** Idle instances are reaped after this long (ms); `min-warm` instances are kept. */
  idleTtlMs: number;
  /** `auto` uses bubblewrap when it works, `none` never does, `bubblewrap` refuses to start without it. */
  isolation: 'auto' | 'bubblewrap' | 'none';
  /** Generic (not yet specialised) processes kept ready per runtime. */
  prewarm: number;
  /** Invocations that may queue at a busy instance of a function at its instance limit (pool.ts). */
  instanceQueue: number;
  /** Processes and threads one instance may have, where cgroups can be used (sandbox/cgroups.ts). */
  maxProcesses: number;
  /** Level of the request log (AVIARY_LOG_LEVEL). */
  logLevel: LogLevel;
  /** Used as the admin key on first start only (for automation). */
  adminKey: string | undefined;
  /** SigV4 credentials of that admin key, on first start only (for automation); random when absent. */
  adminAccessKey: { accessKeyId: string; secretAccessKey: string } | undefined;
  limits: Limits;
  /** The async dispatcher: concurrency, retry backoff, polling, webhooks (AVIARY_ASYNC_*; docs/async.md). */
  async: AsyncSettings;
}

export interface Limits {
  /** Synchronous request and response payloads (Lambda: 6 MB). */
  syncPayloadBytes: number;
  /** Zipped code package upload. */
  packageBytes: number;
  /** Code package once unzipped (Lambda: 250 MB). */
  unzippedPackageBytes: number;
  /** Files in one package. */
  packageFiles: number;
  /** Requests waiting for an instance of one function once it is at max instances. */
  queuePerFunction: number;
  /** Log bytes kept per invocation; the rest is replaced by a truncation marker. */
  logBytesPerInvocation: number;
  /** Logs and invocation records older than this are deleted. */
  retentionMs: number;
  /** Size of the private /tmp of each instance. */
  tmpBytes: number;
  /** Largest file an instance may write. */
  fileBytes: number;
  /** Management API request bodies other than packages. */
  apiBodyBytes: number;
  /** An asynchronous invocation's event (Lambda: 256 KB). */
  asyncPayloadBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  syncPayloadBytes: 6 * 1024 * 1024,
  packageBytes: MAX_PACKAGE_BYTES,
  unzippedPackageBytes: 250 * 1024 * 1024,
  packageFiles: 20_000,
  queuePerFunction: 100,
  logBytesPerInvocation: 256 * 1024,
  retentionMs: 7 * 24 * 3600 * 1000,
  tmpBytes: 512 * 1024 * 1024,
  fileBytes: 512 * 1024 * 1024,
  apiBodyBytes: 1024 * 1024,
  asyncPayloadBytes: 256 * 1024,
};

/**
 * Requests that may wait at a busy instance of a short function at its limit, at most (the
 * pool also bounds their wait, QUEUE_MAX_WAIT_MS): 8 keeps 32 connections on 4 instances of a
 * hello function out of the function's queue, ~13% more warm throughput than 2
 * (docs/performance.md).
 */
export const DEFAULT_INSTANCE_QUEUE = 8;

/** As Lambda's limit of processes and threads per execution environment. */
export const DEFAULT_MAX_PROCESSES = 1024;

export interface ServerOptions {
  port?: number | undefined;
  host?: string | undefined;
  dataDir?: string | undefined;
  idleTtlSeconds?: number | undefined;
  isolation?: string | undefined;
  prewarm?: number | undefined;
  instanceQueue?: number | undefined;
  maxProcesses?: number | undefined;
  limits?: Partial<Limits> | undefined;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const schema = z.strictObject({
  host: z.string().min(1),
  port: z.coerce.number().int().min(0).max(65535),
  dataDir: z.string().min(1),
  idleTtlSeconds: z.coerce.number().min(1).max(7 * 24 * 3600),
  isolation: z.enum(['auto', 'bubblewrap', 'none']),
  prewarm: z.coerce.number().int().min(0).max(16),
  instanceQueue: z.coerce.number().int().min(0).max(32),
  // a Node instance alone has about a dozen threads
  maxProcesses: z.coerce.number().int().min(32).max(65536),
  logLevel: z.enum(LOG_LEVELS),
});

/** Builds the typed config; `env` is passed in so the environment is read in one place. */
export function loadConfig(options: ServerOptions, env: NodeJS.ProcessEnv): ServerConfig {
  const raw = {
    host: options.host ?? env.AVIARY_HOST ?? '127.0.0.1',
    port: options.port ?? env.AVIARY_PORT ?? 8080,
    dataDir: options.dataDir ?? env.AVIARY_DATA ?? '.aviary',
    idleTtlSeconds: options.idleTtlSeconds ?? env.AVIARY_IDLE_TTL ?? 300,
    isolation: options.isolation ?? env.AVIARY_ISOLATION ?? 'auto',
    prewarm: options.prewarm ?? env.AVIARY_PREWARM ?? 1,
    instanceQueue: options.instanceQueue ?? env.AVIARY_INSTANCE_QUEUE ?? DEFAULT_INSTANCE_QUEUE,
    maxProcesses: options.maxProcesses ?? env.AVIARY_MAX_PROCESSES ?? DEFAULT_MAX_PROCESSES,
    logLevel: env.AVIARY_LOG_LEVEL ?? 'warn',
  };
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw validationError(
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      'server configuration',
    );
  }
  const c = parsed.data;
  return {
    host: c.host,
    port: c.port,
    dataDir: path.resolve(c.dataDir),
    idleTtlMs: c.idleTtlSeconds * 1000,
    isolation: c.isolation,
    prewarm: c.prewarm,
    instanceQueue: c.instanceQueue,
    maxProcesses: c.maxProcesses,
    logLevel: c.logLevel,
    adminKey: env.AVIARY_ADMIN_KEY || undefined,
    adminAccessKey: adminAccessKey(env),
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    async: asyncSettingsFromEnv(env),
  };
}

/** AVIARY_ADMIN_ACCESS_KEY_ID and AVIARY_ADMIN_SECRET_ACCESS_KEY: both or neither. */
function adminAccessKey(env: NodeJS.ProcessEnv): ServerConfig['adminAccessKey'] {
  const accessKeyId = env.AVIARY_ADMIN_ACCESS_KEY_ID || undefined;
  const secretAccessKey = env.AVIARY_ADMIN_SECRET_ACCESS_KEY || undefined;
  if (accessKeyId === undefined && secretAccessKey === undefined) return undefined;
  const issues = [];
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    issues.push({ path: accessKeyId === undefined ? 'AVIARY_ADMIN_ACCESS_KEY_ID' : 'AVIARY_ADMIN_SECRET_ACCESS_KEY', message: 'must be set together with the other (or neither)' });
  }
  if (accessKeyId !== undefined && !/^[A-Za-z0-9_-]{3,128}$/.test(accessKeyId)) {
    issues.push({ path: 'AVIARY_ADMIN_ACCESS_KEY_ID', message: 'must be 3-128 letters, digits, _ or -' });
  }
  if (secretAccessKey !== undefined && !/^[\x21-\x7e]{16,128}$/.test(secretAccessKey)) {
    issues.push({ path: 'AVIARY_ADMIN_SECRET_ACCESS_KEY', message: 'must be 16-128 printable characters without spaces' });
  }
  if (issues.length > 0) throw validationError(issues, 'server configuration');
  return { accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! };
}
