/**
 * Maps a handler's result to the HTTP response, by Lambda's payload format 2.0 rules:
 *
 * - An object with a `statusCode` key is a structured response: `statusCode` (integer
 *   200-599: a 1xx cannot end a request), `headers` (values stringified; hop-by-hop headers
 *   such as `connection` or `transfer-encoding` are the server's and dropped), `cookies` (one Set-Cookie each), `body` (a
 *   string, base64-decoded when `isBase64Encoded` is true; missing or null → empty). No
 *   content-type is added when the function sets none.
 * - Anything else that is valid JSON (string, number, boolean, array, null, an object without
 *   `statusCode`) is the body of a 200 `application/json` response: the string itself for a
 *   string, the JSON text otherwise.
 * - A structured response of the wrong shape becomes a 502 `{"message":"Internal Server Error"}`
 *   and a `problem` sentence the caller logs for the function's developer. That includes header
 *   names and values (and cookies) that HTTP cannot carry: node:http would refuse to send them.
 */
import { validateHeaderName, validateHeaderValue } from 'node:http';

export interface HttpResponse {
  statusCode: number;
  /** Lower-cased names; never `set-cookie` (see `cookies`). */
  headers: Record<string, string>;
  /** One `Set-Cookie` header each: the result's `cookies`, then any `set-cookie` header. */
  cookies: string[];
  /** Text stays a string (sent as UTF-8 in the same write as the head); decoded base64 is bytes. */
  body: string | Buffer;
}

export interface MappedResult {
  response: HttpResponse;
  /** Why the result was rejected (→ 502), for the function's log; undefined when it was fine. */
  problem: string | undefined;
}

export type GatewayErrorKind = 'function-error' | 'timeout' | 'throttled' | 'unavailable' | 'payload-too-large';

const GATEWAY_ERRORS: Record<GatewayErrorKind, { status: number; message: string }> = {
  'function-error': { status: 502, message: 'Internal Server Error' },
  timeout: { status: 504, message: 'Endpoint request timed out' },
  throttled: { status: 429, message: 'Too Many Requests' },
  unavailable: { status: 503, message: 'Service Unavailable' },
  'payload-too-large': { status: 413, message: 'Request Entity Too Large' },
};

/** The body of every 502 the gateway writes for a function's bad response. */
export const INTERNAL_ERROR_BODY = '{"message":"Internal Server Error"}';

/**
 * Headers about the connection rather than the response (RFC 9110 §7.6.1, plus `trailer`):
 * the server frames the body and manages the connection itself, so a function's values are
 * dropped (a `transfer-encoding` next to our `content-length` would be a malformed response).
 */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

/**
 * The response for a handler's result, already parsed from JSON.
 *
 * @example fromHandlerResult({ statusCode: 201, body: 'made' }).response.statusCode // 201
 * @example fromHandlerResult({ statusCode: 'abc' }).problem // 'statusCode must be an integer 100-599, got "abc"'
 */
export function fromHandlerResult(result: unknown): MappedResult {
  if (typeof result !== 'object' || result === null || Array.isArray(result) || !Object.hasOwn(result, 'statusCode')) {
    return ok(200, { 'content-type': 'application/json' }, [], typeof result === 'string' ? result : (JSON.stringify(result) ?? 'null'));
  }
  const r = result as Record<string, unknown>;

  const statusCode = r.statusCode;
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 200 || statusCode > 599) {
    return invalid(`statusCode must be an integer 200-599 (a 1xx status cannot end a request), got ${show(statusCode)}`);
  }

  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  const rawCookies = r.cookies;
  if (rawCookies !== undefined && rawCookies !== null) {
    if (!Array.isArray(rawCookies)) return invalid(`cookies must be an array of strings, got ${show(rawCookies)}`);
    for (const c of rawCookies) {
      if (typeof c !== 'string') return invalid(`cookies must be an array of strings, got an element ${show(c)}`);
      if (!sendableValue('set-cookie', c)) return invalid(`cookies must not contain control characters (such as a line break), got an element ${show(c)}`);
      cookies.push(c);
    }
  }
  const rawHeaders = r.headers;
  if (rawHeaders !== undefined && rawHeaders !== null) {
    if (typeof rawHeaders !== 'object' || Array.isArray(rawHeaders)) {
      return invalid(`headers must be an object of header names to values, got ${show(rawHeaders)}`);
    }
    for (const [name, v] of Object.entries(rawHeaders)) {
      if (v === null || v === undefined) continue;
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
        return invalid(`headers.${name} must be a string, number or boolean, got ${show(v)}`);
      }
      const lower = name.toLowerCase();
      const value = String(v);
      if (!sendableName(lower)) return invalid(`header name ${show(name)} is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_\`|~ only)`);
      if (!sendableValue(lower, value)) return invalid(`headers.${name} must not contain control characters (such as a line break) or characters above U+00FF, got ${show(value)}`);
      if (HOP_BY_HOP.has(lower)) continue;
      if (lower === 'set-cookie') cookies.push(value);
      else if (lower === '__proto__') Object.defineProperty(headers, lower, { value, enumerable: true, writable: true, configurable: true });
      else headers[lower] = value;
    }
  }

  const b64 = r.isBase64Encoded;
  if (b64 !== undefined && b64 !== null && typeof b64 !== 'boolean') {
    return invalid(`isBase64Encoded must be a boolean, got ${show(b64)}`);
  }
  const rawBody = r.body;
  let body: string | Buffer = '';
  if (rawBody !== undefined && rawBody !== null) {
    if (typeof rawBody !== 'string') {
      return invalid(`body must be a string (JSON.stringify objects yourself), got ${show(rawBody)}`);
    }
    body = b64 === true ? Buffer.from(rawBody, 'base64') : rawBody;
  }
  return ok(statusCode, headers, cookies, body);
}

/**
 * Same as `fromHandlerResult` for the raw response payload a runtime posted; a payload that
 * is not JSON is a 502 like any invalid result.
 */
export function fromHandlerPayload(payload: Buffer | string): MappedResult {
  const text = typeof payload === 'string' ? payload : payload.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return invalid(`the function's response is not valid JSON: ${show(text.length > 60 ? `${text.slice(0, 60)}...` : text)}`);
  }
  return fromHandlerResult(parsed);
}

/** The gateway's own error responses: `{"message":"…","requestId":"…"}` as JSON. */
export function errorResponse(kind: GatewayErrorKind, requestId: string): HttpResponse {
  const { status, message } = GATEWAY_ERRORS[kind];
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json' },
    cookies: [],
    body: JSON.stringify({ message, requestId }),
  };
}

function ok(statusCode: number, headers: Record<string, string>, cookies: string[], body: string | Buffer): MappedResult {
  return { response: { statusCode, headers, cookies, body }, problem: undefined };
}

function invalid(problem: string): MappedResult {
  return {
    response: { statusCode: 502, headers: { 'content-type': 'application/json' }, cookies: [], body: INTERNAL_ERROR_BODY },
    problem,
  };
}

/** Whether node:http would send this header name rather than throw. */
function sendableName(name: string): boolean {
  try {
    validateHeaderName(name);
    return true;
  } catch {
    return false;
  }
}

/** Whether node:http would send this header value rather than throw. */
function sendableValue(name: string, value: string): boolean {
  try {
    validateHeaderValue(name, value);
    return true;
  } catch {
    return false;
  }
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
