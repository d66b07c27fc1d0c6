import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SignatureError } from '../../auth/index.ts';
import { AviaryError, isAviaryError, type ErrorCode } from '../../shared/errors.ts';
import { discardBody, toApiError } from '../errors.ts';

/**
 * Errors of the Lambda Invoke API as Lambda shapes them, so AWS SDKs throw their modelled
 * exceptions: the type in `x-amzn-ErrorType`, the body `{"Type":"User"|"Service","Message":…}`.
 * Local to `/2015-03-31`: `/v1` keeps Aviary's own error body.
 */

export type LambdaErrorType =
  | 'InvalidParameterValueException'
  | 'InvalidRequestContentException'
  | 'RequestTooLargeException'
  | 'ResourceNotFoundException'
  | 'TooManyRequestsException'
  | 'UnsupportedMediaTypeException'
  | 'UnknownOperationException'
  | 'ServiceException';

const STATUS_OF_TYPE: Record<LambdaErrorType, { code: ErrorCode; status: number }> = {
  InvalidParameterValueException: { code: 'ValidationError', status: 400 },
  InvalidRequestContentException: { code: 'ValidationError', status: 400 },
  RequestTooLargeException: { code: 'PayloadTooLarge', status: 413 },
  ResourceNotFoundException: { code: 'FunctionNotFound', status: 404 },
  TooManyRequestsException: { code: 'TooManyRequests', status: 429 },
  UnsupportedMediaTypeException: { code: 'UnsupportedMediaType', status: 415 },
  UnknownOperationException: { code: 'NotFound', status: 404 },
  ServiceException: { code: 'InternalError', status: 500 },
};

/** An error raised by the Lambda routes themselves, with Lambda's type and status. */
export class LambdaError extends AviaryError {
  readonly awsType: LambdaErrorType;
  readonly status: number;
  constructor(awsType: LambdaErrorType, message: string, status?: number) {
    super(STATUS_OF_TYPE[awsType].code, message);
    this.awsType = awsType;
    this.status = status ?? STATUS_OF_TYPE[awsType].status;
  }
}

export interface LambdaErrorResponse {
  status: number;
  type: string;
  body: Record<string, unknown>;
  retryAfter?: number;
}

/** Anything thrown under /2015-03-31 → Lambda's status, type and body. */
export function toLambdaError(err: unknown, context: { hasAuthorization: boolean; bodyLimit?: number | undefined }): LambdaErrorResponse {
  if (err instanceof LambdaError) return shape(err.status, err.awsType, 'User', err.message);
  if (err instanceof SignatureError) return shape(403, err.awsType, 'User', err.message);
  // framework errors (body too large, bad content) get Aviary's code and words first
  const e = isAviaryError(err) ? err : frameworkError(err, context.bodyLimit);
  switch (e.code) {
    case 'Unauthorized':
      return shape(403, context.hasAuthorization ? 'UnrecognizedClientException' : 'MissingAuthenticationTokenException', 'User',
        context.hasAuthorization ? `The security token included in the request is invalid: ${e.message}` : `Missing Authentication Token: sign the request with AWS SigV4 (an AWS SDK or the AWS CLI with this server's credentials) or send Authorization: Bearer <key>`);
    case 'Forbidden':
      return shape(403, 'AccessDeniedException', 'User', e.message);
    case 'FunctionNotFound':
    case 'VersionNotFound':
      return shape(404, 'ResourceNotFoundException', 'User', `Function not found: ${e.message}`);
    case 'PayloadTooLarge':
      return shape(413, 'RequestTooLargeException', 'User', e.message);
    case 'UnsupportedMediaType':
      return shape(415, 'UnsupportedMediaTypeException', 'User', e.message);
    case 'TooManyRequests':
      return { ...shape(429, 'TooManyRequestsException', 'User', e.message, { Reason: 'ConcurrentInvocationLimitExceeded' }), ...(e.retryAfter === undefined ? {} : { retryAfter: e.retryAfter }) };
    case 'NotFound':
      return shape(404, 'UnknownOperationException', 'User', e.message);
    case 'Unavailable':
      return shape(503, 'ServiceException', 'Service', e.message);
    case 'SandboxFailed':
      return shape(502, 'ServiceException', 'Service', e.message);
    case 'InternalError':
      return shape(500, 'ServiceException', 'Service', 'internal error; the server log has the details');
    default:
      return shape(e.kind === 'user' ? 400 : 500, e.kind === 'user' ? 'InvalidParameterValueException' : 'ServiceException', e.kind === 'user' ? 'User' : 'Service', e.message);
  }
}

/** The Fastify error handler of the /2015-03-31 plugin. */
export async function sendLambdaError(err: unknown, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const r = toLambdaError(err, { hasAuthorization: req.headers.authorization !== undefined, bodyLimit: req.routeOptions.bodyLimit });
  if (r.status === 413 && !(await discardBody(req.raw))) reply.header('connection', 'close');
  if (r.status >= 500) req.log.error({ err }, 'request failed');
  if (r.retryAfter !== undefined) reply.header('retry-after', String(r.retryAfter));
  reply.header('x-amzn-ErrorType', r.type);
  if (!reply.hasHeader('x-amzn-RequestId')) reply.header('x-amzn-RequestId', randomUUID());
  return reply.code(r.status).type('application/json').send(JSON.stringify(r.body));
}

/** Fastify and Node errors (body too large, bad content type) in Aviary's terms. */
function frameworkError(err: unknown, bodyLimit: number | undefined): AviaryError {
  const { error } = toApiError(err, { bodyLimit }).body;
  return new AviaryError(error.code, error.message, { cause: err });
}

function shape(status: number, type: string, kind: 'User' | 'Service', message: string, extra: Record<string, unknown> = {}): LambdaErrorResponse {
  return { status, type, body: { Type: kind, Message: message, ...extra } };
}
