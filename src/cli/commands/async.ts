import { InvalidArgumentError, type Command } from 'commander';
import { checkFunctionName, parseFunctionRef, parseInteger, readEvent } from '../args.ts';
import { functionPath } from '../client.ts';
import { withExamples, type Context } from '../context.ts';
import { usageError } from '../errors.ts';
import { formatAgo, type Output } from '../output.ts';

/**
 * Asynchronous invocations: `invoke --async` (registered by invoke.ts), `invocations`,
 * `invocation`, `dlq` and `async-config`. The shapes are docs/api.md's "Asynchronous invocations".
 */

interface ErrorInfo {
  errorType?: string;
  errorMessage?: string;
  trace?: string[];
  stackTrace?: string[];
}

interface Destination {
  type: 'function' | 'webhook' | 'topic';
  name?: string;
  url?: string;
}

interface Invocation {
  id: string;
  function: string;
  qualifier: string | null;
  source: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  attempts: number;
  enqueuedAt: string;
  firstAttemptAt: string | null;
  finishedAt: string | null;
  nextAttemptAt: string | null;
  requestId: string | null;
  version: number | null;
  durationMs: number | null;
  error: ErrorInfo | null;
  deadLetter: string | null;
  destination: { type: string; target: string; status: string; attempts: number; eventId?: string; error?: string } | null;
  result?: unknown;
  resultOmitted?: string;
  history?: { requestId: string | null; startedAt: string; durationMs: number; version: number | null; status: string; errorType?: string }[];
}

interface DeadLetter {
  id: string;
  function: string;
  reason: string;
  attempts: number;
  error: ErrorInfo | null;
  enqueuedAt: string;
  deadLetteredAt: string;
  payloadBytes: number;
  payload?: unknown;
}

interface AsyncConfig {
  retries: number;
  maxEventAgeSeconds: number;
  onSuccess: Destination | null;
  onFailure: Destination | null;
}

const STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;
const parseRetries = (v: string): number => parseInteger(v, { min: 0, max: 10, unit: ' retries' });
const parseMaxAge = (v: string): number => parseInteger(v, { min: 60, max: 21_600, unit: ' s' });
const parseListLimit = (v: string): number => parseInteger(v, { min: 1, max: 1000, unit: '' });

function parseStatus(v: string): string {
  if (!(STATUSES as readonly string[]).includes(v)) throw new InvalidArgumentError(`Expected one of ${STATUSES.join(', ')}.`);
  return v;
}

/** `function:NAME`, `topic:NAME`, `webhook:URL`, or `none` to remove the destination. */
export function parseDestination(v: string): Destination | null {
  if (v === 'none') return null;
  const colon = v.indexOf(':');
  const kind = colon === -1 ? v : v.slice(0, colon);
  const target = colon === -1 ? '' : v.slice(colon + 1);
  if ((kind === 'function' || kind === 'topic') && target !== '') return { type: kind, name: target };
  if (kind === 'webhook' && /^https?:\/\/\S+$/.test(target)) return { type: 'webhook', url: target };
  throw new InvalidArgumentError('Expected function:NAME, topic:NAME, webhook:https://… or none.');
}

interface AsyncInvokeOptions {
  data?: string;
  idempotencyKey?: string;
}

/** `aviary invoke NAME --async`: queues the event and prints its id (exit 0 once it is durably queued). */
export async function invokeAsync(ctx: Context, cmd: Command, ref: string, opts: AsyncInvokeOptions): Promise<void> {
  const { name, qualifier } = parseFunctionRef(ref);
  const event = await readEvent({ data: opts.data, stdin: ctx.io.stdin, cwd: ctx.io.cwd });
  const client = await ctx.client(cmd);
  const out = ctx.out(cmd);
  const res = await client.request<{ id: string; status: string; duplicate?: boolean }>('POST', `/v1/functions/${functionPath(name, qualifier)}/invocations`, {
    body: Buffer.from(event.text),
    contentType: 'application/json',
    query: { mode: 'async' },
    ...(opts.idempotencyKey === undefined ? {} : { headers: { 'idempotency-key': opts.idempotencyKey } }),
  });
  const r = res.body;
  if (out.json) return out.printJson(r);
  if (r.duplicate) out.print(`Already queued with idempotency key ${opts.idempotencyKey}: ${r.id} (${r.status})`);
  else out.print(`Queued ${ref}: ${r.id}`);
  out.info(out.style('dim', `Follow it: aviary invocation ${r.id}`, 'stderr'));
}

