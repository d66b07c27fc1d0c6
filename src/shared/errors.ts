/**
 * One error model for the whole server. Every error a user can see is an AviaryError with a
 * stable `code`; the HTTP status for each code is decided in exactly one place
 * (`httpStatusFor` below), so parts never think about HTTP.
 */

export type ErrorCode =
  // user errors: the request was wrong, retrying it unchanged will fail again
  | 'ValidationError'
  | 'InvalidPackage'
  | 'BuildFailed'
  | 'Unauthorized'
  | 'Forbidden'
  | 'FunctionNotFound'
  | 'VersionNotFound'
  | 'PackageNotFound'
  | 'RouteNotFound'
  | 'NotFound'
  | 'RouteConflict'
  | 'RuleNotFound'
  | 'RuleConflict'
  | 'ScheduleNotFound'
  | 'ScheduleConflict'
  | 'TopicNotFound'
  | 'TopicConflict'
  | 'TriggerNotFound'
  | 'TriggerConflict'
  | 'PayloadTooLarge'
  | 'UnsupportedMediaType'
  | 'TooManyRequests'
  // system errors: the platform failed; the request may succeed later
  | 'SandboxFailed'
  | 'Unavailable'
  | 'InternalError';

const STATUS: Record<ErrorCode, number> = {
  ValidationError: 400,
  InvalidPackage: 400,
  BuildFailed: 400,
  Unauthorized: 401,
  Forbidden: 403,
  FunctionNotFound: 404,
  VersionNotFound: 404,
  PackageNotFound: 404,
  RouteNotFound: 404,
  NotFound: 404,
  RouteConflict: 409,
  RuleNotFound: 404,
  RuleConflict: 409,
  TopicNotFound: 404,
  TopicConflict: 409,
  TriggerNotFound: 404,
  TriggerConflict: 409,
  ScheduleNotFound: 404,
  ScheduleConflict: 409,
  PayloadTooLarge: 413,
  UnsupportedMediaType: 415,
  TooManyRequests: 429,
  SandboxFailed: 502,
  Unavailable: 503,
  InternalError: 500,
};

/** One problem with one field of the input: `path` is the dotted field name (`env.FOO`). */
export interface FieldIssue {
  path: string;
  message: string;
}

export class AviaryError extends Error {
  readonly code: ErrorCode;
  readonly issues: FieldIssue[] | undefined;
  /** Seconds a client should wait before retrying (429, 503). */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message: string, options: { issues?: FieldIssue[]; retryAfter?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AviaryError';
    this.code = code;
    this.issues = options.issues;
    this.retryAfter = options.retryAfter;
  }

  get kind(): 'user' | 'system' {
    return httpStatusFor(this.code) < 500 ? 'user' : 'system';
  }

  toJSON(): { code: ErrorCode; message: string; issues?: FieldIssue[] } {
    return this.issues ? { code: this.code, message: this.message, issues: this.issues } : { code: this.code, message: this.message };
  }
}

export function httpStatusFor(code: ErrorCode): number {
  return STATUS[code];
}

export function isAviaryError(err: unknown): err is AviaryError {
  return err instanceof AviaryError;
}

/** Builds a ValidationError whose message lists every issue, so a user sees all of them at once. */
export function validationError(issues: FieldIssue[], what = 'request'): AviaryError {
  const list = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ');
  return new AviaryError('ValidationError', `invalid ${what}: ${list}`, { issues });
}
