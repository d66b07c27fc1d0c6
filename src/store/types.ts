import type { InvocationBlock } from './invocation-block.ts';

/**
 * The persistence contract. The registry and the rest of the server depend on this interface
 * only; `SqliteStore` implements it for the embedded default, and a PostgreSQL store will
 * implement the same contract (and run the same contract tests) for clusters.
 * Methods are async so a networked database fits behind the same interface.
 */

export type Runtime = 'node' | 'python' | 'provided';
export type KeyRole = 'admin' | 'developer' | 'invoker';

export interface KeyRecord {
  id: string;
  namespace: string;
  role: KeyRole;
  /** SHA-256 of the whole bearer token; the token itself is never stored. */
  tokenHash: string;
  description: string;
  createdAt: number;
  /** The SigV4 secret access key (the access key id is `id`), sealed by the server's master key; null/absent: bearer only. */
  sigv4Secret?: string | null;
}

export interface FunctionRecord {
  id: string;
  namespace: string;
  name: string;
  latestVersion: number;
  createdAt: number;
  updatedAt: number;
}

export interface VersionConfig {
  runtime: Runtime;
  handler: string | null;
  memory: number;
  timeout: number;
  env: Record<string, string>;
  maxInstances: number;
  minWarm: number;
  description: string;
}

export interface VersionRecord extends VersionConfig {
  functionId: string;
  version: number;
  /** `sha256:…` of the uploaded zip. */
  packageDigest: string;
  /** Directory name of the built package under the data folder's packages/. */
  buildId: string;
  codeSize: number;
  createdAt: number;
}

export interface RouteRecord {
  id: string;
  namespace: string;
  method: string;
  path: string;
  functionId: string;
  qualifier: string | null;
  createdAt: number;
}

export interface InvocationRecord {
  id: string;
  namespace: string;
  functionId: string;
  version: number;
  source: string;
  status: 'succeeded' | 'failed';
  cold: boolean;
  startedAt: number;
  durationMs: number;
  initMs: number | null;
  errorType: string | null;
  errorMessage: string | null;
}

export interface LogRecord {
  invocationId: string;
  functionId: string;
  version: number;
  time: number;
  stream: 'stdout' | 'stderr';
  message: string;
}

export interface LogQuery {
  functionId: string;
  invocationId?: string | undefined;
  since?: number | undefined;
  limit: number;
}

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  close(): Promise<void>;

  countKeys(): Promise<number>;
  createKey(key: KeyRecord): Promise<void>;
  findKeyByTokenHash(tokenHash: string): Promise<KeyRecord | undefined>;
  findKeyById(id: string): Promise<KeyRecord | undefined>;

  listFunctions(): Promise<FunctionRecord[]>;
  listVersions(): Promise<VersionRecord[]>;
  /** Creates the function on its first version; returns both rows as stored. Atomic. */
  createVersion(
    fn: { id: string; namespace: string; name: string },
    version: Omit<VersionRecord, 'functionId' | 'version' | 'createdAt'>,
    now: number,
  ): Promise<{ function: FunctionRecord; version: VersionRecord }>;
  /** Deletes the function, its versions and its routes. Atomic. */
  deleteFunction(functionId: string): Promise<void>;

  listRoutes(): Promise<RouteRecord[]>;
  createRoute(route: RouteRecord): Promise<void>;
  deleteRoute(id: string): Promise<void>;

  insertInvocations(records: InvocationRecord[]): Promise<void>;
  insertLogs(records: LogRecord[]): Promise<void>;
  queryLogs(query: LogQuery): Promise<LogRecord[]>;
  /** Deletes logs and invocation records started before `before`. Returns rows deleted. */
  prune(before: number): Promise<number>;
}

/**
 * Appends batches of invocation records and log lines: the recorder's way into a store, which
 * may do the writing off the server's main thread. A batch is readable once `write` resolves.
 */
export interface RecordWriter {
  write(invocations: InvocationBlock, logs: LogRecord[]): Promise<void>;
  close(): Promise<void>;
}
