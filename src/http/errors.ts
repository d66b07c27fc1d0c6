import type { IncomingMessage, ServerResponse } from 'node:http';
import { AviaryError, httpStatusFor, isAviaryError } from '../shared/errors.ts';
import { formatBytes } from '../build/index.ts';

/** Maps anything thrown to the API's JSON error; the status comes from the one table in shared/errors. */
export function toApiError(err: unknown, context: { bodyLimit?: number | undefined } = {}): { status: number; body: { error: ReturnType<AviaryError['toJSON']> }; retryAfter?: number } {
  const e = isAviaryError(err) ? err : fromFrameworkError(err, context.bodyLimit);
  return { status: httpStatusFor(e.code), body: { error: e.toJSON() }, ...(e.retryAfter !== undefined ? { retryAfter: e.retryAfter } : {}) };
}

/** Fastify and Node errors that reach us carry a status; give them our codes and better words. */
function fromFrameworkError(err: unknown, bodyLimit: number | undefined): AviaryError {
  const e = err as { code?: string; statusCode?: number; message?: string };
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AviaryError('PayloadTooLarge', bodyLimit === undefined
        ? 'request body is larger than this endpoint accepts (see docs/limits.md)'
        : `request body is larger than this endpoint's limit of ${bodyLimit} bytes (${formatBytes(bodyLimit)}); see docs/limits.md`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AviaryError('UnsupportedMediaType', `unsupported Content-Type: ${e.message ?? ''}; send application/json (or application/zip to /v1/packages)`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AviaryError('ValidationError', 'the request body is empty but Content-Type says JSON: send a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case undefined:
      if (e.statusCode === 400 && /JSON/i.test(e.message ?? '')) return new AviaryError('ValidationError', `the request body is not valid JSON: ${e.message}`);
  }
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return new AviaryError('ValidationError', e.message ?? 'bad request');
  return new AviaryError('InternalError', 'internal error; the server log has the details', { cause: err });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Beyond this many unread bytes a connection is closed rather than drained. */
const MAX_DRAIN_BYTES = 64 * 1024 * 1024;
const DRAIN_TIMEOUT_MS = 10_000;

/** Requests whose `Expect: 100-continue` we did not answer: their body never comes. */
const bodyNotInvited = new WeakSet<IncomingMessage>();

export function refuseBody(req: IncomingMessage): void {
  bodyNotInvited.add(req);
}

/**
 * A request refused for its size may still have body bytes in flight. Answering and closing
 * while the client is still sending makes it see a reset (EPIPE) instead of our 413, so the
 * rest is read and discarded first. Resolves true once the body is consumed (the connection
 * stays usable), false when it should not be read: too large, of unknown length, or never
 * invited (answer with `connection: close`).
 */
export function discardBody(req: IncomingMessage): Promise<boolean> {
  if (req.complete) return Promise.resolve(true);
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (bodyNotInvited.has(req) || !(declared <= MAX_DRAIN_BYTES)) {
    req.resume();
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    // whatever was reading the body (a hashing pipe, a parser) has given up on it: detach it so
    // the bytes flow, and never wait longer than a slow client deserves
    const timer = setTimeout(() => resolve(false), DRAIN_TIMEOUT_MS);
    const done = (consumed: boolean): void => {
      clearTimeout(timer);
      resolve(consumed);
    };
    req.once('end', () => done(true));
    req.once('error', () => done(false));
    req.once('close', () => done(req.complete));
    req.unpipe();
    req.removeAllListeners('data');
    req.resume();
  });
}
