/**
 * The Aviary side of the benchmark: a real `aviary server` child process and a small client
 * for its management API (docs/api.md) over keep-alive HTTP.
 */
import { Agent, request } from 'node:http';
import { startServer, type RunningServer } from '../test/helpers/server.ts';
import { zipFromEntries } from '../test/helpers/zip.ts';
import { onCleanup } from './procs.ts';

export const ADMIN_KEY = 'bench-key';

export const NODE_HELLO = `exports.handler = async () => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: '{"message":"hello"}',
});
`;

export const PYTHON_HELLO = `def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": '{"message":"hello"}'}
`;

export interface BenchServer extends RunningServer {
  api: ApiClient;
}

/** `node bin/aviary.js server --port 0 --data <tmp> ARGS` with AVIARY_ADMIN_KEY=bench-key; stopped by cleanup(). */
export async function startAviary(args: string[], env: Record<string, string> = {}): Promise<BenchServer> {
  const server = await startServer({ env: { AVIARY_ADMIN_KEY: ADMIN_KEY, ...env }, args, startTimeoutMs: 60_000 });
  const api = new ApiClient(server.url, ADMIN_KEY);
  const unregister = onCleanup(`aviary server (pid ${server.pid})`, async () => {
    api.close();
    await server.stop();
  });
  const stop = async (): Promise<void> => {
    unregister();
    api.close();
    await server.stop();
  };
  return { ...server, stop, api };
}

export interface HttpResult {
  status: number;
  body: string;
  ms: number;
}

export class ApiClient {
  readonly #url: URL;
  readonly #key: string;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 16 });

  constructor(url: string, key: string) {
    this.#url = new URL(url);
    this.#key = key;
  }

  close(): void {
    this.#agent.destroy();
  }

  /** One request; `ms` is the client-side time from sending to the last byte of the response. */
  send(method: string, path: string, body?: Buffer | string, contentType = 'application/json', auth = true): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
      const headers: Record<string, string | number> = {};
      if (auth) headers.authorization = `Bearer ${this.#key}`;
      if (payload) {
        headers['content-type'] = contentType;
        headers['content-length'] = payload.length;
      }
      const started = performance.now();
      const req = request({ host: this.#url.hostname, port: this.#url.port, method, path, headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
        res.on('error', reject);
      });
      req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: no answer within 60 s`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  async json<T>(method: string, path: string, body?: unknown, expect: number[] = [200, 201]): Promise<T> {
    const r = await this.send(method, path, body === undefined ? undefined : JSON.stringify(body));
    if (!expect.includes(r.status)) throw new Error(`${method} ${path} → ${r.status}: ${r.body}`);
    return JSON.parse(r.body) as T;
  }

  /** Uploads a zip; returns its digest. */
  async upload(files: Record<string, string>): Promise<string> {
    const zip = await zipFromEntries(Object.entries(files).map(([name, content]) => ({ name, content })));
    const r = await this.send('POST', '/v1/packages', zip, 'application/zip');
    if (r.status !== 200 && r.status !== 201) throw new Error(`POST /v1/packages → ${r.status}: ${r.body}`);
    return (JSON.parse(r.body) as { digest: string }).digest;
  }

  /** Deploys a new version; returns the client-side time the deploy took. */
  async deploy(name: string, config: { runtime: 'node' | 'python'; handler: string; package: string; maxInstances?: number; memory?: number }): Promise<number> {
    const started = performance.now();
    await this.json('POST', `/v1/functions/${encodeURIComponent(name)}/versions`, config, [201]);
    return performance.now() - started;
  }

  async route(method: string, path: string, fn: string): Promise<void> {
    await this.json('POST', '/v1/routes', { method, path, function: fn }, [201]);
  }

  /** Synchronous invoke through `POST /v1/functions/NAME/invocations`. */
  async invoke(name: string, event: unknown = {}): Promise<{ clientMs: number; durationMs: number; cold: boolean; status: string; result: unknown }> {
    const r = await this.send('POST', `/v1/functions/${encodeURIComponent(name)}/invocations`, JSON.stringify(event));
    if (r.status !== 200) throw new Error(`invoke ${name} → ${r.status}: ${r.body}`);
    const b = JSON.parse(r.body) as { status: string; durationMs: number; cold: boolean; result?: unknown; error?: unknown };
    if (b.status !== 'succeeded') throw new Error(`invoke ${name} failed: ${JSON.stringify(b.error)}`);
    return { clientMs: r.ms, durationMs: b.durationMs, cold: b.cold, status: b.status, result: b.result };
  }
}
