import type { FastifyInstance } from 'fastify';
import { functionArn } from '../../invoke/index.ts';
import { formatBytes } from '../../build/index.ts';
import { isAviaryError } from '../../shared/errors.ts';
import { principalOf, type ApiDeps } from '../api/context.ts';
import { LambdaError } from './errors.ts';
import { parseFunctionName, type FunctionTarget } from './function-name.ts';
import { logTail } from './log-tail.ts';

/** What the Lambda API needs: the management API's deps (the durable queue for `Event` included). */
export type LambdaDeps = ApiDeps;

/** Lambda's limit for `X-Amz-Client-Context` (base64 text). */
export const CLIENT_CONTEXT_BYTES = 3583;

const INVOCATION_TYPES = ['RequestResponse', 'Event', 'DryRun'] as const;

/**
 * `POST /2015-03-31/functions/{FunctionName}/invocations` — Lambda's Invoke, so AWS SDKs and
 * the AWS CLI work against Aviary unchanged. Runs through the same invoke pipeline as /v1.
 */
export function invokeRoute(app: FastifyInstance, deps: LambdaDeps): void {
  app.post<{ Params: { FunctionName: string }; Querystring: { Qualifier?: string } }>('/functions/:FunctionName/invocations', { bodyLimit: deps.limits.syncPayloadBytes }, async (req, reply) => {
    const invocationType = headerEnum(req.headers['x-amz-invocation-type'], INVOCATION_TYPES, 'RequestResponse', 'X-Amz-Invocation-Type');
    const logType = headerEnum(req.headers['x-amz-log-type'], ['None', 'Tail'] as const, 'None', 'X-Amz-Log-Type');
    const target = parseFunctionName(req.params.FunctionName, req.query.Qualifier);
    const namespace = principalOf(req).namespace;
    const payload = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const asyncLimit = deps.limits.asyncPayloadBytes;
    if (invocationType === 'Event' && payload.length > asyncLimit) {
      throw new LambdaError('RequestTooLargeException',
        `request payload is ${payload.length} bytes; the limit for asynchronous (Event) invocations is ${asyncLimit} bytes (${formatBytes(asyncLimit)}): pass large data by reference`);
    }
    const eventJson = payloadJson(payload);
    const clientContext = clientContextOf(req.headers['x-amz-client-context']);
    const { version } = resolve(deps, namespace, target);
    reply.header('X-Amz-Executed-Version', String(version.version));

    if (invocationType === 'DryRun') return reply.code(204).send();

    if (invocationType === 'Event') {
      // durable once enqueue resolves: the queue's dispatcher runs it through the same pipeline
      const { id } = await deps.asyncInvoker.enqueue({
        namespace,
        functionRef: target.qualifier === undefined ? target.name : `${target.name}:${target.qualifier}`,
        eventJson,
        source: 'lambda',
      });
      reply.header('x-amzn-RequestId', id);
      return reply.code(202).send();
    }

    const result = await deps.invoker.invoke({ namespace, ref: target.name, qualifier: target.qualifier, eventJson, source: 'lambda', clientContext });
    reply.header('X-Amz-Executed-Version', String(result.version.version));
    reply.header('x-amzn-RequestId', result.requestId);
    if (logType === 'Tail') reply.header('X-Amz-Log-Result', logTail(result));
    reply.code(200).type('application/json');
    if (!result.ok) {
      reply.header('X-Amz-Function-Error', 'Unhandled');
      return reply.send(JSON.stringify(result.error));
    }
    return reply.send(JSON.stringify(result.result) ?? 'null');
  });
}

function resolve(deps: LambdaDeps, namespace: string, target: FunctionTarget): ReturnType<LambdaDeps['registry']['resolve']> {
  try {
    return deps.registry.resolve(namespace, target.name, target.qualifier);
  } catch (err) {
    if (isAviaryError(err) && (err.code === 'FunctionNotFound' || err.code === 'VersionNotFound')) {
      throw new LambdaError('ResourceNotFoundException', `Function not found: ${functionArn(target.name, target.qualifier)} (${err.message})`);
    }
    throw err;
  }
}

/** The payload as JSON text: empty is `{}` (as Lambda does), anything else must parse. */
function payloadJson(payload: Buffer): string {
  const text = payload.toString('utf8');
  if (text.trim() === '') return '{}';
  try {
    JSON.parse(text);
  } catch (err) {
    throw new LambdaError('InvalidRequestContentException', `Could not parse request body into json: ${(err as Error).message}; the payload must be a JSON value, e.g. {"name":"x"}`);
  }
  return text;
}

/** `X-Amz-Client-Context`: base64 of a JSON object, handed to the function as `context.clientContext`. */
function clientContextOf(header: string | string[] | undefined): unknown {
  if (header === undefined || header === '') return undefined;
  const text = Array.isArray(header) ? header.join('') : header;
  if (text.length > CLIENT_CONTEXT_BYTES) {
    throw new LambdaError('InvalidRequestContentException', `X-Amz-Client-Context is ${text.length} bytes; the limit is ${CLIENT_CONTEXT_BYTES} bytes of base64`);
  }
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    throw new LambdaError('InvalidRequestContentException', 'Client context must be a valid Base64-encoded JSON object: X-Amz-Client-Context is not base64');
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
  } catch (err) {
    throw new LambdaError('InvalidRequestContentException', `Client context must be a valid Base64-encoded JSON object: the decoded text is not JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new LambdaError('InvalidRequestContentException', 'Client context must be a valid Base64-encoded JSON object, e.g. {"custom":{"k":"v"}}');
  }
  return value;
}

function headerEnum<T extends string>(value: string | string[] | undefined, allowed: readonly T[], fallback: T, name: string): T {
  if (value === undefined || value === '') return fallback;
  const v = Array.isArray(value) ? value[0]! : value;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new LambdaError('InvalidParameterValueException', `${name} must be one of ${allowed.join(', ')}; got ${JSON.stringify(v)}`);
}
