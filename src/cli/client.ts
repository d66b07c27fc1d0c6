import http from 'node:http';
import https from 'node:https';
import { CliError, type Issue } from './errors.ts';

/** Connection failures that mean "nothing is answering there", as opposed to a protocol error. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE']);

export interface ClientOptions {
  baseUrl: string;
  apiKey: string;
  /** Where the key came from (`--api-key`, `AVIARY_API_KEY`, a file), for 401 messages. */
  keyFrom?: string;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as is, with `contentType`. */
  body?: Buffer;
  contentType?: string;
  /** Statuses returned to the caller instead of thrown (e.g. 404 for HEAD). */
  allow?: number[];
  /** Extra request headers (e.g. Idempotency-Key). */
  headers?: Record<string, string>;
  /** Called while the body is written: bytes sent so far and the total. */
  onProgress?: (sent: number, total: number) => void;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
}

/** The management API (`/v1`) over HTTP; every non-2xx answer becomes a CliError with the server's message. */
export class ApiClient {
  readonly baseUrl: string;
  readonly #apiKey: string;
  readonly #keyFrom: string | undefined;

  constructor(options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#apiKey = options.apiKey;
    this.#keyFrom = options.keyFrom;
  }

  /** The full URL of a server path (routes are served outside /v1, on the same origin). */
  url(path: string): string {
    return `${this.baseUrl}${path.startsWith('/') ? '' : '/'}${path}`;
  }

  async get<T>(path: string, query?: RequestOptions['query']): Promise<T> {
    return (await this.request<T>('GET', path, query ? { query } : {})).body;
  }

  async post<T>(path: string, json: unknown, query?: RequestOptions['query']): Promise<T> {
    return (await this.request<T>('POST', path, query ? { json, query } : { json })).body;
  }

  async delete(path: string, query?: RequestOptions['query']): Promise<void> {
    await this.request('DELETE', path, query ? { query } : {});
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const url = new URL(this.url(path));
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { ...options.headers, authorization: `Bearer ${this.#apiKey}`, accept: 'application/json' };
    let body: Buffer | undefined;
    if (options.json !== undefined) {
      body = Buffer.from(JSON.stringify(options.json));
      headers['content-type'] = 'application/json';
    } else if (options.body !== undefined) {
      body = options.body;
      headers['content-type'] = options.contentType ?? 'application/octet-stream';
    }
    const res = await send(url, method, headers, body, options.onProgress).catch((err: unknown) => {
      throw this.#networkError(err);
    });
    const text = res.body.toString('utf8');
    if ((res.status >= 200 && res.status < 300) || options.allow?.includes(res.status)) {
      let parsed: unknown = undefined;
      if (text.length > 0 && method !== 'HEAD') {
        try {
          parsed = JSON.parse(text);
        } catch {
          throw new CliError(`the server answered ${method} ${url.pathname} with a body that is not JSON: ${snippet(text)}`, { status: res.status });
        }
      }
      return { status: res.status, body: parsed as T };
    }
    throw this.#httpError(res.status, res.statusMessage, text, res.headers);
  }

  #httpError(status: number, statusMessage: string, text: string, headers: http.IncomingHttpHeaders): CliError {
    let payload: unknown;
    try {
      payload = text ? JSON.parse(text) : undefined;
    } catch {
      payload = undefined;
    }
    const error = (payload as { error?: { code?: unknown; message?: unknown; issues?: unknown } } | undefined)?.error;
    if (!error || typeof error.message !== 'string') {
      return new CliError(`the server answered ${status} ${statusMessage}${text ? `: ${snippet(text)}` : ''}`, { status });
    }
    const code = typeof error.code === 'string' ? error.code : undefined;
    const issues = Array.isArray(error.issues)
      ? (error.issues as unknown[]).flatMap((i): Issue[] => {
          const issue = i as { path?: unknown; message?: unknown };
          return typeof issue?.message === 'string' ? [{ path: typeof issue.path === 'string' ? issue.path : '', message: issue.message }] : [];
        })
      : [];
    let hint: string | undefined;
    if (status === 401) {
      hint = `The server at ${this.baseUrl} rejected the API key${this.#keyFrom ? ` from ${this.#keyFrom}` : ''}: run \`aviary login --key <key>\` or set AVIARY_API_KEY.`;
    } else if (status === 429 && headers['retry-after']) {
      hint = `Retry after ${String(headers['retry-after'])} s.`;
    }
    // The message names the problem already; issues repeating it verbatim add nothing.
    const shown = issues.length === 1 && issues[0] && error.message.endsWith(issues[0].message) ? [] : issues;
    return new CliError(error.message, { status, issues: shown, ...(code ? { code } : {}), ...(hint ? { hint } : {}) });
  }

  #networkError(err: unknown): CliError {
    const code = (err as NodeJS.ErrnoException).code;
    if (code && UNREACHABLE.has(code)) {
      return new CliError(
        `cannot reach the Aviary server at ${this.baseUrl} (${code}): start it with \`aviary server\`, or point AVIARY_URL at it`,
      );
    }
    return new CliError(`request to ${this.baseUrl} failed: ${(err as Error).message}`);
  }
}

interface RawResponse {
  status: number;
  statusMessage: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

const CHUNK = 64 * 1024;

/**
 * One HTTP request with node:http rather than fetch: fetch gives up waiting for response
 * headers after 300 s, and a synchronous invoke may legitimately take up to 900 s. Writing
 * the body ourselves also gives an honest upload progress.
 */
function send(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  onProgress?: (sent: number, total: number) => void,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const allHeaders = { ...headers, 'content-length': String(body?.length ?? 0) };
    let settled = false;
    const req = mod.request(url, { method, headers: allHeaders }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => {
        if (settled) return;
        settled = true;
        reject(err);
      });
      res.on('end', () => {
        settled = true;
        resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', headers: res.headers, body: Buffer.concat(chunks) });
      });
    });
    req.on('error', (err) => {
      // A server that rejects an upload early (413) may close the socket while we still
      // write; its answer, when it came, is the better error.
      if (settled) return;
      setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(err);
      }, 50);
    });
    if (!body || body.length === 0) {
      req.end();
      return;
    }
    let offset = 0;
    const writeMore = (): void => {
      while (offset < body.length) {
        const chunk = body.subarray(offset, offset + CHUNK);
        offset += chunk.length;
        onProgress?.(offset, body.length);
        if (!req.write(chunk)) {
          req.once('drain', writeMore);
          return;
        }
      }
      req.end();
    };
    writeMore();
  });
}

function snippet(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > 200 ? `${one.slice(0, 200)}…` : one;
}

/** Encodes `name[:qualifier]` for a URL path, keeping `:` and `$` (as in `$LATEST`) readable. */
export function functionPath(name: string, qualifier?: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%24/g, '$');
  return qualifier === undefined ? enc(name) : `${enc(name)}:${enc(qualifier)}`;
}
