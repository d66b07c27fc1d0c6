import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { EVENT_STATUSES, type DeadLetter, type EventStatus, type QueuedEvent } from '../../async/index.ts';
import { checkName, checkRef, parseInput } from '../../registry/index.ts';
import { AviaryError } from '../../shared/errors.ts';
import { principalOf, type ApiDeps } from './context.ts';

/**
 * Asynchronous invocations (docs/api.md, "Asynchronous invocations"): their records, each
 * function's dead-letter queue and async config. Accepting an event is part of
 * `POST /v1/functions/{name}/invocations` (invocations.ts), through `acceptAsyncInvocation`.
 */
export function asyncRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const service = deps.asyncInvoker;

  app.get<{ Params: { id: string } }>('/v1/invocations/:id', async (req) => ({
    invocation: invocationView(await service.get(principalOf(req).namespace, req.params.id), true),
  }));

  app.get<{ Params: { ref: string }; Querystring: { status?: string; limit?: string } }>('/v1/functions/:ref/invocations', async (req) => {
    checkName(req.params.ref);
    const status = parseStatus(req.query.status);
    const limit = parseLimit(req.query.limit);
    const events = await service.list(principalOf(req).namespace, req.params.ref, status, limit);
    return { invocations: events.map((e) => invocationView(e, false)) };
  });

  app.get<{ Params: { name: string }; Querystring: { limit?: string } }>('/v1/functions/:name/dlq', async (req) => {
    checkName(req.params.name);
    const letters = await service.deadLetters(principalOf(req).namespace, req.params.name, parseLimit(req.query.limit));
    return { deadLetters: letters.map((d) => deadLetterView(d, false)) };
  });

  app.get<{ Params: { name: string; id: string } }>('/v1/functions/:name/dlq/:id', async (req) => {
    checkName(req.params.name);
    return { deadLetter: deadLetterView(await service.deadLetter(principalOf(req).namespace, req.params.name, req.params.id), true) };
  });

  app.post<{ Params: { name: string } }>('/v1/functions/:name/dlq/redrive', async (req) => {
    checkName(req.params.name);
    const { ids } = parseInput(redriveSchema, req.body ?? {}, 'redrive request');
    const redriven = await service.redrive(principalOf(req).namespace, req.params.name, ids);
    return { redriven: redriven.length, ids: redriven };
  });

  app.delete<{ Params: { name: string } }>('/v1/functions/:name/dlq', async (req) => {
    checkName(req.params.name);
    return { purged: await service.purge(principalOf(req).namespace, req.params.name, undefined) };
  });

  app.delete<{ Params: { name: string; id: string } }>('/v1/functions/:name/dlq/:id', async (req, reply) => {
    checkName(req.params.name);
    const ns = principalOf(req).namespace;
    await service.deadLetter(ns, req.params.name, req.params.id);
    await service.purge(ns, req.params.name, [req.params.id]);
    reply.code(204);
  });

  app.get<{ Params: { name: string } }>('/v1/functions/:name/async-config', async (req) => {
    checkName(req.params.name);
    const { config, isDefault } = service.config(principalOf(req).namespace, req.params.name);
    return { config, default: isDefault };
  });

  app.put<{ Params: { name: string } }>('/v1/functions/:name/async-config', async (req) => {
    checkName(req.params.name);
    return { config: await service.putConfig(principalOf(req).namespace, req.params.name, req.body ?? {}), default: false };
  });

  app.delete<{ Params: { name: string } }>('/v1/functions/:name/async-config', async (req, reply) => {
    checkName(req.params.name);
    await service.deleteConfig(principalOf(req).namespace, req.params.name);
    reply.code(204);
  });
}

/**
 * `POST /v1/functions/{name}/invocations?mode=async`: queues the event durably and answers 202
 * with its id; `undefined` for a synchronous call (after refusing async-only inputs on it).
 */
