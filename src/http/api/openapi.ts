import { z } from 'zod';
import { deploySchema, routeSchema } from '../../registry/schemas.ts';
import { scheduleSchema } from '../../triggers/schedule/schemas.ts';
import { ruleSchema, ruleTestSchema } from '../../triggers/events/rules.ts';
import { topicSchema, triggerSchema } from '../../triggers/queue/schemas.ts';
import { asyncConfigSchema } from '../../async/index.ts';

/** The OpenAPI 3.1 document of /v1, with request bodies generated from the schemas that validate them. */
export function openApiDocument(version: string): object {
  const errorResponse = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  const name = { name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_-]{0,63}$' } };
  const json = (ref: string) => ({ content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } } });
  const ruleName = { name: 'rule', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' } };
  const ok = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'object' } } } });
  return {
    openapi: '3.1.0',
    info: { title: 'Aviary management API', version, description: 'See docs/api.md for the full description of each call.' },
    security: [{ bearer: [] }],
    paths: {
      '/v1/packages': { post: { summary: 'Upload a code package (zip)', requestBody: { content: { 'application/zip': { schema: { type: 'string', format: 'binary' } } } }, responses: { 201: ok('Stored'), 200: ok('Already stored'), default: errorResponse } } },
      '/v1/packages/{digest}': { head: { summary: 'Is this package stored?', parameters: [{ name: 'digest', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: { description: 'Stored' }, 404: { description: 'Not stored' } } } },
      '/v1/functions': { get: { summary: 'List functions', responses: { 200: ok('Functions'), default: errorResponse } } },
      '/v1/functions/{name}': {
        get: { summary: 'A function and its newest version', parameters: [name], responses: { 200: ok('Function'), default: errorResponse } },
        delete: { summary: 'Delete a function, its versions and routes', parameters: [name], responses: { 204: { description: 'Deleted' }, default: errorResponse } },
      },
      '/v1/functions/{name}/versions': {
        get: { summary: 'List versions', parameters: [name], responses: { 200: ok('Versions'), default: errorResponse } },
        post: { summary: 'Deploy: build the package and create the next version', parameters: [name], requestBody: json('DeployRequest'), responses: { 201: ok('Deployed'), default: errorResponse } },
      },
      '/v1/functions/{name}/versions/{n}': { get: { summary: 'One version', parameters: [name, { name: 'n', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } }], responses: { 200: ok('Version'), default: errorResponse } } },
      '/v1/functions/{name}/invocations': {
        post: { summary: 'Invoke synchronously, or queue the event with ?mode=async (name may carry :version)', parameters: [name, { name: 'log', in: 'query', schema: { type: 'boolean' } }, { name: 'mode', in: 'query', schema: { type: 'string', enum: ['sync', 'async'] } }, { name: 'Idempotency-Key', in: 'header', schema: { type: 'string', minLength: 1, maxLength: 255 } }], requestBody: { content: { 'application/json': { schema: {} } } }, responses: { 200: ok('Invocation result (status succeeded or failed)'), 202: ok('Queued: {id, status} (async)'), default: errorResponse } },
        get: { summary: 'Asynchronous invocations, newest first', parameters: [name, { name: 'status', in: 'query', schema: { type: 'string', enum: ['queued', 'running', 'succeeded', 'failed'] } }, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } }], responses: { 200: ok('Invocations'), default: errorResponse } },
      },
      '/v1/functions/{name}/logs': { get: { summary: 'Log lines, oldest first', parameters: [name, { name: 'invocation', in: 'query', schema: { type: 'string' } }, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } }, { name: 'since', in: 'query', schema: { type: 'string', format: 'date-time' } }], responses: { 200: ok('Logs'), default: errorResponse } } },
      '/v1/routes': {
        get: { summary: 'List HTTP routes', responses: { 200: ok('Routes'), default: errorResponse } },
        post: { summary: 'Add an HTTP route', requestBody: json('RouteRequest'), responses: { 201: ok('Route'), default: errorResponse } },
        delete: { summary: 'Delete a route by method and path', parameters: [{ name: 'method', in: 'query', required: true, schema: { type: 'string' } }, { name: 'path', in: 'query', required: true, schema: { type: 'string' } }], responses: { 204: { description: 'Deleted' }, default: errorResponse } },
      },
      '/v1/routes/{id}': { delete: { summary: 'Delete a route', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { 204: { description: 'Deleted' }, default: errorResponse } } },
      '/v1/topics': {
        get: { summary: 'List built-in topics', responses: { 200: ok('Topics'), default: errorResponse } },
        post: { summary: 'Create a built-in topic', requestBody: json('TopicRequest'), responses: { 201: ok('Topic'), default: errorResponse } },
      },
      '/v1/topics/{name}': {
        get: { summary: 'A topic with its message counts', parameters: [name], responses: { 200: ok('Topic'), default: errorResponse } },
        delete: { summary: 'Delete a topic and its messages (409 while a trigger uses it)', parameters: [name], responses: { 204: { description: 'Deleted' }, default: errorResponse } },
      },
      '/v1/topics/{name}/messages': { post: { summary: 'Publish a message (the body, up to 256 KB); 201 once committed', parameters: [name], requestBody: { content: { '*/*': { schema: {} } } }, responses: { 201: ok('{messageId, topic}'), default: errorResponse } } },
      '/v1/triggers': {
        get: { summary: 'List queue triggers with their health', responses: { 200: ok('Triggers'), default: errorResponse } },
        post: { summary: 'Add a queue trigger (topic, NATS JetStream or MQTT source)', requestBody: json('TriggerRequest'), responses: { 201: ok('Trigger'), default: errorResponse } },
      },
      '/v1/triggers/{name}': {
        get: { summary: 'A queue trigger with its health', parameters: [name], responses: { 200: ok('Trigger'), default: errorResponse } },
        delete: { summary: 'Delete a queue trigger', parameters: [name], responses: { 204: { description: 'Deleted' }, default: errorResponse } },
      },
      '/v1/triggers/{name}/pause': { post: { summary: 'Pause a queue trigger', parameters: [name], responses: { 200: ok('Trigger'), default: errorResponse } } },
      '/v1/triggers/{name}/resume': { post: { summary: 'Resume a queue trigger', parameters: [name], responses: { 200: ok('Trigger'), default: errorResponse } } },
      '/v1/schedules': {
        get: { summary: 'List schedules', responses: { 200: ok('Schedules'), default: errorResponse } },
        post: { summary: 'Add a schedule (cron or rate) that fires async invocations', requestBody: json('ScheduleRequest'), responses: { 201: ok('Schedule'), default: errorResponse } },
      },
      '/v1/schedules/{name}': {
        get: { summary: 'A schedule with its next fire times', parameters: [name], responses: { 200: ok('Schedule'), default: errorResponse } },
        delete: { summary: 'Delete a schedule', parameters: [name], responses: { 204: { description: 'Deleted' }, default: errorResponse } },
      },
      '/v1/schedules/{name}/pause': { post: { summary: 'Pause a schedule', parameters: [name], responses: { 200: ok('Schedule'), default: errorResponse } } },
      '/v1/schedules/{name}/resume': { post: { summary: 'Resume a schedule from its next time after now', parameters: [name], responses: { 200: ok('Schedule'), default: errorResponse } } },
      '/v1/events': {
        post: {
          summary: 'Publish CloudEvents (structured, binary or batch mode); each matching rule queues an async invocation',
          requestBody: { content: { 'application/cloudevents+json': { schema: { type: 'object' } }, 'application/cloudevents-batch+json': { schema: { type: 'array' } }, '*/*': { schema: {} } } },
          responses: { 202: ok('Accepted: {id, matched, invocations, duplicate}'), default: errorResponse },
        },
      },
      '/v1/rules': {
        get: { summary: 'List event rules', responses: { 200: ok('Rules'), default: errorResponse } },
        post: { summary: 'Add an event rule (EventBridge pattern → function)', requestBody: json('RuleRequest'), responses: { 201: ok('Rule'), default: errorResponse } },
      },
      '/v1/rules/test': { post: { summary: 'Does a pattern match an event? Stores nothing', requestBody: json('RuleTestRequest'), responses: { 200: ok('{matched}'), default: errorResponse } } },
      '/v1/rules/{rule}': {
        get: { summary: 'An event rule', parameters: [ruleName], responses: { 200: ok('Rule'), default: errorResponse } },
        delete: { summary: 'Delete an event rule', parameters: [ruleName], responses: { 204: { description: 'Deleted' }, default: errorResponse } },
      },
      '/v1/rules/{rule}/enable': { post: { summary: 'Enable an event rule', parameters: [ruleName], responses: { 200: ok('Rule'), default: errorResponse } } },
      '/v1/rules/{rule}/disable': { post: { summary: 'Disable an event rule (kept, matches nothing)', parameters: [ruleName], responses: { 200: ok('Rule'), default: errorResponse } } },
      '/v1/invocations/{id}': { get: { summary: 'One asynchronous invocation: status, attempts, timings, result or error', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: ok('Invocation'), default: errorResponse } } },
      '/v1/functions/{name}/dlq': {
        get: { summary: 'Dead letters, newest first', parameters: [name, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } }], responses: { 200: ok('Dead letters'), default: errorResponse } },
        delete: { summary: 'Purge the dead-letter queue', parameters: [name], responses: { 200: ok('{purged}'), default: errorResponse } },
      },
      '/v1/functions/{name}/dlq/{id}': {
        get: { summary: 'One dead letter with its event', parameters: [name, { name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { 200: ok('Dead letter'), default: errorResponse } },
        delete: { summary: 'Delete one dead letter', parameters: [name, { name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { 204: { description: 'Deleted' }, default: errorResponse } },
      },
      '/v1/functions/{name}/dlq/redrive': { post: { summary: 'Queue dead letters again (all, or {ids})', parameters: [name], requestBody: { content: { 'application/json': { schema: { type: 'object', properties: { ids: { type: 'array', items: { type: 'string' } } }, additionalProperties: false } } } }, responses: { 200: ok('{redriven, ids}'), default: errorResponse } } },
      '/v1/functions/{name}/async-config': {
        get: { summary: 'The async config (retries, maximum event age, destinations), or the defaults', parameters: [name], responses: { 200: ok('{config, default}'), default: errorResponse } },
        put: { summary: 'Replace the async config', parameters: [name], requestBody: json('AsyncConfig'), responses: { 200: ok('{config}'), default: errorResponse } },
        delete: { summary: 'Back to the default async config', parameters: [name], responses: { 204: { description: 'Deleted' }, default: errorResponse } },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        DeployRequest: z.toJSONSchema(deploySchema, { io: 'input', unrepresentable: 'any' }),
        RouteRequest: z.toJSONSchema(routeSchema, { io: 'input', unrepresentable: 'any' }),
        ScheduleRequest: z.toJSONSchema(scheduleSchema, { io: 'input', unrepresentable: 'any' }),
        RuleRequest: z.toJSONSchema(ruleSchema, { io: 'input', unrepresentable: 'any' }),
        RuleTestRequest: z.toJSONSchema(ruleTestSchema, { io: 'input', unrepresentable: 'any' }),
        TopicRequest: z.toJSONSchema(topicSchema, { io: 'input', unrepresentable: 'any' }),
        TriggerRequest: z.toJSONSchema(triggerSchema, { io: 'input', unrepresentable: 'any' }),
        AsyncConfig: z.toJSONSchema(asyncConfigSchema, { io: 'input', unrepresentable: 'any' }),
        Error: {
          type: 'object',
          properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, issues: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } } }, required: ['code', 'message'] } },
        },
      },
    },
  };
}