export function registerAsync(program: Command, ctx: Context): void {
  withExamples(
    program
      .command('invocations')
      .description("list a function's asynchronous invocations, newest first")
      .argument('<name>', 'function name')
      .option('--status <status>', `only those ${STATUSES.join(', ')}`, parseStatus)
      .option('--limit <n>', 'the newest N, 1–1000 (default 100)', parseListLimit)
      .action(async (name: string, opts: { status?: string; limit?: number }, command: Command) => {
        checkFunctionName(name);
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.get<{ invocations: Invocation[] }>(`/v1/functions/${functionPath(name)}/invocations`, { status: opts.status, limit: opts.limit });
        if (out.json) return out.printJson(res);
        if (res.invocations.length === 0) {
          return out.info(`No asynchronous invocations of ${name}${opts.status ? ` with status ${opts.status}` : ''}. Queue one: aviary invoke ${name} --async`);
        }
        out.table(
          ['ID', 'STATUS', 'ATTEMPTS', 'SOURCE', 'QUEUED', 'DURATION', 'ERROR'],
          res.invocations.map((i) => [
            i.id, statusText(i), String(i.attempts), i.source, formatAgo(i.enqueuedAt),
            i.durationMs === null ? '-' : `${i.durationMs.toFixed(1)} ms`, i.error ? `${i.error.errorType}: ${i.error.errorMessage}` : '-',
          ]),
        );
      }),
    ['aviary invocations hello', 'aviary invocations hello --status failed', 'aviary invocations hello --limit 10 --json'],
  );

  withExamples(
    program
      .command('invocation')
      .description('show one asynchronous invocation: status, attempts, timings, result or error')
      .argument('<id>', 'the id `aviary invoke NAME --async` printed')
      .action(async (id: string, _opts: object, command: Command) => {
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.get<{ invocation: Invocation }>(`/v1/invocations/${encodeURIComponent(id)}`);
        if (out.json) return out.printJson(res);
        printInvocation(out, res.invocation);
      }),
    ['aviary invocation 9d3b3695-ea3c-4b00-a4f9-0723df45242a', 'aviary invocation 9d3b3695-ea3c-4b00-a4f9-0723df45242a --json | jq .invocation.result'],
  );

  registerDlq(program, ctx);
  registerAsyncConfig(program, ctx);
}

function statusText(i: Invocation): string {
  if (i.status === 'failed' && i.deadLetter) return `failed (${i.deadLetter})`;
  if (i.status === 'queued' && i.attempts > 0) return 'queued (retry)';
  return i.status;
}

function printInvocation(out: Output, i: Invocation): void {
  const rows: [string, string][] = [
    ['Invocation', i.id],
    ['Function', i.qualifier ? `${i.function}:${i.qualifier}` : i.function],
    ['Status', statusText(i)],
    ['Attempts', String(i.attempts)],
    ['Source', i.source],
    ['Queued', `${i.enqueuedAt} (${formatAgo(i.enqueuedAt)})`],
  ];
  if (i.firstAttemptAt) rows.push(['First run', i.firstAttemptAt]);
  if (i.nextAttemptAt) rows.push(['Next attempt', i.nextAttemptAt]);
  if (i.finishedAt) rows.push(['Finished', i.finishedAt]);
  if (i.durationMs !== null) rows.push(['Duration', `${i.durationMs.toFixed(1)} ms (last run, version ${i.version ?? '-'})`]);
  if (i.requestId) rows.push(['Logs', `aviary logs ${i.function} --invocation ${i.requestId}`]);
  if (i.destination) {
    const d = i.destination;
    rows.push(['Destination', `${d.type} ${d.target}: ${d.status}${d.attempts > 1 ? ` after ${d.attempts} tries` : ''}${d.error ? ` (${d.error})` : ''}${d.eventId ? ` → ${d.eventId}` : ''}`]);
  }
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) out.print(`${out.style('bold', k.padEnd(width))}  ${v}`);
  for (const h of i.history ?? []) {
    out.print(`  ${h.startedAt}  ${h.status.padEnd(9)}  ${h.durationMs.toFixed(1)} ms${h.errorType ? `  ${h.errorType}` : ''}${h.requestId ? `  ${h.requestId}` : ''}`);
  }
  if (i.status === 'succeeded') {
    out.print(out.style('bold', 'Result'));
    out.print(i.resultOmitted ?? (typeof i.result === 'string' ? i.result : JSON.stringify(i.result ?? null, null, 2)));
  } else if (i.error) {
    out.print(`${out.style('bold', 'Error')}  ${i.error.errorType}: ${i.error.errorMessage}`);
    for (const line of i.error.trace ?? i.error.stackTrace ?? []) out.print(`  ${line.replace(/\n$/, '')}`);
  }
}

