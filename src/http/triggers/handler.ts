import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { isAviaryError } from '../../shared/errors.ts';
import type { Registry } from '../../registry/index.ts';
import type { Invoker } from '../../invoke/index.ts';
import { fillEventTemplate } from './event.ts';
import { EventTemplateCache } from './event-cache.ts';
import { discardBody } from '../errors.ts';
import { errorResponse, fromHandlerResult, INTERNAL_ERROR_BODY, type HttpResponse } from './response.ts';

const NOT_FOUND = '{"message":"Not Found"}';
const EMPTY = Buffer.alloc(0);

/**
 * The body's declared length from the raw headers (reading `req.headers` would build the whole
 * headers object): 0 when there is none, -1 when it is chunked (length unknown until read).
 */
function bodyLength(rawHeaders: string[]): number {
  let length = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 14 && name.toLowerCase() === 'content-length') length = Number(rawHeaders[i + 1]);
    else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') return -1;
  }
  return length;
}

export interface TriggerDeps {
  registry: Registry;
  invoker: Invoker;
  maxBodyBytes: number;
  /** Things the function's developer should see (e.g. a malformed response) and server faults. */
  warn: (message: string) => void;
}

/**
 * User HTTP routes: match → API Gateway 2.0 event → invoke → Lambda's result mapping. This is
 * the hot path, so it is plain `node:http` with no framework in between, and every outcome
 * (function error, timeout, throttling, a body over the limit) ends the response.
 */
export function makeTriggerHandler(deps: TriggerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const { registry, invoker, maxBodyBytes, warn } = deps;
  const templates = new EventTemplateCache();
  return (req, res) => {
    const timeEpoch = Date.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const match = registry.routeTable.match(req.method ?? 'GET', q === -1 ? url : url.slice(0, q));
    if (!match) {
      req.resume();
      write(res, { statusCode: 404, headers: { 'content-type': 'application/json' }, cookies: [], body: NOT_FOUND }, warn);
      return;
    }
    const dispatch = (body: Buffer): void => {
      const route = match.value;
      const requestId = randomUUID();
      const template = templates.get(req.socket, {
        method: req.method ?? 'GET',
        url,
        rawHeaders: req.rawHeaders,
        body,
        sourceIp: req.socket.remoteAddress ?? '',
        httpVersion: req.httpVersion,
      }, match);
      const eventJson = fillEventTemplate(template, requestId, timeEpoch);
      invoker.run({
        namespace: route.namespace,
        ref: registry.functionName(route.functionId),
        qualifier: route.qualifier,
        eventJson,
        eventJsonOneLine: true, // written by our JSON writer, which escapes every control character
        source: 'http',
      }, (result) => {
        if (!result.ok) {
          write(res, errorResponse(result.error?.errorType === 'Sandbox.Timedout' ? 'timeout' : 'function-error', result.requestId), warn);
          return;
        }
        const mapped = fromHandlerResult(result.result);
        if (mapped.problem) warn(`function ${result.fn.name} (request ${result.requestId}) returned an invalid HTTP response: ${mapped.problem}`);
        write(res, mapped.response, warn);
      }, (err) => {
        if (isAviaryError(err)) {
          switch (err.code) {
            case 'TooManyRequests': write(res, errorResponse('throttled', requestId), warn); return;
            case 'PayloadTooLarge': write(res, errorResponse('payload-too-large', requestId), warn); return;
            case 'Unavailable': write(res, errorResponse('unavailable', requestId), warn); return;
            case 'FunctionNotFound':
            case 'VersionNotFound':
              write(res, { statusCode: 404, headers: { 'content-type': 'application/json' }, cookies: [], body: NOT_FOUND }, warn);
              return;
          }
        }
        warn(`HTTP trigger ${match.routeKey} failed: ${err.stack ?? String(err)}`);
        write(res, errorResponse('function-error', requestId), warn);
      });
    };
    // a request without a body needs no stream reading at all (node discards the empty rest
    // once the response is sent): the common GET skips two listeners and the 'end' tick
    const length = bodyLength(req.rawHeaders);
    if (length === 0) {
      dispatch(EMPTY);
      return;
    }
    if (length > maxBodyBytes) {
      tooLarge(req, res, warn);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) tooLarge(req, res, warn);
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (size <= maxBodyBytes) dispatch(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    });
  };
}

function tooLarge(req: IncomingMessage, res: ServerResponse, warn: (message: string) => void): void {
  req.removeAllListeners('data');
  if (res.headersSent) {
    req.resume();
    return;
  }
  const r = errorResponse('payload-too-large', '');
  // answer once the rest of the body is read (bounded), so the client sees the 413, not a reset
  void discardBody(req).then((consumed) => {
    if (!consumed) r.headers.connection = 'close';
    write(res, r, warn);
  });
}

function write(res: ServerResponse, r: HttpResponse, warn: (message: string) => void): void {
  if (res.headersSent || res.destroyed) return;
  // a flat [name, value, …] list: no copy of the headers object, one line per cookie
  const head: string[] = [];
  const headers = r.headers;
  for (const name in headers) if (name !== 'content-length') head.push(name, headers[name]!); // ours is the body's
  for (const cookie of r.cookies) head.push('set-cookie', cookie);
  const body = r.body;
  head.push('content-length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.length));
  try {
    res.writeHead(r.statusCode, head);
    res.end(body);
  } catch (err) {
    // fromHandlerResult refuses what node:http would; should anything still be refused, this
    // request fails alone (a throw here would end the server)
    const sent = res.headersSent;
    if (!sent) {
      res.writeHead(502, ['content-type', 'application/json', 'content-length', String(INTERNAL_ERROR_BODY.length)]);
      res.end(INTERNAL_ERROR_BODY);
    } else {
      res.destroy();
    }
    warn(`HTTP trigger: a response could not be sent (${(err as Error).message}); ${sent ? 'the connection was closed' : 'answered 502 instead'}`);
  }
}
