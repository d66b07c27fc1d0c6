import { z } from 'zod';
import { validationError, type FieldIssue } from '../shared/errors.ts';

/** Function names: a letter, then letters, digits, `-` or `_`; 64 at most (Lambda's rule). */
export const FUNCTION_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Lambda's reserved variables: the platform sets them, a function may not. */
const RESERVED_ENV = /^(AWS_.*|LAMBDA_.*|_HANDLER|_X_AMZN_TRACE_ID)$/;
export const MAX_ENV_BYTES = 4096;

export const LIMITS = {
  memory: { min: 128, max: 10240, default: 128 },
  timeout: { min: 1, max: 900, default: 3 },
  maxInstances: { min: 1, max: 1000, default: 10 },
  minWarm: { min: 0, default: 0 },
} as const;

const env = z.record(z.string(), z.string()).superRefine((vars, ctx) => {
  let bytes = 0;
  for (const [k, v] of Object.entries(vars)) {
    bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
    if (!ENV_KEY.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: 'must be letters, digits and _ and not start with a digit' });
    else if (RESERVED_ENV.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: 'is reserved by the platform (AWS_*, LAMBDA_*, _HANDLER); choose another name' });
  }
  if (bytes > MAX_ENV_BYTES) ctx.addIssue({ code: 'custom', message: `environment variables total ${bytes} bytes; the limit is ${MAX_ENV_BYTES}` });
});

const int = (name: string, min: number, max: number, unit: string) =>
  z.number({ error: `must be a number (${unit})` }).int(`must be a whole number (${unit})`)
    .min(min, `must be between ${min} and ${max} (${unit})`).max(max, `must be between ${min} and ${max} (${unit})`)
    .describe(name);

export const deploySchema = z.strictObject({
  runtime: z.enum(['node', 'python', 'provided'], { error: 'must be one of node, python, provided' }),
  handler: z.string().min(1).max(128).regex(/^[^\s]+\.[A-Za-z_$][\w$]*$/, 'must be file.export, e.g. index.handler or src/app.main').optional(),
  package: z.string({ error: 'is required: upload the zip with POST /v1/packages first' }).regex(/^sha256:[0-9a-f]{64}$/, 'must be a digest sha256:<64 hex> from POST /v1/packages'),
  memory: int('memory', LIMITS.memory.min, LIMITS.memory.max, 'MB').default(LIMITS.memory.default),
  timeout: int('timeout', LIMITS.timeout.min, LIMITS.timeout.max, 'seconds').default(LIMITS.timeout.default),
  env: env.default({}),
  maxInstances: int('maxInstances', LIMITS.maxInstances.min, LIMITS.maxInstances.max, 'instances').default(LIMITS.maxInstances.default),
  minWarm: int('minWarm', 0, LIMITS.maxInstances.max, 'instances').default(0),
  description: z.string().max(256, 'must be 256 characters at most').default(''),
}).superRefine((v, ctx) => {
  if (v.runtime !== 'provided' && !v.handler) ctx.addIssue({ code: 'custom', path: ['handler'], message: `is required for the ${v.runtime} runtime (e.g. ${v.runtime === 'node' ? 'index.handler' : 'app.handler'})` });
  if (v.minWarm > v.maxInstances) ctx.addIssue({ code: 'custom', path: ['minWarm'], message: `must not exceed maxInstances (${v.maxInstances})` });
});
export type DeployInput = z.infer<typeof deploySchema>;

/** Paths the platform serves itself; HTTP routes may not use them. */
export const RESERVED_PREFIXES = ['/v1', '/2015-03-31', '/healthz', '/metrics', '/ui'] as const;

export function isReservedPath(path: string): boolean {
  return RESERVED_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`) || path.startsWith(`${p}?`));
}

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'ANY'] as const;

export const routeSchema = z.strictObject({
  method: z.string().transform((m) => m.toUpperCase()).pipe(z.enum(HTTP_METHODS, { error: `must be one of ${HTTP_METHODS.join(', ')}` })),
  path: z.string().min(1),
  function: z.string().regex(FUNCTION_NAME, 'must be a function name'),
  qualifier: z.string().regex(/^(\$LATEST|[1-9][0-9]*)$/, 'must be a version number or $LATEST').nullable().optional(),
});
export type RouteInput = z.infer<typeof routeSchema>;

/** Parses untrusted input; every problem becomes one FieldIssue naming its field. */
export function parseInput<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  throw validationError(toIssues(r.error), what);
}

export function toIssues(error: z.ZodError): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const i of error.issues) {
    if (i.code === 'unrecognized_keys') {
      for (const key of i.keys) issues.push({ path: [...i.path, key].join('.'), message: 'is not a known field' });
    } else if (i.code === 'invalid_type' && i.input === undefined) {
      issues.push({ path: i.path.join('.'), message: i.message.startsWith('Invalid input') ? 'is required' : i.message });
    } else {
      issues.push({ path: i.path.join('.'), message: i.message });
    }
  }
  return issues;
}
