import type { FastifyInstance } from 'fastify';
import { AviaryError } from '../../shared/errors.ts';
import { checkName, checkRef } from '../../registry/index.ts';
import { principalOf, type ApiDeps } from './context.ts';
import { logView } from './views.ts';
import { acceptAsyncInvocation } from './async.ts';

export function invocationRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.register(async (scoped) => {
    // the event is passed on as the text it arrived as: parsed once to check it is JSON, never re-serialised
    scoped.removeAllContentTypeParsers();
    scoped.addContentTypeParser('*', { parseAs: 'string', bodyLimit: deps.limits.syncPayloadBytes }, (_req, body, done) => done(null, body));

    scoped.post<{ Params: { ref: string }; Querystring: { log?: string } }>('/v1/functions/:ref/invocations', { bodyLimit: deps.limits.syncPayloadBytes }, async (req, reply) => {
      const ref = req.params.ref;
      checkRef(ref);
      const text = typeof req.body === 'string' && req.body.trim() !== '' ? req.body : '{}';
      try {
        JSON.parse(text);
      } catch (err) {
        throw new AviaryError('ValidationError', `the event is not valid JSON (${(err as Error).message}); send a JSON value as the body, e.g. {"name":"x"}`, { issues: [{ path: 'body', message: 'must be JSON' }] });
      }
      const accepted = await acceptAsyncInvocation(deps, req, reply, ref, text);
      if (accepted) return accepted;
      const result = await deps.invoker.invoke({ namespace: principalOf(req).namespace, ref, eventJson: text, source: 'api' });
      const body: Record<string, unknown> = {
        requestId: result.requestId,
        function: result.fn.name,
        version: result.version.version,
        status: result.ok ? 'succeeded' : 'failed',
        ...(result.ok ? { result: result.result } : { error: result.error }),
        durationMs: Math.round(result.durationMs * 1000) / 1000,
        cold: result.cold,
      };
      if (req.query.log === 'true' || req.query.log === '1') body.logs = result.logs.map((l) => logView(l, result.requestId, result.version.version));
      return body;
    });
  });

  app.get<{ Params: { name: string }; Querystring: { invocation?: string; limit?: string; since?: string } }>('/v1/functions/:name/logs', async (req) => {
    checkName(req.params.name);
    const entry = deps.registry.getFunction(principalOf(req).namespace, req.params.name);
    const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new AviaryError('ValidationError', 'invalid limit: must be a whole number from 1 to 1000', { issues: [{ path: 'limit', message: 'must be 1-1000' }] });
    }
    const since = req.query.since === undefined ? undefined : Date.parse(req.query.since);
    if (since !== undefined && Number.isNaN(since)) {
      throw new AviaryError('ValidationError', `invalid since ${JSON.stringify(req.query.since)}: use an ISO 8601 time, e.g. 2026-11-22T10:00:00Z`, { issues: [{ path: 'since', message: 'must be an ISO 8601 time' }] });
    }
    await deps.recorder.flush();
    const logs = await deps.store.queryLogs({ functionId: entry.record.id, invocationId: req.query.invocation, since, limit });
    return { logs: logs.map((l) => logView(l, l.invocationId, l.version)) };
  });
}