function registerDlq(program: Command, ctx: Context): void {
  const dlq = program.command('dlq').description("a function's dead-letter queue: async events whose retries or maximum age ran out");
  withExamples(dlq, ['aviary dlq list hello', 'aviary dlq show hello ID', 'aviary dlq redrive hello', 'aviary dlq purge hello']);
  const base = (name: string) => `/v1/functions/${functionPath(checkFunctionName(name))}/dlq`;

  withExamples(
    dlq.command('list')
      .alias('ls')
      .description('list dead letters, newest first')
      .argument('<name>', 'function name')
      .option('--limit <n>', 'the newest N, 1–1000 (default 100)', parseListLimit)
      .action(async (name: string, opts: { limit?: number }, command: Command) => {
        const path = base(name);
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.get<{ deadLetters: DeadLetter[] }>(path, { limit: opts.limit });
        if (out.json) return out.printJson(res);
        if (res.deadLetters.length === 0) return out.info(`The dead-letter queue of ${name} is empty.`);
        out.table(
          ['ID', 'REASON', 'ATTEMPTS', 'DEAD-LETTERED', 'ERROR'],
          res.deadLetters.map((d) => [d.id, d.reason, String(d.attempts), formatAgo(d.deadLetteredAt), d.error ? `${d.error.errorType}: ${d.error.errorMessage}` : '-']),
        );
      }),
    ['aviary dlq list hello'],
  );

  withExamples(
    dlq.command('show')
      .description('show one dead letter with its event')
      .argument('<name>', 'function name')
      .argument('<id>', 'its id (the invocation id)')
      .action(async (name: string, id: string, _opts: object, command: Command) => {
        const path = `${base(name)}/${encodeURIComponent(id)}`;
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.get<{ deadLetter: DeadLetter }>(path);
        if (out.json) return out.printJson(res);
        const d = res.deadLetter;
        out.print(`${d.id}  ${d.reason} after ${d.attempts} ${d.attempts === 1 ? 'attempt' : 'attempts'}, ${d.deadLetteredAt}`);
        if (d.error) out.print(`${d.error.errorType}: ${d.error.errorMessage}`);
        out.print(JSON.stringify(d.payload ?? null, null, 2));
      }),
    ['aviary dlq show hello 9d3b3695-ea3c-4b00-a4f9-0723df45242a'],
  );

  withExamples(
    dlq.command('redrive')
      .description('queue dead letters again (all, or the ids given), with a fresh retry budget')
      .argument('<name>', 'function name')
      .argument('[ids...]', 'only these dead letters')
      .action(async (name: string, ids: string[], _opts: object, command: Command) => {
        const path = `${base(name)}/redrive`;
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.post<{ redriven: number; ids: string[] }>(path, ids.length > 0 ? { ids } : {});
        if (out.json) return out.printJson(res);
        out.print(res.redriven === 0 ? `Nothing to redrive: the dead-letter queue of ${name} is empty.` : `Redrove ${res.redriven} ${res.redriven === 1 ? 'event' : 'events'} of ${name}; follow them with: aviary invocations ${name}`);
      }),
    ['aviary dlq redrive hello', 'aviary dlq redrive hello 9d3b3695-ea3c-4b00-a4f9-0723df45242a'],
  );

  withExamples(
    dlq.command('purge')
      .description('delete dead letters (all, or the ids given)')
      .argument('<name>', 'function name')
      .argument('[ids...]', 'only these dead letters')
      .action(async (name: string, ids: string[], _opts: object, command: Command) => {
        const path = base(name);
        const client = await ctx.client(command);
        const out = ctx.out(command);
        let purged: number;
        if (ids.length === 0) purged = (await client.request<{ purged: number }>('DELETE', path)).body.purged;
        else {
          for (const id of ids) await client.delete(`${path}/${encodeURIComponent(id)}`);
          purged = ids.length;
        }
        if (out.json) return out.printJson({ purged });
        out.print(`Purged ${purged} dead ${purged === 1 ? 'letter' : 'letters'} of ${name}`);
      }),
    ['aviary dlq purge hello', 'aviary dlq purge hello 9d3b3695-ea3c-4b00-a4f9-0723df45242a'],
  );
}

