import type { FastifyInstance } from 'fastify';
import { baseUrl, principalOf, type ApiDeps } from './context.ts';
import { functionView, versionView } from './views.ts';
import { AviaryError } from '../../shared/errors.ts';
import { checkName, checkRef } from '../../registry/index.ts';

export function functionRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { registry } = deps;

  app.post<{ Params: { name: string } }>('/v1/functions/:name/versions', async (req, reply) => {
    const ns = principalOf(req).namespace;
    const { fn, version, warnings } = await registry.deploy(ns, req.params.name, req.body ?? {}, deps.packages);
    reply.code(201);
    return {
      function: functionView(fn),
      version: versionView(fn.name, version),
      url: `${baseUrl(req)}/v1/functions/${fn.name}/invocations`,
      warnings,
    };
  });

  app.get('/v1/functions', async (req) => ({
    // with the newest version's runtime, memory and timeout, so a listing needs one request
    functions: registry.listFunctions(principalOf(req).namespace).map((e) => {
      const v = e.versions.get(e.record.latestVersion);
      return { ...functionView(e.record), ...(v ? { runtime: v.runtime, memory: v.memory, timeout: v.timeout } : {}) };
    }),
  }));

  app.get<{ Params: { name: string } }>('/v1/functions/:name', async (req) => {
    const ref = req.params.name;
    checkRef(ref);
    const { fn, version } = registry.resolve(principalOf(req).namespace, ref);
    return { function: functionView(fn), version: versionView(fn.name, version), instances: deps.pool.stats(fn.id) };
  });

  app.get<{ Params: { name: string } }>('/v1/functions/:name/versions', async (req) => {
    checkName(req.params.name);
    const entry = registry.getFunction(principalOf(req).namespace, req.params.name);
    return { versions: [...entry.versions.values()].map((v) => versionView(entry.record.name, v)) };
  });

  app.get<{ Params: { name: string; n: string } }>('/v1/functions/:name/versions/:n', async (req) => {
    checkName(req.params.name);
    if (!/^[1-9][0-9]*$/.test(req.params.n)) {
      throw new AviaryError('ValidationError', `invalid version ${JSON.stringify(req.params.n)}: versions are whole numbers from 1`, { issues: [{ path: 'version', message: 'must be a whole number from 1' }] });
    }
    const { fn, version } = registry.resolve(principalOf(req).namespace, req.params.name, req.params.n);
    return { version: versionView(fn.name, version) };
  });

  app.delete<{ Params: { name: string } }>('/v1/functions/:name', async (req, reply) => {
    checkName(req.params.name);
    await registry.deleteFunction(principalOf(req).namespace, req.params.name);
    reply.code(204);
  });
}
