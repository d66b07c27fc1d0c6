import { Cron, type CronOptions } from 'croner';

/**
 * Schedule expressions, pure: parse one, then ask it for fire times. Three forms:
 *
 * - `0 3 * * *` — Unix cron, 5 fields; 6 fields put seconds first (`*\/10 * * * * *`). Day of
 *   week 0-7 (0 and 7 are Sunday) or SUN-SAT; day of month and day of week combine with OR.
 * - `cron(0 3 * * ? *)` — EventBridge's form: minutes hours day-of-month month day-of-week
 *   year, day of week 1-7 = SUN-SAT, and `?` in one of the two day fields.
 * - `rate(5 minutes)` — every N minutes, hours or days from the schedule's creation.
 *
 * Cron times are wall-clock times in the schedule's time zone. Across DST changes (croner's
 * Vixie-cron rules, with `fixedTimeRule: 'no-wildcard'`): a job at fixed times (no `*` or step
 * in seconds, minutes, hours) whose time falls in the spring-forward gap runs once at the end
 * of the gap (02:30 → 03:00) and, when the time repeats in the fall-back hour, runs once at
 * its first occurrence; a job with `*` or a step in those fields skips the gap and runs in both
 * passes through the repeated hour, as elapsed time goes on.
 */

export const MISSED_FIRE_POLICIES = ['skip', 'run-once'] as const;
export type MissedFirePolicy = (typeof MISSED_FIRE_POLICIES)[number];

export interface Expression {
  readonly kind: 'cron' | 'rate';
  /** The first fire time strictly after `after` (ms since the epoch); undefined when none is left. */
  next(after: number): number | undefined;
  /** The last fire time at or before `t`; undefined when there is none. */
  latest(t: number): number | undefined;
}

/** A problem with the expression or time zone; the message is shown to the user as is. */
export class InvalidSchedule extends Error {
  readonly field: 'expression' | 'timezone';

  constructor(field: 'expression' | 'timezone', message: string) {
    super(message);
    this.name = 'InvalidSchedule';
    this.field = field;
  }
}

export const RATE_UNITS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
/** Large enough for any real schedule, small enough that fire times stay valid dates. */
export const MAX_RATE_VALUE = 1_000_000;
const EXPRESSION_EXAMPLES = 'e.g. 0 3 * * *, cron(0 3 * * ? *) or rate(5 minutes)';

/**
 * Parses `text` for the IANA `timezone` (already checked with `checkTimeZone`). `anchor` is
 * when a rate schedule counts from (its creation); `now` is used to reject an expression that
 * can never fire again. Throws InvalidSchedule naming the problem.
 */