interface ConfigOptions {
  retries?: number;
  maxAge?: number;
  onSuccess?: Destination | null;
  onFailure?: Destination | null;
}

function registerAsyncConfig(program: Command, ctx: Context): void {
  const cfg = program.command('async-config').description("a function's async settings: retries, maximum event age, destinations");
  withExamples(cfg, ['aviary async-config get hello', 'aviary async-config set hello --retries 0 --on-failure function:alerts', 'aviary async-config delete hello']);
  const path = (name: string) => `/v1/functions/${functionPath(checkFunctionName(name))}/async-config`;

  withExamples(
    cfg.command('get')
      .description('show the settings (the defaults until set)')
      .argument('<name>', 'function name')
      .action(async (name: string, _opts: object, command: Command) => {
        const p = path(name);
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.get<{ config: AsyncConfig; default: boolean }>(p);
        if (out.json) return out.printJson(res);
        printConfig(out, name, res.config, res.default);
      }),
    ['aviary async-config get hello'],
  );

  withExamples(
    cfg.command('set')
      .description('change the settings given; the others keep their values')
      .argument('<name>', 'function name')
      .option('--retries <n>', 'retries after a failed run, 0–10 (default 2)', parseRetries)
      .option('--max-age <seconds>', 'drop to the dead-letter queue when older, 60–21600 (default 21600)', parseMaxAge)
      .option('--on-success <dest>', 'function:NAME, topic:NAME, webhook:URL, or none', parseDestination)
      .option('--on-failure <dest>', 'function:NAME, topic:NAME, webhook:URL, or none', parseDestination)
      .action(async (name: string, opts: ConfigOptions, command: Command) => {
        const p = path(name);
        if (opts.retries === undefined && opts.maxAge === undefined && opts.onSuccess === undefined && opts.onFailure === undefined) {
          throw usageError('nothing to set: give --retries, --max-age, --on-success or --on-failure');
        }
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const current = (await client.get<{ config: AsyncConfig }>(p)).config;
        const next: AsyncConfig = {
          retries: opts.retries ?? current.retries,
          maxEventAgeSeconds: opts.maxAge ?? current.maxEventAgeSeconds,
          onSuccess: opts.onSuccess === undefined ? current.onSuccess : opts.onSuccess,
          onFailure: opts.onFailure === undefined ? current.onFailure : opts.onFailure,
        };
        const res = (await client.request<{ config: AsyncConfig }>('PUT', p, { json: next })).body;
        if (out.json) return out.printJson(res);
        printConfig(out, name, res.config, false);
      }),
    ['aviary async-config set hello --retries 5 --max-age 3600', 'aviary async-config set hello --on-success webhook:https://example.com/done --on-failure function:alerts', 'aviary async-config set hello --on-failure topic:failed-orders', 'aviary async-config set hello --on-failure none'],
  );

  withExamples(
    cfg.command('delete')
      .alias('rm')
      .description('go back to the defaults (2 retries, 6 h, no destinations)')
      .argument('<name>', 'function name')
      .action(async (name: string, _opts: object, command: Command) => {
        const p = path(name);
        const client = await ctx.client(command);
        const out = ctx.out(command);
        await client.delete(p);
        if (out.json) return out.printJson({ deleted: { function: name } });
        out.print(`Async settings of ${name} are back to the defaults`);
      }),
    ['aviary async-config delete hello'],
  );
}

function printConfig(out: Output, name: string, c: AsyncConfig, isDefault: boolean): void {
  const dest = (d: Destination | null) => (d === null ? '-' : `${d.type} ${d.type === 'webhook' ? d.url : d.name}`);
  const rows: [string, string][] = [
    ['Function', `${name}${isDefault ? ' (defaults)' : ''}`],
    ['Retries', String(c.retries)],
    ['Max event age', `${c.maxEventAgeSeconds} s`],
    ['On success', dest(c.onSuccess)],
    ['On failure', dest(c.onFailure)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) out.print(`${out.style('bold', k.padEnd(width))}  ${v}`);
}