export async function acceptAsyncInvocation(deps: ApiDeps, req: FastifyRequest, reply: FastifyReply, ref: string, eventJson: string): Promise<object | undefined> {
  const query = req.query as Record<string, string | undefined>;
  const mode = query.mode ?? 'sync';
  const raw = req.headers['idempotency-key'];
  const key = Array.isArray(raw) ? raw.join(', ') : raw;
  if (mode !== 'sync' && mode !== 'async') {
    throw new AviaryError('ValidationError', `invalid mode ${JSON.stringify(mode)}: use ?mode=async to queue the event, or leave it out to invoke synchronously`, { issues: [{ path: 'mode', message: 'must be sync or async' }] });
  }
  if (mode === 'sync') {
    if (key !== undefined) {
      throw new AviaryError('ValidationError', 'the Idempotency-Key header applies to asynchronous invocations only: add ?mode=async', { issues: [{ path: 'Idempotency-Key', message: 'needs ?mode=async' }] });
    }
    return undefined;
  }
  if (query.log !== undefined) {
    throw new AviaryError('ValidationError', 'log=true is for synchronous invocations; an async invocation\'s logs: GET /v1/functions/{name}/logs?invocation=REQUEST_ID (the requestId of GET /v1/invocations/{id})', { issues: [{ path: 'log', message: 'needs a synchronous invocation' }] });
  }
  checkRef(ref);
  const ns = principalOf(req).namespace;
  const r = await deps.asyncInvoker.enqueue({ namespace: ns, functionRef: ref, eventJson, source: 'api', idempotencyKey: key });
  reply.code(202).header('location', `/v1/invocations/${r.id}`);
  if (!r.duplicate) return { id: r.id, status: 'queued' };
  reply.header('idempotent-replayed', 'true');
  const first = await deps.asyncInvoker.get(ns, r.id).catch(() => undefined);
  return { id: r.id, status: first?.status ?? 'queued', duplicate: true };
}

const redriveSchema = z.strictObject({
  ids: z.array(z.string().min(1).max(64), { error: 'must be a list of dead-letter ids' }).min(1, 'must name at least one id (or leave ids out to redrive all)').max(1000).optional(),
});

function parseStatus(raw: string | undefined): EventStatus | undefined {
  if (raw === undefined) return undefined;
  if (!(EVENT_STATUSES as readonly string[]).includes(raw)) {
    throw new AviaryError('ValidationError', `invalid status ${JSON.stringify(raw)}: use one of ${EVENT_STATUSES.join(', ')}`, { issues: [{ path: 'status', message: `must be one of ${EVENT_STATUSES.join(', ')}` }] });
  }
  return raw as EventStatus;
}

function parseLimit(raw: string | undefined): number {
  const limit = raw === undefined ? 100 : /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new AviaryError('ValidationError', 'invalid limit: must be a whole number from 1 to 1000', { issues: [{ path: 'limit', message: 'must be 1-1000' }] });
  }
  return limit;
}

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/** `full` (one invocation) adds the result, the whole error and every attempt. */
export function invocationView(e: QueuedEvent, full: boolean) {
  const last = e.history.at(-1);
  const error = e.error === null ? null : JSON.parse(e.error) as { errorType?: string; errorMessage?: string };
  const view: Record<string, unknown> = {
    id: e.id,
    function: e.functionName,
    qualifier: e.qualifier,
    source: e.source,
    status: e.status,
    attempts: e.attempts,
    enqueuedAt: iso(e.enqueuedAt),
    firstAttemptAt: iso(e.firstAttemptAt),
    finishedAt: iso(e.finishedAt),
    nextAttemptAt: e.status === 'queued' ? iso(e.nextAttemptAt) : null,
    requestId: last?.requestId || null,
    version: last?.version ?? null,
    durationMs: last?.durationMs ?? null,
    error: error === null ? null : full ? error : { errorType: error.errorType, errorMessage: error.errorMessage },
    deadLetter: e.deadLetter,
    destination: e.destination && { ...e.destination, at: iso(e.destination.at) },
  };
  if (full) {
    if (e.status === 'succeeded') {
      view.result = e.result === null ? null : JSON.parse(e.result) as unknown;
      if (e.result === null && e.resultBytes !== null) view.resultOmitted = `the result was ${e.resultBytes} bytes; results over 256 KB are not kept`;
    }
    view.history = e.history.map((h) => ({ ...h, requestId: h.requestId || null, startedAt: iso(h.startedAt) }));
  }
  return view;
}

export function deadLetterView(d: DeadLetter, full: boolean) {
  const error = d.error === null ? null : JSON.parse(d.error) as { errorType?: string; errorMessage?: string };
  return {
    id: d.eventId,
    function: d.functionName,
    qualifier: d.qualifier,
    source: d.source,
    reason: d.reason,
    attempts: d.attempts,
    error: error === null ? null : full ? error : { errorType: error.errorType, errorMessage: error.errorMessage },
    enqueuedAt: iso(d.enqueuedAt),
    deadLetteredAt: iso(d.deadLetteredAt),
    payloadBytes: Buffer.byteLength(d.payload),
    ...(full ? { payload: JSON.parse(d.payload) as unknown } : {}),
  };
}