export function parseExpression(text: string, timezone: string, anchor: number, now: number = anchor): Expression {
  const t = text.trim();
  if (t === '') throw new InvalidSchedule('expression', `is empty: give a cron or rate expression, ${EXPRESSION_EXAMPLES}`);
  const expr = /^rate\s*\(/i.test(t) ? parseRate(t, anchor) : parseCron(t, timezone);
  if (expr.next(now) === undefined) {
    throw new InvalidSchedule('expression', `${JSON.stringify(t)} never fires: no time after ${new Date(now).toISOString()} matches it`);
  }
  return expr;
}

function parseRate(text: string, createdAt: number): Expression {
  // whole seconds, so fire times (and the event's `time`) carry no milliseconds
  const anchor = Math.floor(createdAt / 1000) * 1000;
  const m = /^rate\s*\(\s*(\S+)\s+(\S+)\s*\)$/i.exec(text);
  if (!m) throw new InvalidSchedule('expression', `${JSON.stringify(text)} is not a rate expression: write rate(VALUE UNIT), e.g. rate(5 minutes) or rate(1 hour)`);
  const [, rawValue = '', rawUnit = ''] = m;
  if (!/^[1-9][0-9]*$/.test(rawValue) || Number(rawValue) > MAX_RATE_VALUE) {
    throw new InvalidSchedule('expression', `${JSON.stringify(text)}: the rate value must be a whole number from 1 to ${MAX_RATE_VALUE}, got ${JSON.stringify(rawValue)}`);
  }
  const value = Number(rawValue);
  const unit = rawUnit.toLowerCase();
  const singular = unit.endsWith('s') ? unit.slice(0, -1) : unit;
  if (!(singular in RATE_UNITS)) {
    throw new InvalidSchedule('expression', `${JSON.stringify(text)}: the rate unit must be minute(s), hour(s) or day(s), got ${JSON.stringify(rawUnit)}`);
  }
  // EventBridge's rule, kept so expressions move between the two unchanged
  if (value === 1 && unit !== singular) {
    throw new InvalidSchedule('expression', `${JSON.stringify(text)}: use the singular unit for 1, as in rate(1 ${singular})`);
  }
  if (value > 1 && unit === singular) {
    throw new InvalidSchedule('expression', `${JSON.stringify(text)}: use the plural unit for values above 1, as in rate(${value} ${singular}s)`);
  }
  const period = value * RATE_UNITS[singular as keyof typeof RATE_UNITS];
  // fires at anchor + k·period, k ≥ 1: the grid never drifts, however late a fire ran
  return {
    kind: 'rate',
    next: (after) => anchor + period * Math.max(1, Math.floor((after - anchor) / period) + 1),
    latest: (t) => (t < anchor + period ? undefined : anchor + period * Math.floor((t - anchor) / period)),
  };
}

const UNIX_FIELDS = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'];
const UNIX_FIELDS_WITH_SECONDS = ['second', ...UNIX_FIELDS];
const AWS_FIELDS = [...UNIX_FIELDS, 'year'];
/** croner's field order inside its 7-part pattern, for its error messages. */
const CRONER_FIELDS = ['second', 'minute', 'hour', 'day-of-month', 'month', 'day-of-week', 'year'];

function parseCron(text: string, timezone: string): Expression {
  const aws = /^cron\s*\((.*)\)$/is.exec(text);
  let pattern: string;
  let fields: string[];
  let names: string[];
  const options: CronOptions = { timezone, fixedTimeRule: 'no-wildcard' };
  if (aws) {
    fields = (aws[1] ?? '').trim().split(/\s+/).filter((f) => f !== '');
    names = AWS_FIELDS;
    if (fields.length !== 6) {
      throw new InvalidSchedule('expression', `${JSON.stringify(text)}: cron(…) takes 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}; e.g. cron(0 3 * * ? *)`);
    }
    if (fields[2] !== '?' && fields[4] !== '?') {
      throw new InvalidSchedule('expression', `${JSON.stringify(text)}: cron(…) needs ? in day-of-month or in day-of-week (EventBridge's rule), e.g. cron(0 3 * * ? *) or cron(0 3 ? * MON-FRI *)`);
    }
    pattern = `0 ${fields.join(' ')}`;
    Object.assign(options, { mode: '7-part', alternativeWeekdays: true } satisfies CronOptions);
  } else if (text.startsWith('@')) {
    if (text.toLowerCase() === '@reboot') throw new InvalidSchedule('expression', '"@reboot" is not supported: a schedule fires at times, not at server start');
    fields = [text];
    names = ['nickname'];
    pattern = text;
  } else {
    fields = text.split(/\s+/);
    if (fields.length !== 5 && fields.length !== 6) {
      throw new InvalidSchedule('expression', `${JSON.stringify(text)} has ${fields.length} ${fields.length === 1 ? 'field' : 'fields'}; a cron expression has 5 (minute hour day-of-month month day-of-week) or 6 (second first), ${EXPRESSION_EXAMPLES}`);
    }
    names = fields.length === 6 ? UNIX_FIELDS_WITH_SECONDS : UNIX_FIELDS;
    pattern = fields.join(' ');
    options.mode = '5-or-6-parts';
  }
  let cron: Cron;
  try {
    cron = new Cron(pattern, options);
  } catch (err) {
    throw new InvalidSchedule('expression', `${JSON.stringify(text)} is not a valid cron expression: ${explainCronerError((err as Error).message, fields, names, aws !== null)}`);
  }
  return {
    kind: 'cron',
    next: (after) => cron.nextRun(new Date(after))?.getTime(),
    latest: (t) => cron.previousRuns(1, new Date(t + 1))[0]?.getTime(),
  };
}

/** Turns croner's messages (`CronPattern: configuration entry 1 (x) …`) into ones naming the user's field. */
function explainCronerError(message: string, fields: string[], names: string[], aws: boolean): string {
  let m = message.replace(/^CronPattern:\s*/, '').replace(/, Type: \w+$/, '');
  // croner numbers the fields of its 7-part pattern from seconds; 5-field and cron(…) inputs start at minutes
  const offset = names.length === 6 && !aws ? 0 : 1;
  const userField = (croner: string) => names.indexOf(croner);
  const entry = /configuration entry (\d+) \(([^)]*)\)/.exec(m);
  if (entry) {
    const i = Number(entry[1]) - offset;
    m = m.replace(entry[0], `the ${names[i] ?? CRONER_FIELDS[Number(entry[1])] ?? 'field'} field ${JSON.stringify(fields[i] ?? entry[2])}`);
  }
  const range = /^Invalid value for (second|minute|hour|day|dayOfMonth|month|dayOfWeek|year): .*$/.exec(m);
  if (range) {
    const name = range[1] === 'day' ? 'day-of-month' : (range[1] ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const i = userField(name);
    // croner counts months from 0 in this message; quote the user's field instead of its number
    const bounds = name === 'day-of-week' && aws ? '1-7 or SUN-SAT' : FIELD_RANGES[name];
    m = `the ${name} field ${JSON.stringify(fields[i] ?? '')} is out of range (${bounds})`;
  }
  return m.charAt(0).toLowerCase() + m.slice(1);
}

const FIELD_RANGES: Record<string, string> = {
  second: '0-59', minute: '0-59', hour: '0-23', 'day-of-month': '1-31', month: '1-12 or JAN-DEC', 'day-of-week': '0-7 or SUN-SAT', year: '1-9999',
};

/** Checks an IANA time zone name; returns it in its canonical spelling, or throws InvalidSchedule. */
export function checkTimeZone(timezone: string): string {
  // Intl also accepts offsets such as +02:00; they have no DST rules, so name a zone instead
  if (/^[+-]/.test(timezone) || timezone.trim() !== timezone || timezone === '') {
    throw new InvalidSchedule('timezone', `${JSON.stringify(timezone)} is not an IANA time zone name: use one like Europe/Paris, America/New_York or UTC`);
  }
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone: timezone }).resolvedOptions().timeZone;
  } catch {
    throw new InvalidSchedule('timezone', `unknown time zone ${JSON.stringify(timezone)}: use an IANA name like Europe/Paris, America/New_York or UTC`);
  }
}

