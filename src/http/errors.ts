import type { ServerResponse } from 'node:http';
import { AviaryError, httpStatusFor, isAviaryError } from '../shared/errors.ts';

/** Maps anything thrown to the API's JSON error; the status comes from the one table in shared/errors. */
export function toApiError(err: unknown): { status: number; body: { error: ReturnType<AviaryError['toJSON']> }; retryAfter?: number } {
  const e = isAviaryError(err) ? err : fromFrameworkError(err);
  return { status: httpStatusFor(e.code), body: { error: e.toJSON() }, ...(e.retryAfter !== undefined ? { retryAfter: e.retryAfter } : {}) };
}

/** Fastify and Node errors that reach us carry a status; give them our codes and better words. */
function fromFrameworkError(err: unknown): AviaryError {
  const e = err as { code?: string; statusCode?: number; message?: string };
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AviaryError('PayloadTooLarge', 'request body is larger than this endpoint accepts (see the limits in docs/limits.md)');
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
