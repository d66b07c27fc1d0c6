/**
 * Builds the API Gateway HTTP API payload format 2.0 event for one HTTP trigger request.
 *
 * Shape and key order follow AWS's documented sample event. Where AWS's documentation is
 * silent, behaviour observed on real HTTP APIs is followed:
 * - the body is text (`isBase64Encoded: false`) only for `text/*`, `application/json`,
 *   `application/xml` and `application/javascript`; every other content type, a missing
 *   content type and `application/x-www-form-urlencoded` included, arrives base64-encoded;
 * - `body`, `cookies`, `queryStringParameters` and `pathParameters` are omitted (not null)
 *   when empty, as strict event validators (Powertools) reject null.
 * Deliberate difference: AWS hands `rawPath` over percent-decoded; here it is the path as
 * received (what the name promises, and what Lambda function URLs do), while
 * `requestContext.http.path` is decoded as on AWS.
 */

import type { IncomingHttpHeaders } from 'node:http';
import type { RouteMatch } from './routes.ts';

export interface TriggerRequest {
  method: string;
  /** Path and query as received (`req.url`). */
  url: string;
  /**
   * Lower-cased header names. Pass `req.headersDistinct` for AWS-exact joining of repeated
   * headers with `,`; `req.headers` works too, but node joins repeats with `, ` and keeps
   * only the first of some (host, content-type, user-agent…).
   */
  headers: IncomingHttpHeaders | NodeJS.Dict<string[]>;
  body: Buffer;
  sourceIp: string;
  requestId: string;
  /** Milliseconds since the epoch when the request arrived. */
  timeEpoch: number;
  /** node's `req.httpVersion`, e.g. `1.1`. */
  httpVersion: string;
}

export interface HttpApiEvent {
  version: '2.0';
  routeKey: string;
  rawPath: string;
  rawQueryString: string;
  cookies?: string[];
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  requestContext: {
    accountId: string;
    apiId: string;
    domainName: string;
    domainPrefix: string;
    http: { method: string; path: string; protocol: string; sourceIp: string; userAgent: string };
    requestId: string;
    routeKey: string;
    stage: string;
    time: string;
    timeEpoch: number;
  };
  body?: string;
  pathParameters?: Record<string, string>;
  isBase64Encoded: boolean;
}

export const ACCOUNT_ID = 'anonymous';
export const API_ID = 'aviary';
export const STAGE = '$default';

/** The 2.0 event for `req` routed to `match`. */
export function toHttpApiEvent(req: TriggerRequest, match: Pick<RouteMatch<unknown>, 'routeKey' | 'pathParameters'>): HttpApiEvent {
  const url = req.url;
  const q = url.indexOf('?');
  const rawPath = q === -1 ? url : url.slice(0, q);
  const rawQueryString = q === -1 ? '' : url.slice(q + 1);

  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  const src = req.headers;
  for (const name in src) {
    const v = src[name];
    if (v === undefined || name.charCodeAt(0) === 58 /* ':' HTTP/2 pseudo-header */) continue;
    if (name === 'cookie') {
      cookies = splitCookies(v, cookies);
      continue;
    }
    const value = typeof v === 'string' ? v : v.join(',');
    if (name === '__proto__') define(headers, name, value);
    else headers[name] = value;
  }

  const host = headers.host ?? '';
  const event = {
    version: '2.0',
    routeKey: match.routeKey,
    rawPath,
    rawQueryString,
  } as HttpApiEvent;
  if (cookies !== undefined && cookies.length > 0) event.cookies = cookies;
  event.headers = headers;
  const query = rawQueryString === '' ? undefined : parseQuery(rawQueryString);
  if (query !== undefined) event.queryStringParameters = query;
  event.requestContext = {
    accountId: ACCOUNT_ID,
    apiId: API_ID,
    domainName: host,
    domainPrefix: domainPrefix(host),
    http: {
      method: req.method,
      path: decodePath(rawPath),
      protocol: `HTTP/${req.httpVersion}`,
      sourceIp: req.sourceIp,
      userAgent: headers['user-agent'] ?? '',
    },
    requestId: req.requestId,
    routeKey: match.routeKey,
    stage: STAGE,
    time: formatRequestTime(req.timeEpoch),
    timeEpoch: req.timeEpoch,
  };
  const body = req.body;
  let isBase64Encoded = false;
  if (body.length > 0) {
    if (isTextContentType(headers['content-type'])) {
      event.body = body.toString('utf8');
    } else {
      event.body = body.toString('base64');
      isBase64Encoded = true;
    }
  }
  if (match.pathParameters !== undefined) event.pathParameters = match.pathParameters;
  event.isBase64Encoded = isBase64Encoded;
  return event;
}

