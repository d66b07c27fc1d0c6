import { z } from 'zod';
import { FUNCTION_NAME } from '../../registry/index.ts';
import { MISSED_FIRE_POLICIES } from './schedule.ts';

export const SCHEDULE_LIMITS = {
  /** `data` as JSON text, the event's `detail`: 1 KiB below the 256 KiB async payload limit leaves room for the envelope. */
  dataBytes: 255 * 1024,
  expressionChars: 256,
  descriptionChars: 512,
  /** Fire times shown by GET /v1/schedules/{name}. */
  upcoming: 5,
} as const;

/** `name` or `name:qualifier`; the function part follows the function-name rule. */
const FUNCTION_REF = /^[A-Za-z][A-Za-z0-9_-]{0,63}(:[A-Za-z0-9_$-]{1,128})?$/;

/** A type error's message; a missing field keeps zod's default, which `toIssues` turns into "is required". */
const typeError = (message: string) => ({ error: (issue: { input?: unknown }) => (issue.input === undefined ? undefined : message) });

/** The body of POST /v1/schedules. The expression and time zone are checked further by `parseExpression`. */
export const scheduleSchema = z.strictObject({
  name: z.string(typeError('must be a string')).regex(FUNCTION_NAME, 'must be 1-64 letters, digits, - or _, starting with a letter'),
  function: z.string(typeError('must be a string: the function name, or name:qualifier')).regex(FUNCTION_REF, 'must be a function name, or name:qualifier (hello, hello:3)'),
  expression: z.string(typeError('must be a string: a cron or rate expression, e.g. 0 3 * * * or rate(5 minutes)'))
    .max(SCHEDULE_LIMITS.expressionChars, `must be ${SCHEDULE_LIMITS.expressionChars} characters at most`),
  timezone: z.string({ error: 'must be a string: an IANA time zone such as Europe/Paris' }).default('UTC'),
  data: z.record(z.string(), z.unknown(), { error: 'must be a JSON object (it becomes the event\'s detail)' }).default({}),
  missedFirePolicy: z.enum(MISSED_FIRE_POLICIES, { error: `must be one of ${MISSED_FIRE_POLICIES.join(', ')}` }).default('skip'),
  enabled: z.boolean({ error: 'must be true or false' }).default(true),
  description: z.string({ error: 'must be a string' }).max(SCHEDULE_LIMITS.descriptionChars, `must be ${SCHEDULE_LIMITS.descriptionChars} characters at most`).default(''),
});
export type ScheduleInput = z.infer<typeof scheduleSchema>;
