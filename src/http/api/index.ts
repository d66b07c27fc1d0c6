import type { FastifyInstance } from 'fastify';
import { AviaryError } from '../../shared/errors.ts';
import { discardBody, toApiError } from '../errors.ts';
import type { ApiDeps } from './context.ts';
import { functionRoutes } from './functions.ts';
import { invocationRoutes } from './invocations.ts';
import { openApiDocument } from './openapi.ts';
import { packageRoutes } from './packages.ts';
import { routeRoutes } from './routes.ts';
import { beginSigV4, isSigV4Authorization, registerSigV4 } from '../sigv4-auth.ts';
import { lambdaApi } from '../lambda/index.ts';
import { scheduleRoutes } from './schedules.ts';
import { eventRoutes } from './events.ts';
import { asyncRoutes } from './async.ts';
import { topicRoutes } from './topics.ts';
import { triggerRoutes } from './triggers.ts';

export type { ApiDeps } from './context.ts';

/** The management API under /v1 and /healthz, on one Fastify instance. */
export function registerApi(app: FastifyInstance, deps: ApiDeps): void {
  app.decorateRequest('principal', null);
  const openapi = JSON.stringify(openApiDocument(deps.version));

  app.addHook('onRequest', async (req) => {
    const path = req.url.split('?', 1)[0]!;
    if (path === '/healthz' || path === '/v1/openapi.json') return;
    // AWS SigV4 (SDKs, AWS CLI): the principal is set once the signed body is read (sigv4-auth.ts)
    if (isSigV4Authorization(req.headers.authorization)) return beginSigV4(req, deps.keys);
    req.principal = await deps.keys.authenticate(req.headers.authorization);
  });
  registerSigV4(app);

  app.setErrorHandler(async (err, req, reply) => {
    const { status, body, retryAfter } = toApiError(err, { bodyLimit: req.routeOptions.bodyLimit });
    // answer a too-large body only after reading the rest of it (bounded), so the client sees the 413, not EPIPE
    if (status === 413 && !(await discardBody(req.raw))) reply.header('connection', 'close');
    if (status >= 500) req.log.error({ err }, 'request failed');
    if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
    return reply.code(status).send(body);
  });

  app.setNotFoundHandler((req, reply) => {
    const { status, body } = toApiError(new AviaryError('NotFound', `no API route ${req.method} ${req.url.split('?', 1)[0]}; the API is described at /v1/openapi.json and in docs/api.md`));
    reply.code(status).send(body);
  });

  app.get('/healthz', async () => ({ status: 'ok', version: deps.version, isolation: deps.isolation, processLimit: deps.processLimit }));
  app.get('/v1/openapi.json', async (_req, reply) => reply.type('application/json').send(openapi));

  functionRoutes(app, deps);
  packageRoutes(app, deps);
  invocationRoutes(app, deps);
  routeRoutes(app, deps);
  app.register(lambdaApi(deps), { prefix: '/2015-03-31' });
  scheduleRoutes(app, deps);
  eventRoutes(app, deps);
  asyncRoutes(app, deps);
  topicRoutes(app, deps);
  triggerRoutes(app, deps);
}
