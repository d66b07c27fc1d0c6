import type { FastifyInstance } from 'fastify';
import { LambdaError, sendLambdaError } from './errors.ts';
import { invokeRoute, type LambdaDeps } from './invoke.ts';

export { parseFunctionName, type FunctionTarget } from './function-name.ts';
export { toLambdaError, LambdaError } from './errors.ts';
export type { LambdaDeps } from './invoke.ts';

/**
 * The Lambda-compatible API, registered with the prefix `/2015-03-31` as its own Fastify
 * plugin so its error shape (Lambda's) and its body parsing (raw bytes) stay local to it.
 * Authentication is the management API's hook: bearer token or SigV4, same keys.
 */
export function lambdaApi(deps: LambdaDeps) {
  return async (scoped: FastifyInstance): Promise<void> => {
    scoped.setErrorHandler(sendLambdaError);
    scoped.setNotFoundHandler(async (req, reply) => {
      return sendLambdaError(new LambdaError('UnknownOperationException',
        `Aviary implements only Invoke (POST /2015-03-31/functions/{FunctionName}/invocations) of the Lambda API; got ${req.method} ${req.url.split('?', 1)[0]}`), req, reply);
    });
    // payloads are raw bytes whatever the Content-Type (SDKs send application/octet-stream or none)
    scoped.removeAllContentTypeParsers();
    scoped.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: deps.limits.syncPayloadBytes }, (_req, body, done) => done(null, body));
    invokeRoute(scoped, deps);
  };
}
