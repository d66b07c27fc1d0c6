import type { FastifyInstance } from 'fastify';
import { AviaryError } from '../../shared/errors.ts';
import { EVENT_LIMITS, parseHttpEvents, RULE_NAME, type EventBus, type RuleEntry, type Rules } from '../../triggers/events/index.ts';
import { principalOf } from './context.ts';

/** The API's Rule (docs/api.md). */
export function ruleView(entry: RuleEntry, rules: Rules) {
  const r = entry.record;
  return {
    name: r.name,
    pattern: entry.pattern,
    function: rules.functionRef(r) ?? null,
    enabled: r.enabled,
    description: r.description,
    createdAt: new Date(r.createdAt).toISOString(),
    updatedAt: new Date(r.updatedAt).toISOString(),
  };
}

/** POST /v1/events (CloudEvents, every mode) and the rules that fan events out to functions. */
export function eventRoutes(app: FastifyInstance, deps: { rules: Rules; events: EventBus }): void {
  const { rules, events } = deps;

  app.get('/v1/rules', async (req) => ({ rules: rules.list(principalOf(req).namespace).map((e) => ruleView(e, rules)) }));

  app.post('/v1/rules', async (req, reply) => {
    const entry = await rules.create(principalOf(req).namespace, req.body ?? {});
    reply.code(201);
    return { rule: ruleView(entry, rules) };
  });

  // a static path: find-my-way prefers it to /v1/rules/:name, and POST /v1/rules/:name does not exist
  app.post('/v1/rules/test', async (req) => ({ matched: rules.test(req.body ?? {}) }));

  app.get<{ Params: { name: string } }>('/v1/rules/:name', async (req) => {
    checkRuleName(req.params.name);
    return { rule: ruleView(rules.get(principalOf(req).namespace, req.params.name), rules) };
  });

  app.delete<{ Params: { name: string } }>('/v1/rules/:name', async (req, reply) => {
    checkRuleName(req.params.name);
    await rules.delete(principalOf(req).namespace, req.params.name);
    reply.code(204);
  });

  for (const action of ['enable', 'disable'] as const) {
    app.post<{ Params: { name: string } }>(`/v1/rules/:name/${action}`, async (req) => {
      checkRuleName(req.params.name);
      const entry = await rules.setEnabled(principalOf(req).namespace, req.params.name, action === 'enable');
      return { rule: ruleView(entry, rules) };
    });
  }

  app.register(async (scoped) => {
    // binary mode carries any media type; every body arrives raw and parseHttpEvents decides the mode
    scoped.removeAllContentTypeParsers();
    scoped.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: EVENT_LIMITS.maxEventBytes }, (_req, body, done) => done(null, body));

    scoped.post('/v1/events', { bodyLimit: EVENT_LIMITS.maxEventBytes }, async (req, reply) => {
      const ns = principalOf(req).namespace;
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      const { mode, events: parsed } = parseHttpEvents(req.headers, body);
      reply.code(202);
      if (mode !== 'batch') return events.publish(ns, parsed[0]!);
      const results = [];
      for (const event of parsed) results.push(await events.publish(ns, event));
      return { events: results };
    });
  });
}

function checkRuleName(name: string): void {
  if (!RULE_NAME.test(name)) {
    throw new AviaryError('ValidationError', `invalid rule name ${JSON.stringify(name)}: use 1-64 letters, digits, ., - or _, starting with a letter or digit`, {
      issues: [{ path: 'name', message: 'must be 1-64 letters, digits, ., - or _, starting with a letter or digit' }],
    });
  }
}
