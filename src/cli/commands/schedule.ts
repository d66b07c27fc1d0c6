import { InvalidArgumentError, type Command } from 'commander';
import { checkFunctionName, parseFunctionRef, readEvent } from '../args.ts';
import { withExamples, type Context } from '../context.ts';
import { usageError } from '../errors.ts';
import type { Output } from '../output.ts';

/** A schedule as the API returns it (docs/api.md, "Schedules"). */
export interface Schedule {
  name: string;
  function: string;
  expression: string;
  timezone: string;
  data: Record<string, unknown>;
  missedFirePolicy: 'skip' | 'run-once';
  enabled: boolean;
  state: 'enabled' | 'paused';
  description: string;
  nextFireAt: string | null;
  nextFireAtLocal: string | null;
  lastFireAt: string | null;
  lastInvocationId: string | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
  upcoming?: { time: string; local: string }[];
}

interface AddOptions {
  cron?: string;
  rate?: string;
  tz?: string;
  data?: string;
  missed?: 'skip' | 'run-once';
  paused?: boolean;
  description?: string;
}

const MISSED = ['skip', 'run-once'] as const;

function parseMissed(value: string): 'skip' | 'run-once' {
  if (!(MISSED as readonly string[]).includes(value)) throw new InvalidArgumentError('Expected skip or run-once.');
  return value as 'skip' | 'run-once';
}

