import type { FastifyInstance } from 'fastify';
import { redactUrl, type TriggerEntry } from '../../triggers/queue/index.ts';
import { principalOf, type ApiDeps } from './context.ts';

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

export function triggerView(e: TriggerEntry, functionRef: string) {
  const r = e.record;
  const h = e.health;
  return {
    name: r.name,
    function: functionRef,
    source: r.source,
    topic: r.topic,
    subject: r.subject,
    url: r.url === null ? null : redactUrl(r.url),
    stream: r.stream,
    batchSize: r.batchSize,
    batchWindowMs: r.batchWindowMs,
    maxConcurrency: r.maxConcurrency,
    maxRetries: r.maxRetries,
    deadLetterTopic: r.deadLetterTopic,
    enabled: r.enabled,
    createdAt: iso(r.createdAt),
    health: {
      status: h.status,
      since: iso(h.since),
      lastError: h.lastError,
      lastErrorAt: iso(h.lastErrorAt),
      nextAttemptAt: iso(h.nextAttemptAt),
      lastFailure: h.lastFailure,
      lastFailureAt: iso(h.lastFailureAt),
      received: h.received,
      succeeded: h.succeeded,
      retried: h.retried,
      deadLettered: h.deadLettered,
      discarded: h.discarded,
      inFlight: h.inFlight,
    },
  };
}

/** Queue triggers: `/v1/triggers`. */
export function triggerRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { queueTriggers: triggers } = deps;
  const view = (e: TriggerEntry) => triggerView(e, triggers.functionRef(e.record));

  app.get('/v1/triggers', async (req) => ({ triggers: triggers.list(principalOf(req).namespace).map(view) }));

  app.post('/v1/triggers', async (req, reply) => {
    const entry = await triggers.create(principalOf(req).namespace, req.body ?? {});
    reply.code(201);
    return { trigger: view(entry) };
  });

  app.get<{ Params: { name: string } }>('/v1/triggers/:name', async (req) => ({ trigger: view(triggers.get(principalOf(req).namespace, req.params.name)) }));

  app.delete<{ Params: { name: string } }>('/v1/triggers/:name', async (req, reply) => {
    await triggers.delete(principalOf(req).namespace, req.params.name);
    reply.code(204);
  });

  app.post<{ Params: { name: string } }>('/v1/triggers/:name/pause', async (req) => ({ trigger: view(await triggers.pause(principalOf(req).namespace, req.params.name)) }));
  app.post<{ Params: { name: string } }>('/v1/triggers/:name/resume', async (req) => ({ trigger: view(await triggers.resume(principalOf(req).namespace, req.params.name)) }));
}
