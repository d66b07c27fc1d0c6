import type { FastifyInstance } from 'fastify';
import { localIso, type ScheduleEntry, type Schedules } from '../../triggers/schedule/index.ts';
import { FUNCTION_NAME } from '../../registry/index.ts';
import { AviaryError } from '../../shared/errors.ts';
import { principalOf, type ApiDeps } from './context.ts';

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/** The API's Schedule (docs/api.md); `upcoming` only on GET /v1/schedules/{name}. */
export function scheduleView(entry: ScheduleEntry, schedules: Schedules, withUpcoming = false) {
  const s = entry.record;
  const view = {
    name: s.name,
    function: s.qualifier === null ? s.functionName : `${s.functionName}:${s.qualifier}`,
    expression: s.expression,
    timezone: s.timezone,
    data: s.data,
    missedFirePolicy: s.missedFirePolicy,
    enabled: s.enabled,
    state: s.enabled ? 'enabled' : 'paused',
    description: s.description,
    nextFireAt: iso(s.nextFireAt),
    nextFireAtLocal: s.nextFireAt === null ? null : localIso(s.nextFireAt, s.timezone),
    lastFireAt: iso(s.lastFireAt),
    lastInvocationId: s.lastInvocationId,
    lastError: s.lastError,
    createdAt: new Date(s.createdAt).toISOString(),
    updatedAt: new Date(s.updatedAt).toISOString(),
  };
  if (!withUpcoming) return view;
  return { ...view, upcoming: schedules.upcoming(entry).map((t) => ({ time: new Date(t).toISOString(), local: localIso(t, s.timezone) })) };
}

export function scheduleRoutes(app: FastifyInstance, deps: Pick<ApiDeps, 'schedules'>): void {
  const { schedules } = deps;

  app.get('/v1/schedules', async (req) => ({
    schedules: schedules.list(principalOf(req).namespace).map((e) => scheduleView(e, schedules)),
  }));

  app.post('/v1/schedules', async (req, reply) => {
    const ns = principalOf(req).namespace;
    const record = await schedules.create(ns, req.body ?? {});
    reply.code(201);
    return { schedule: scheduleView(schedules.get(ns, record.name), schedules, true) };
  });

  app.get<{ Params: { name: string } }>('/v1/schedules/:name', async (req) => {
    const ns = principalOf(req).namespace;
    checkScheduleName(req.params.name);
    return { schedule: scheduleView(schedules.get(ns, req.params.name), schedules, true) };
  });

  app.post<{ Params: { name: string } }>('/v1/schedules/:name/pause', async (req) => {
    const ns = principalOf(req).namespace;
    checkScheduleName(req.params.name);
    await schedules.pause(ns, req.params.name);
    return { schedule: scheduleView(schedules.get(ns, req.params.name), schedules, true) };
  });

  app.post<{ Params: { name: string } }>('/v1/schedules/:name/resume', async (req) => {
    const ns = principalOf(req).namespace;
    checkScheduleName(req.params.name);
    await schedules.resume(ns, req.params.name);
    return { schedule: scheduleView(schedules.get(ns, req.params.name), schedules, true) };
  });

  app.delete<{ Params: { name: string } }>('/v1/schedules/:name', async (req, reply) => {
    const ns = principalOf(req).namespace;
    checkScheduleName(req.params.name);
    await schedules.delete(ns, req.params.name);
    reply.code(204);
  });
}

/** Schedule names follow the function-name rule. */
function checkScheduleName(name: string): void {
  if (!FUNCTION_NAME.test(name)) {
    throw new AviaryError('ValidationError', `invalid schedule name ${JSON.stringify(name)}: use 1-64 letters, digits, - or _, starting with a letter`, {
      issues: [{ path: 'name', message: 'must be 1-64 letters, digits, - or _, starting with a letter' }],
    });
  }
}
