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
import { jsonString } from '../../shared/json.ts';

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

/**
 * `TriggerRequest` with node's `req.rawHeaders` in place of `headers`: what the hot path has at
 * hand without node building `req.headersDistinct` (an array per header) first.
 */
export interface RawTriggerRequest extends Omit<TriggerRequest, 'headers'> {
  /** node's `req.rawHeaders`: names as received (any case) alternating with values, repeats kept. */
  rawHeaders: string[];
}

/** What of a route match the event needs. */
export type EventMatch = Pick<RouteMatch<unknown>, 'routeKey' | 'pathParameters'>;

/** The 2.0 event for `req` routed to `match`. */
export function toHttpApiEvent(req: TriggerRequest, match: EventMatch): HttpApiEvent {
  const { rawPath, rawQueryString } = splitUrl(req.url);
  const collected = newCollectedHeaders();
  const src = req.headers;
  for (const name in src) {
    const v = src[name];
    if (v !== undefined) addHeader(collected, name, v);
  }
  const { headers, cookies } = collected;

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

const REQUEST_CONTEXT_JSON = `,"requestContext":{"accountId":${JSON.stringify(ACCOUNT_ID)},"apiId":${JSON.stringify(API_ID)},"domainName":`;
const STAGE_JSON = `,"stage":${JSON.stringify(STAGE)},"time":`;

/**
 * `JSON.stringify(toHttpApiEvent(…))`, character for character, for `req` given as node's
 * `rawHeaders`: node's `headersDistinct` is every raw line, name lower-cased, in arrival order
 * (none dropped, unlike `req.headers`), so collecting the raw lines gives the same headers.
 * Written as text, without `headersDistinct` or an event object; the headers still go through
 * a plain object so key order (array-index names such as `123` first) and `__proto__` match.
 */
export function httpApiEventJson(req: RawTriggerRequest, match: EventMatch): string {
  return fillEventTemplate(httpApiEventTemplate(req, match), req.requestId, req.timeEpoch);
}

/**
 * An event's JSON around the parts that differ from one request to the next even when
 * everything the client sent is the same: `requestContext.requestId`, `.time` and `.timeEpoch`.
 */
export interface EventTemplate {
  /** Up to and including `"requestId":`. */
  head: string;
  /** From `,"routeKey":` after the request id to `"time":`. */
  middle: string;
  /** After the `timeEpoch` number, to the end. */
  tail: string;
}

/** The event of `req` (whose `requestId` and `timeEpoch` are not read) as a template. */
export function httpApiEventTemplate(req: Omit<RawTriggerRequest, 'requestId' | 'timeEpoch'>, match: EventMatch): EventTemplate {
  const { rawPath, rawQueryString } = splitUrl(req.url);
  const collected = newCollectedHeaders();
  const raw = req.rawHeaders;
  // lower-cased as node's headersDistinct does; a name without a value (node never makes one) counts as ''
  for (let i = 0; i < raw.length; i += 2) addHeader(collected, raw[i]!.toLowerCase(), raw[i + 1] ?? '');
  const { headers, cookies } = collected;

  const host = headers.host ?? '';
  const routeKey = jsonString(match.routeKey);
  let head = `{"version":"2.0","routeKey":${routeKey},"rawPath":${jsonString(rawPath)},"rawQueryString":${jsonString(rawQueryString)}`;
  if (cookies !== undefined && cookies.length > 0) head += `,"cookies":${JSON.stringify(cookies)}`;
  head += `,"headers":${JSON.stringify(headers)}`;
  const query = rawQueryString === '' ? undefined : parseQuery(rawQueryString);
  if (query !== undefined) head += `,"queryStringParameters":${JSON.stringify(query)}`;
  head += `${REQUEST_CONTEXT_JSON}${jsonString(host)},"domainPrefix":${jsonString(domainPrefix(host))}`
    + `,"http":{"method":${jsonString(req.method)},"path":${jsonString(decodePath(rawPath))},"protocol":${jsonString(`HTTP/${req.httpVersion}`)}`
    + `,"sourceIp":${jsonString(req.sourceIp)},"userAgent":${jsonString(headers['user-agent'] ?? '')}}`
    + ',"requestId":';
  const middle = `,"routeKey":${routeKey}${STAGE_JSON}`;
  let tail = '}';
  const body = req.body;
  let isBase64Encoded = false;
  if (body.length > 0) {
    if (isTextContentType(headers['content-type'])) {
      tail += `,"body":${JSON.stringify(body.toString('utf8'))}`;
    } else {
      tail += `,"body":"${body.toString('base64')}"`; // the base64 alphabet needs no escaping
      isBase64Encoded = true;
    }
  }
  if (match.pathParameters !== undefined) tail += `,"pathParameters":${JSON.stringify(match.pathParameters)}`;
  tail += `,"isBase64Encoded":${isBase64Encoded}}`;
  return { head, middle, tail };
}

/** The event JSON of a template with this request's id and time. */
export function fillEventTemplate(t: EventTemplate, requestId: string, timeEpoch: number): string {
  return `${t.head}${jsonString(requestId)}${t.middle}${jsonString(formatRequestTime(timeEpoch))},"timeEpoch":${jsonNumber(timeEpoch)}${t.tail}`;
}

function splitUrl(url: string): { rawPath: string; rawQueryString: string } {
  const q = url.indexOf('?');
  return q === -1 ? { rawPath: url, rawQueryString: '' } : { rawPath: url.slice(0, q), rawQueryString: url.slice(q + 1) };
}

/** The event's `headers` and `cookies` as they are being collected. */
interface CollectedHeaders {
  headers: Record<string, string>;
  cookies: string[] | undefined;
}

function newCollectedHeaders(): CollectedHeaders {
  return { headers: {}, cookies: undefined };
}

/**
 * Adds one header (lower-cased name; one line, or all of a name's lines) to the event:
 * HTTP/2 pseudo-headers skipped, `cookie` split into `cookies`, repeated names joined with `,`.
 */
function addHeader(into: CollectedHeaders, name: string, value: string | string[]): void {
  if (name.charCodeAt(0) === 58 /* ':' HTTP/2 pseudo-header */) return;
  if (name === 'cookie') {
    into.cookies = splitCookies(value, into.cookies);
    return;
  }
  const line = typeof value === 'string' ? value : value.join(',');
  const headers = into.headers;
  if (Object.hasOwn(headers, name)) headers[name] += `,${line}`;
  else if (name === '__proto__') define(headers, name, line);
  else headers[name] = line;
}

function jsonNumber(n: number): string {
  return Number.isFinite(n) ? `${n}` : 'null';
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