const localFormats = new Map<string, Intl.DateTimeFormat>();

/** `ms` as wall-clock time in `timezone` with its offset: `2026-03-29T03:00:00+02:00`. */
export function localIso(ms: number, timezone: string): string {
  let f = localFormats.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'longOffset',
    });
    localFormats.set(timezone, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(new Date(ms))) p[part.type] = part.value;
  const offset = (p.timeZoneName ?? 'GMT').replace(/^GMT/, '') || '+00:00';
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}${offset}`;
}

export interface ScheduledEventInput {
  /** A fresh UUID per fire. */
  id: string;
  namespace: string;
  name: string;
  /** The fire time the schedule called for (not when it actually ran). */
  scheduledAt: number;
  data: Record<string, unknown>;
}

/** The EventBridge Scheduler event a function receives, as JSON text. */
export function scheduledEvent(e: ScheduledEventInput): string {
  return JSON.stringify({
    version: '0',
    id: e.id,
    'detail-type': 'Scheduled Event',
    source: 'aviary.scheduler',
    account: '000000000000',
    // EventBridge sends whole seconds: 2026-11-23T03:00:00Z
    time: new Date(e.scheduledAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: 'local',
    resources: [`arn:aws:scheduler:local:000000000000:schedule/${e.namespace}/${e.name}`],
    detail: e.data,
  });
}