/** Whether API Gateway delivers a body of this content type as text rather than base64. */
export function isTextContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const semi = contentType.indexOf(';');
  let type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim();
  if (hasUpper(type)) type = type.toLowerCase();
  return type.startsWith('text/') || type === 'application/json' || type === 'application/xml' || type === 'application/javascript';
}

/**
 * `queryStringParameters`: keys and values percent-decoded (`+` as space), repeated keys
 * joined with `,`, undefined when nothing is left.
 */
export function parseQuery(qs: string): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  let start = 0;
  const len = qs.length;
  while (start < len) {
    let amp = qs.indexOf('&', start);
    if (amp === -1) amp = len;
    if (amp > start) {
      const eq = qs.indexOf('=', start);
      const hasValue = eq !== -1 && eq < amp;
      const key = decodeQueryPart(qs.slice(start, hasValue ? eq : amp));
      if (key !== '') {
        const value = hasValue ? decodeQueryPart(qs.slice(eq + 1, amp)) : '';
        out ??= {};
        if (Object.hasOwn(out, key)) out[key] = `${out[key]},${value}`;
        else if (key === '__proto__') define(out, key, value);
        else out[key] = value;
      }
    }
    start = amp + 1;
  }
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let cachedSecond = Number.NaN;
let cachedTime = '';

/** `requestContext.time`: `22/Nov/2026:16:20:01 +0000` (UTC); cached per second. */
export function formatRequestTime(epochMs: number): string {
  const second = Math.floor(epochMs / 1000);
  if (second === cachedSecond) return cachedTime;
  const d = new Date(second * 1000);
  const time = `${pad2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000`;
  cachedSecond = second;
  cachedTime = time;
  return time;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

function splitCookies(v: string | string[], into: string[] | undefined): string[] {
  const out = into ?? [];
  if (typeof v === 'string') pushCookies(v, out);
  else for (const line of v) pushCookies(line, out);
  return out;
}

function pushCookies(line: string, out: string[]): void {
  let start = 0;
  const len = line.length;
  while (start < len) {
    let end = line.indexOf(';', start);
    if (end === -1) end = len;
    let s = start;
    while (s < end && (line.charCodeAt(s) === 32 || line.charCodeAt(s) === 9)) s++;
    let e = end;
    while (e > s && (line.charCodeAt(e - 1) === 32 || line.charCodeAt(e - 1) === 9)) e--;
    if (e > s) out.push(line.slice(s, e));
    start = end + 1;
  }
}

/** First label of the host: `api` for `api.example.com`, `localhost` for `localhost:8080`. */
function domainPrefix(host: string): string {
  if (host === '' || host.charCodeAt(0) === 91 /* [ IPv6 literal */) return host;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c === 46 /* . */ || c === 58 /* : */) return host.slice(0, i);
  }
  return host;
}

/** Decodes every escape except `%25`, which AWS leaves encoded in the decoded path. */
function decodePath(rawPath: string): string {
  if (!rawPath.includes('%')) return rawPath;
  if (!rawPath.includes('%25')) return safeDecode(rawPath);
  return rawPath.split('%25').map(safeDecode).join('%25');
}

function decodeQueryPart(s: string): string {
  const plus = s.includes('+');
  if (!plus && !s.includes('%')) return s;
  return safeDecode(plus ? s.replaceAll('+', ' ') : s);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function hasUpper(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return true;
  }
  return false;
}

/** Own property even for `__proto__`, which plain assignment would treat as the prototype. */
function define(o: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}
