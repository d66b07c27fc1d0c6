/**
 * A small typed client of the management API (docs/api.md) for tests that drive a real server.
 * Every call returns the status and parsed body instead of throwing, so tests can assert on
 * failures; the `deploy*` and `invoke` helpers throw only on transport errors.
 */
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipFromEntries, type ZipEntrySpec } from './zip.ts';

/** test/fixtures/functions/NAME */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`../fixtures/functions/${name}`, import.meta.url));
}

export interface ApiResponse<T = any> {
  status: number;
  json: T;
  headers: Headers;
  /** The raw body text (useful when it is not JSON). */
  text: string;
}

export interface DeployConfig {
  runtime?: 'node' | 'python' | 'provided' | string;
  handler?: string;
  memory?: number;
  timeout?: number;
  env?: Record<string, string>;
  maxInstances?: number;
  minWarm?: number;
  description?: string;
  [field: string]: unknown;
}

export interface InvokeBody {
  requestId: string;
  function: string;
  version: number;
  status: 'succeeded' | 'failed';
  result?: any;
  error?: { errorType: string; errorMessage: string; trace?: string[]; stackTrace?: string[] };
  durationMs: number;
  cold: boolean;
  logs?: { time: string; requestId: string; version: number; stream: 'stdout' | 'stderr'; message: string }[];
}

/** Every file, directory and symlink under `dir` as zip entries, with their modes. */
export async function entriesFromDir(dir: string): Promise<ZipEntrySpec[]> {
  const entries: ZipEntrySpec[] = [];
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(path.join(dir, rel))).sort();
    for (const name of names) {
      const relPath = rel === '' ? name : `${rel}/${name}`;
      const abs = path.join(dir, relPath);
      const st = await lstat(abs);
      if (st.isSymbolicLink()) entries.push({ name: relPath, symlinkTo: await readlink(abs) });
      else if (st.isDirectory()) {
        entries.push({ name: `${relPath}/`, mode: st.mode & 0o7777 });
        await walk(relPath);
      } else entries.push({ name: relPath, content: await readFile(abs), mode: st.mode & 0o7777 });
    }
  };
  await walk('');
  return entries;
}

export class TestApi {
  readonly url: string;
  readonly key: string | undefined;

  constructor(url: string, key?: string) {
    this.url = url.replace(/\/+$/, '');
    this.key = key;
  }

  /** One call; `body` is sent as JSON unless it is a string or Buffer (sent as is). */
  async request<T = any>(method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const h: Record<string, string> = { ...headers };
    if (this.key !== undefined && !('authorization' in h)) h.authorization = `Bearer ${this.key}`;
    let payload: string | Uint8Array | undefined;
    if (typeof body === 'string') payload = body;
    else if (Buffer.isBuffer(body)) payload = new Uint8Array(body);
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.url + urlPath, { method, headers: h, body: payload });
    const text = await res.text();
    let json: any;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json: json as T, headers: res.headers, text };
  }

  /** Uploads a zip; returns its digest (throws unless 200/201). */
  async upload(zip: Buffer): Promise<string> {
    const r = await this.request('POST', '/v1/packages', zip, { 'content-type': 'application/zip' });
    if (r.status !== 200 && r.status !== 201) throw new Error(`upload failed: ${r.status} ${r.text}`);
    return r.json.digest as string;
  }

  /** Uploads `zip` and deploys it with `config` (runtime defaults to node); returns the raw response. */
  async deployZip(name: string, zip: Buffer, config: DeployConfig = {}): Promise<ApiResponse> {
    const digest = await this.upload(zip);
    return this.request('POST', `/v1/functions/${name}/versions`, { runtime: 'node', ...config, package: digest });
  }

  async deployFiles(name: string, entries: ZipEntrySpec[], config: DeployConfig = {}): Promise<ApiResponse> {
    return this.deployZip(name, await zipFromEntries(entries), config);
  }

  async deployDir(name: string, fixtureDir: string, config: DeployConfig = {}): Promise<ApiResponse> {
    return this.deployFiles(name, await entriesFromDir(fixtureDir), config);
  }

  /** Synchronous invoke; `event` is JSON-encoded unless it is a string. */
  async invoke(ref: string, event: unknown = {}, options: { log?: boolean } = {}): Promise<ApiResponse<InvokeBody>> {
    const body = typeof event === 'string' ? event : JSON.stringify(event);
    return this.request<InvokeBody>('POST', `/v1/functions/${ref}/invocations${options.log ? '?log=true' : ''}`, body, { 'content-type': 'application/json' });
  }

  async addRoute(method: string, routePath: string, fn: string, qualifier?: string): Promise<ApiResponse> {
    return this.request('POST', '/v1/routes', { method, path: routePath, function: fn, ...(qualifier === undefined ? {} : { qualifier }) });
  }

  /** Names of the functions, sorted. */
  async functionNames(): Promise<string[]> {
    const r = await this.request('GET', '/v1/functions');
    return (r.json.functions as { name: string }[]).map((f) => f.name).sort();
  }
}

/** Repeats `check` until it returns true or `timeoutMs` passes; returns whether it did. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
