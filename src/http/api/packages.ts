import type { FastifyInstance } from 'fastify';
import { AviaryError } from '../../shared/errors.ts';
import { isDigest } from '../../blobs/index.ts';
import type { ApiDeps } from './context.ts';

export function packageRoutes(app: FastifyInstance, deps: ApiDeps): void {
  // a zip body arrives as a Buffer; the size limit is the package limit, not the JSON one
  app.addContentTypeParser(['application/zip', 'application/octet-stream'], { parseAs: 'buffer', bodyLimit: deps.limits.packageBytes }, (_req, body, done) => done(null, body));

  app.head<{ Params: { digest: string } }>('/v1/packages/:digest', async (req, reply) => {
    checkDigest(req.params.digest);
    reply.code((await deps.blobs.has(req.params.digest)) ? 200 : 404).send();
  });

  app.post('/v1/packages', { bodyLimit: deps.limits.packageBytes }, async (req, reply) => {
    const body = req.body;
    if (!Buffer.isBuffer(body)) {
      throw new AviaryError('UnsupportedMediaType', 'upload the package as the raw request body with Content-Type: application/zip');
    }
    if (body.length === 0) throw new AviaryError('InvalidPackage', 'the package is empty: send a zip archive of the function\'s code');
    const { digest, created } = await deps.blobs.put(body);
    reply.code(created ? 201 : 200);
    return { digest, size: body.length };
  });
}

function checkDigest(digest: string): void {
  if (!isDigest(digest)) {
    throw new AviaryError('ValidationError', `invalid package digest ${JSON.stringify(digest)}: expected sha256:<64 lowercase hex>`, { issues: [{ path: 'digest', message: 'must be sha256:<64 hex>' }] });
  }
}
