import { createHash } from 'node:crypto';
import { Transform, pipeline } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EMPTY_SHA256, isSigV4Authorization, type Keys, type PendingSigV4, type SignedRequest } from '../auth/index.ts';

/**
 * AWS SigV4 authentication on the platform paths (/v1 and /2015-03-31), beside bearer tokens.
 * The signature covers the SHA-256 of the body as received, so it is checked in two steps:
 * `beginSigV4` (onRequest: header, date, key) and the preHandler registered here, once the body
 * has streamed through a hashing pass-through. Bearer requests pay for none of this.
 */

declare module 'fastify' {
  interface FastifyRequest {
    sigv4: { pending: PendingSigV4; bodySha256?: string } | null;
  }
}

export { isSigV4Authorization };

/** Registers the body hashing and the final check; call before any route. */
export function registerSigV4(app: FastifyInstance): void {
  app.decorateRequest('sigv4', null);

  app.addHook('preParsing', async (req, _reply, payload) => {
    const state = req.sigv4;
    if (!state) return payload;
    const hash = createHash('sha256');
    const tee = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        done(null, chunk);
      },
      flush(done) {
        state.bodySha256 = hash.digest('hex');
        done();
      },
    });
    pipeline(payload, tee, () => {});
    return tee;
  });

  app.addHook('preHandler', async (req) => {
    // no body read (GET, empty POST): the client signed the hash of the empty string
    if (req.sigv4) req.principal = req.sigv4.pending.verify(req.sigv4.bodySha256 ?? EMPTY_SHA256);
  });
}

/** First step, from the onRequest auth hook: throws SignatureError for a bad header, date or key. */
export async function beginSigV4(req: FastifyRequest, keys: Keys): Promise<void> {
  req.sigv4 = { pending: await keys.beginSigV4(signedRequestOf(req)) };
}

/** The request as it arrived: the raw request line (not decoded) and every header occurrence. */
export function signedRequestOf(req: FastifyRequest): SignedRequest {
  const url = req.raw.url ?? '/';
  const q = url.indexOf('?');
  const headers: Record<string, string | string[]> = {};
  const raw = req.raw.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const prev = headers[name];
    headers[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return { method: req.method, path: q === -1 ? url : url.slice(0, q), query: q === -1 ? '' : url.slice(q + 1), headers };
}
