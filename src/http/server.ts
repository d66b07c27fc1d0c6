import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerApi, type ApiDeps } from './api/index.ts';
import { makeTriggerHandler } from './triggers/handler.ts';
import { isReservedPath } from '../registry/index.ts';
import { refuseBody } from './errors.ts';

export interface HttpServer {
  server: Server;
  app: FastifyInstance;
}

/**
 * One Node HTTP server: platform paths go to Fastify (validation, errors, OpenAPI), user
 * routes go straight to the trigger handler so the hot path pays for no framework.
 */
export async function createHttpServer(deps: ApiDeps, opts: { logLevel: string; warn: (message: string) => void }): Promise<HttpServer> {
  const triggers = makeTriggerHandler({ registry: deps.registry, invoker: deps.invoker, maxBodyBytes: deps.limits.syncPayloadBytes, warn: opts.warn });
  const app = Fastify({
    logger: { level: opts.logLevel },
    bodyLimit: deps.limits.apiBodyBytes,
    return503OnClosing: true,
    serverFactory: (fastifyHandler) => {
      const server = createServer((req: IncomingMessage, res: ServerResponse) => {
        if (isReservedPath(req.url ?? '/')) fastifyHandler(req, res);
        else triggers(req, res);
      });
      // `Expect: 100-continue` (the AWS SDK sends it for large payloads): invite the body only
      // when it can be accepted; otherwise the 413 goes out before the client sends anything,
      // instead of a reset connection mid-upload
      server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
        const declared = Number(req.headers['content-length'] ?? 0);
        const limit = req.url?.startsWith('/v1/packages') ? deps.limits.packageBytes : Math.max(deps.limits.syncPayloadBytes, deps.limits.apiBodyBytes);
        if (declared > limit) refuseBody(req);
        else res.writeContinue();
        server.emit('request', req, res);
      });
      return server;
    },
  });
  registerApi(app, deps);
  await app.ready();
  return { server: app.server, app };
}
