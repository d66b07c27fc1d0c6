import type { FastifyInstance } from 'fastify';
import type { TopicRecord, TopicStats } from '../../triggers/queue/index.ts';
import { principalOf, type ApiDeps } from './context.ts';

export function topicView(t: TopicRecord, stats?: TopicStats) {
  return {
    name: t.name,
    createdAt: new Date(t.createdAt).toISOString(),
    ...(stats ? { messages: stats.messages, inFlight: stats.invisible } : {}),
  };
}

/** Built-in topics: `/v1/topics`. A publish answers 201 only after the message is committed. */
export function topicRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { topics } = deps;

  app.get('/v1/topics', async (req) => ({
    topics: (await topics.list(principalOf(req).namespace)).map((t) => topicView(t.topic, t.stats)),
  }));

  app.post('/v1/topics', async (req, reply) => {
    const topic = await topics.create(principalOf(req).namespace, req.body ?? {});
    reply.code(201);
    return { topic: topicView(topic, { messages: 0, invisible: 0 }) };
  });

  app.get<{ Params: { name: string } }>('/v1/topics/:name', async (req) => {
    const { topic, stats } = await topics.get(principalOf(req).namespace, req.params.name);
    return { topic: topicView(topic, stats) };
  });

  app.delete<{ Params: { name: string } }>('/v1/topics/:name', async (req, reply) => {
    await topics.delete(principalOf(req).namespace, req.params.name);
    reply.code(204);
  });

  app.register(async (scoped) => {
    // the body is the message, stored as the text it arrived as, whatever its content type
    scoped.removeAllContentTypeParsers();
    scoped.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: topics.limits.messageBytes }, (_req, body, done) => done(null, body));
    scoped.post<{ Params: { name: string } }>('/v1/topics/:name/messages', { bodyLimit: topics.limits.messageBytes }, async (req, reply) => {
      const body = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
      const contentType = req.headers['content-type'];
      const { id, topic } = await topics.publish(principalOf(req).namespace, req.params.name, body, contentType ? { contentType } : {});
      reply.code(201);
      return { messageId: id, topic: topic.name };
    });
  });
}
