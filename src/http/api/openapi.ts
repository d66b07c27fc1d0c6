import { z } from 'zod';
import { deploySchema, routeSchema } from '../../registry/schemas.ts';

/** The OpenAPI 3.1 document of /v1, with request bodies generated from the schemas that validate them. */
export function openApiDocument(version: string): object {
  const errorResponse = { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  const name = { name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9_-]{0,63}$' } };
  const json = (ref: string) => ({ content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } } });
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
      '/v1/functions/{name}/invocations': { post: { summary: 'Invoke synchronously (name may carry :version)', parameters: [name, { name: 'log', in: 'query', schema: { type: 'boolean' } }], requestBody: { content: { 'application/json': { schema: {} } } }, responses: { 200: ok('Invocation result (status succeeded or failed)'), default: errorResponse } } },
      '/v1/functions/{name}/logs': { get: { summary: 'Log lines, oldest first', parameters: [name, { name: 'invocation', in: 'query', schema: { type: 'string' } }, { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000 } }, { name: 'since', in: 'query', schema: { type: 'string', format: 'date-time' } }], responses: { 200: ok('Logs'), default: errorResponse } } },
      '/v1/routes': {
        get: { summary: 'List HTTP routes', responses: { 200: ok('Routes'), default: errorResponse } },
        post: { summary: 'Add an HTTP route', requestBody: json('RouteRequest'), responses: { 201: ok('Route'), default: errorResponse } },
        delete: { summary: 'Delete a route by method and path', parameters: [{ name: 'method', in: 'query', required: true, schema: { type: 'string' } }, { name: 'path', in: 'query', required: true, schema: { type: 'string' } }], responses: { 204: { description: 'Deleted' }, default: errorResponse } },
      },
      '/v1/routes/{id}': { delete: { summary: 'Delete a route', parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }], responses: { 204: { description: 'Deleted' }, default: errorResponse } } },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        DeployRequest: z.toJSONSchema(deploySchema, { io: 'input', unrepresentable: 'any' }),
        RouteRequest: z.toJSONSchema(routeSchema, { io: 'input', unrepresentable: 'any' }),
        Error: {
          type: 'object',
          properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' }, issues: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } } }, required: ['code', 'message'] } },
        },
      },
    },
  };
}
