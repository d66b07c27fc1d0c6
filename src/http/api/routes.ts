import type { FastifyInstance } from 'fastify';
import { AviaryError } from '../../shared/errors.ts';
import { baseUrl, principalOf, type ApiDeps } from './context.ts';
import { routeView } from './views.ts';

export function routeRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { registry } = deps;
  const view = (r: Parameters<typeof routeView>[0]) => routeView(r, registry.functionName(r.functionId));

  app.get('/v1/routes', async (req) => ({ routes: registry.listRoutes(principalOf(req).namespace).map(view) }));

  app.post('/v1/routes', async (req, reply) => {
    const route = await registry.addRoute(principalOf(req).namespace, req.body ?? {});
    reply.code(201);
    return { route: view(route), url: `${baseUrl(req)}${route.path}` };
  });

  app.delete<{ Params: { id: string } }>('/v1/routes/:id', async (req, reply) => {
    await registry.deleteRoute(principalOf(req).namespace, { id: req.params.id });
    reply.code(204);
  });

  app.delete<{ Querystring: { method?: string; path?: string } }>('/v1/routes', async (req, reply) => {
    const { method, path } = req.query;
    if (!method || !path) {
      throw new AviaryError('ValidationError', 'say which route to delete: DELETE /v1/routes/{id} or DELETE /v1/routes?method=GET&path=/hello', {
        issues: [...(method ? [] : [{ path: 'method', message: 'is required' }]), ...(path ? [] : [{ path: 'path', message: 'is required' }])],
      });
    }
    await registry.deleteRoute(principalOf(req).namespace, { method, path });
    reply.code(204);
  });
}