/** `rate(5 minutes)` or just `5 minutes`. */
export function rateExpression(value: string): string {
  const v = value.trim();
  return /^rate\s*\(/i.test(v) ? v : `rate(${v})`;
}

export function registerSchedule(program: Command, ctx: Context): void {
  const schedule = program.command('schedule').description('run a function on a schedule (cron or rate), as async invocations');
  withExamples(schedule, [
    `aviary schedule add nightly hello --cron '0 3 * * *' --tz Europe/Paris --data '{"report":"daily"}'`,
    'aviary schedule list',
    'aviary schedule pause nightly',
  ]);

  withExamples(
    schedule
      .command('add')
      .description('add a schedule: FUNCTION gets an EventBridge "Scheduled Event" at each fire time')
      .argument('<name>', 'schedule name: 1-64 letters, digits, - and _, starting with a letter')
      .argument('<function>', 'NAME, or NAME:QUALIFIER for a version')
      .option('--cron <expression>', "cron: 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or EventBridge's cron(…)")
      .option('--rate <rate>', "every N minutes, hours or days: 'rate(5 minutes)' or '5 minutes'")
      .option('--tz <zone>', 'IANA time zone the cron times are in (default UTC)')
      .option('-d, --data <json>', "JSON object sent as the event's detail: JSON, @file.json or @- for stdin (default {})")
      .option('--missed <policy>', 'a fire missed while the server was down: skip (default) or run-once', parseMissed)
      .option('--paused', 'add it paused (resume with `aviary schedule resume NAME`)')
      .option('--description <text>', 'a note for people')
      .action(async (name: string, ref: string, opts: AddOptions, command: Command) => {
        checkScheduleName(name);
        parseFunctionRef(ref);
        if ((opts.cron === undefined) === (opts.rate === undefined)) {
          throw usageError('give exactly one of --cron EXPRESSION or --rate RATE', "e.g. --cron '0 3 * * *' or --rate '5 minutes'");
        }
        const body: Record<string, unknown> = { name, function: ref, expression: opts.cron ?? rateExpression(opts.rate ?? '') };
        if (opts.tz !== undefined) body.timezone = opts.tz;
        if (opts.data !== undefined) {
          const event = await readEvent({ data: opts.data, stdin: ctx.io.stdin, cwd: ctx.io.cwd });
          const data = JSON.parse(event.text) as unknown;
          if (typeof data !== 'object' || data === null || Array.isArray(data)) {
            throw usageError(`the data in ${event.from} must be a JSON object (it becomes the event's detail)`, `e.g. --data '{"report":"daily"}'`);
          }
          body.data = data;
        }
        if (opts.missed !== undefined) body.missedFirePolicy = opts.missed;
        if (opts.paused) body.enabled = false;
        if (opts.description !== undefined) body.description = opts.description;
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.post<{ schedule: Schedule }>('/v1/schedules', body);
        if (out.json) return out.printJson(res);
        const s = res.schedule;
        out.print(`Added schedule ${s.name}: ${scheduleText(s)} → ${s.function}${s.enabled ? '' : ' (paused)'}`);
        if (s.nextFireAt) out.print(`Next fire: ${when(s)}`);
      }),
    [
      `aviary schedule add nightly hello --cron '0 3 * * *' --tz Europe/Paris`,
      `aviary schedule add poll hello:2 --rate '5 minutes' --data '{"source":"poll"}'`,
      `aviary schedule add weekdays hello --cron 'cron(0 8 ? * MON-FRI *)' --tz America/New_York --missed run-once`,
      `aviary schedule add tick hello --cron '*/10 * * * * *' --paused`,
    ],
  );

  withExamples(
    schedule
      .command('list')
      .alias('ls')
      .description('list schedules with their next fire time, in their time zone and in UTC')
      .action(async (_opts: object, command: Command) => {
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.get<{ schedules: Schedule[] }>('/v1/schedules');
        if (out.json) return out.printJson(res);
        if (res.schedules.length === 0) return out.info(`No schedules yet. Add one: aviary schedule add nightly hello --cron '0 3 * * *'`);
        out.table(
          ['NAME', 'FUNCTION', 'SCHEDULE', 'STATE', 'NEXT (LOCAL)', 'NEXT (UTC)', 'LAST'],
          res.schedules.map((s) => [
            s.name, s.function, scheduleText(s), s.state, s.nextFireAtLocal ?? '-', utc(s.nextFireAt) ?? '-',
            s.lastError ? 'enqueue failed' : (utc(s.lastFireAt) ?? '-'),
          ]),
        );
      }),
    ['aviary schedule list', 'aviary schedule list --json'],
  );

  withExamples(
    schedule
      .command('get')
      .description('show a schedule and its next fire times')
      .argument('<name>', 'schedule name')
      .action(async (name: string, _opts: object, command: Command) => {
        checkScheduleName(name);
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.get<{ schedule: Schedule }>(`/v1/schedules/${encodeURIComponent(name)}`);
        if (out.json) return out.printJson(res);
        printSchedule(out, res.schedule);
      }),
    ['aviary schedule get nightly'],
  );

  for (const [verb, description] of [['pause', 'stop firing until resumed'], ['resume', 'fire again, from the next time after now (paused fires are not made up)']] as const) {
    withExamples(
      schedule
        .command(verb)
        .description(description)
        .argument('<name>', 'schedule name')
        .action(async (name: string, _opts: object, command: Command) => {
          checkScheduleName(name);
          const client = await ctx.client(command);
          const out = ctx.out(command);
          const res = await client.post<{ schedule: Schedule }>(`/v1/schedules/${encodeURIComponent(name)}/${verb}`, undefined);
          if (out.json) return out.printJson(res);
          const s = res.schedule;
          out.print(verb === 'pause' ? `Paused schedule ${s.name}` : `Resumed schedule ${s.name}; next fire: ${when(s)}`);
        }),
      [`aviary schedule ${verb} nightly`],
    );
  }

  withExamples(
    schedule
      .command('delete')
      .alias('rm')
      .description('delete a schedule')
      .argument('<name>', 'schedule name')
      .action(async (name: string, _opts: object, command: Command) => {
        checkScheduleName(name);
        const client = await ctx.client(command);
        const out = ctx.out(command);
        await client.delete(`/v1/schedules/${encodeURIComponent(name)}`);
        if (out.json) return out.printJson({ deleted: { name } });
        out.print(`Deleted schedule ${name}`);
      }),
    ['aviary schedule delete nightly'],
  );
}

function checkScheduleName(name: string): void {
  try {
    checkFunctionName(name);
  } catch {
    throw usageError(`invalid schedule name '${name}': use 1–64 letters, digits, - and _, starting with a letter`);
  }
}

function scheduleText(s: Schedule): string {
  return /^rate\s*\(/i.test(s.expression) ? s.expression : `${s.expression} (${s.timezone})`;
}

function utc(iso: string | null): string | null {
  return iso === null ? null : iso.replace(/\.000Z$/, 'Z');
}

function when(s: Schedule): string {
  if (!s.nextFireAt) return 'none';
  return s.timezone === 'UTC' ? (utc(s.nextFireAt) ?? '') : `${s.nextFireAtLocal} ${s.timezone} (${utc(s.nextFireAt)})`;
}

function printSchedule(out: Output, s: Schedule): void {
  const rows: [string, string][] = [
    ['Schedule', s.name],
    ['Function', s.function],
    ['Expression', s.expression],
    ['Time zone', s.timezone],
    ['State', s.state],
    ['Missed fires', s.missedFirePolicy === 'skip' ? 'skip' : 'run once on start'],
    ['Data', JSON.stringify(s.data)],
    ['Description', s.description || '-'],
    ['Last fire', s.lastFireAt ? `${utc(s.lastFireAt)}${s.lastInvocationId ? ` (invocation ${s.lastInvocationId})` : ''}` : '-'],
    ['Created', s.createdAt],
  ];
  if (s.lastError) rows.push(['Last error', s.lastError]);
  const width = Math.max(...rows.map(([k]) => k.length), 'Next fires'.length);
  for (const [k, v] of rows) out.print(`${out.style('bold', k.padEnd(width))}  ${v}`);
  const upcoming = s.upcoming ?? [];
  out.print(`${out.style('bold', 'Next fires'.padEnd(width))}  ${upcoming.length === 0 ? '-' : ''}`.trimEnd());
  for (const u of upcoming) out.print(`  ${u.local}  (${utc(u.time)})`);
}
