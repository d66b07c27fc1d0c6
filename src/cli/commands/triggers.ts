import { Option, type Command } from 'commander';
import { parseFunctionRef, parseInteger } from '../args.ts';
import { withExamples, type Context } from '../context.ts';
import { usageError } from '../errors.ts';
import { formatAgo, type Output } from '../output.ts';

/** A queue trigger as GET /v1/triggers shows it (docs/api.md). */
export interface TriggerInfo {
  name: string;
  function: string;
  source: 'topic' | 'nats' | 'mqtt';
  topic: string | null;
  subject: string | null;
  url: string | null;
  stream: string | null;
  batchSize: number;
  batchWindowMs: number;
  maxConcurrency: number;
  maxRetries: number;
  deadLetterTopic: string | null;
  enabled: boolean;
  createdAt: string;
  health: {
    status: string;
    since: string;
    lastError: string | null;
    lastErrorAt: string | null;
    nextAttemptAt: string | null;
    lastFailure: string | null;
    lastFailureAt: string | null;
    received: number;
    succeeded: number;
    retried: number;
    deadLettered: number;
    discarded: number;
    inFlight: number;
  };
}

interface AddOptions {
  source: 'topic' | 'nats' | 'mqtt';
  topic?: string;
  subject?: string;
  broker?: string;
  stream?: string;
  batch?: number;
  window?: number;
  concurrency?: number;
  maxRetries?: number;
  dlq?: string;
}

/** The documented ranges (docs/api.md, "Queue triggers"), checked before anything is sent. */
const RANGES = {
  batch: { min: 1, max: 100, unit: ' messages' },
  window: { min: 0, max: 300_000, unit: ' ms' },
  concurrency: { min: 1, max: 1000, unit: ' batches' },
  maxRetries: { min: 0, max: 1000, unit: '' },
} as const;

const TRIGGER_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
function checkTriggerName(name: string): string {
  if (!TRIGGER_NAME.test(name)) throw usageError(`invalid trigger name '${name}': use 1–64 letters, digits, - and _, starting with a letter`);
  return name;
}

export function registerTriggers(program: Command, ctx: Context): void {
  const trigger = program.command('trigger').description('manage queue triggers: a function consumes a topic, a NATS JetStream subject or an MQTT topic in batches');
  withExamples(trigger, [
    'aviary trigger add orders-in process-order --source nats --subject orders.> --batch 10',
    'aviary trigger list',
  ]);

  withExamples(
    trigger.command('add')
      .description("bind a source to a function: it gets Lambda's SQS event (Records[]) and may answer { batchItemFailures: [{ itemIdentifier }] }")
      .argument('<name>', 'trigger name: 1–64 letters, digits, - and _, starting with a letter')
      .argument('<function>', 'NAME, or NAME:VERSION')
      .addOption(new Option('--source <source>', 'where messages come from').choices(['topic', 'nats', 'mqtt']).makeOptionMandatory())
      .option('--topic <topic>', 'built-in topic name (--source topic) or MQTT topic filter (--source mqtt)')
      .option('--subject <subject>', 'NATS subject, wildcards allowed (--source nats)')
      .option('--broker <url>', 'broker URL (default nats://127.0.0.1:4222 or mqtt://127.0.0.1:1883; --url is the Aviary server)')
      .option('--stream <stream>', 'JetStream stream (default: the one capturing the subject, created if none)')
      .option('--batch <n>', 'messages per invocation, 1–100 (default 10)', (v) => parseInteger(v, RANGES.batch))
      .option('--window <ms>', 'wait up to this long to fill a batch, 0–300000 (default 0)', (v) => parseInteger(v, RANGES.window))
      .option('--concurrency <n>', 'batches running at once, 1–1000 (default 2)', (v) => parseInteger(v, RANGES.concurrency))
      .option('--max-retries <n>', 'retries of a failed message before it is dead-lettered, 0–1000 (default 3)', (v) => parseInteger(v, RANGES.maxRetries))
      .option('--dlq <topic>', 'built-in topic receiving messages that failed every retry (default: they are dropped)')
      .action(async (name: string, ref: string, opts: AddOptions, command: Command) => {
        checkTriggerName(name);
        parseFunctionRef(ref);
        if (opts.source === 'nats' && opts.subject === undefined) throw usageError('--source nats needs --subject, e.g. --subject orders.>');
        if (opts.source !== 'nats' && opts.topic === undefined) throw usageError(`--source ${opts.source} needs --topic, e.g. --topic ${opts.source === 'mqtt' ? 'sensors/+/temperature' : 'orders'}`);
        const body: Record<string, unknown> = { name, function: ref, source: opts.source };
        const fields: [keyof AddOptions, string][] = [
          ['topic', 'topic'], ['subject', 'subject'], ['broker', 'url'], ['stream', 'stream'], ['batch', 'batchSize'], ['window', 'batchWindowMs'],
          ['concurrency', 'maxConcurrency'], ['maxRetries', 'maxRetries'], ['dlq', 'deadLetterTopic'],
        ];
        for (const [opt, field] of fields) if (opts[opt] !== undefined) body[field] = opts[opt];
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.post<{ trigger: TriggerInfo }>('/v1/triggers', body);
        if (out.json) return out.printJson(res);
        out.print(`Added trigger ${res.trigger.name}: ${from(res.trigger)} → ${res.trigger.function} (batch ${res.trigger.batchSize}, concurrency ${res.trigger.maxConcurrency}, retries ${res.trigger.maxRetries})`);
        out.print(`Check its health: aviary trigger get ${res.trigger.name}`);
      }),
    [
      'aviary trigger add orders-in process-order --source topic --topic orders --dlq orders-dead',
      'aviary trigger add orders-in process-order --source nats --subject orders.> --batch 10',
      'aviary trigger add sensors ingest --source mqtt --topic sensors/+/temperature --broker mqtt://broker:1883 --window 500',
    ],
  );

  withExamples(
    trigger.command('list').alias('ls').description('list triggers with their health and last error')
      .action(async (_opts: object, command: Command) => {
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.get<{ triggers: TriggerInfo[] }>('/v1/triggers');
        if (out.json) return out.printJson(res);
        if (res.triggers.length === 0) return out.info('No triggers yet. Add one: aviary trigger add NAME FUNCTION --source topic --topic orders');
        out.table(
          ['NAME', 'FUNCTION', 'SOURCE', 'STATUS', 'OK', 'RETRIED', 'DEAD', 'LAST ERROR'],
          res.triggers.map((t) => [t.name, t.function, from(t), t.health.status, String(t.health.succeeded), String(t.health.retried),
            String(t.health.deadLettered + t.health.discarded), lastError(t)]),
        );
      }),
    ['aviary trigger list', 'aviary trigger list --json'],
  );

  withExamples(
    trigger.command('get').description("show a trigger's settings and health").argument('<name>', 'trigger name')
      .action(async (name: string, _opts: object, command: Command) => {
        checkTriggerName(name);
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.get<{ trigger: TriggerInfo }>(`/v1/triggers/${encodeURIComponent(name)}`);
        if (out.json) return out.printJson(res);
        printTrigger(out, res.trigger);
      }),
    ['aviary trigger get orders-in'],
  );

  for (const [verb, description] of [['pause', 'stop consuming (messages wait in the source)'], ['resume', 'consume again']] as const) {
    withExamples(
      trigger.command(verb).description(description).argument('<name>', 'trigger name')
        .action(async (name: string, _opts: object, command: Command) => {
          checkTriggerName(name);
          const client = await ctx.client(command);
          const out = ctx.out(command);
          const res = await client.post<{ trigger: TriggerInfo }>(`/v1/triggers/${encodeURIComponent(name)}/${verb}`, {});
          if (out.json) return out.printJson(res);
          out.print(`${verb === 'pause' ? 'Paused' : 'Resumed'} trigger ${name} (${res.trigger.health.status})`);
        }),
      [`aviary trigger ${verb} orders-in`],
    );
  }

  withExamples(
    trigger.command('delete').alias('rm').description('delete a trigger (and its JetStream durable consumer or MQTT session)').argument('<name>', 'trigger name')
      .action(async (name: string, _opts: object, command: Command) => {
        checkTriggerName(name);
        const client = await ctx.client(command);
        const out = ctx.out(command);
        await client.delete(`/v1/triggers/${encodeURIComponent(name)}`);
        if (out.json) return out.printJson({ deleted: { name } });
        out.print(`Deleted trigger ${name}`);
      }),
    ['aviary trigger delete orders-in'],
  );
}

function from(t: TriggerInfo): string {
  switch (t.source) {
    case 'topic': return `topic ${t.topic}`;
    case 'nats': return `nats ${t.subject}`;
    case 'mqtt': return `mqtt ${t.topic}`;
  }
}

function lastError(t: TriggerInfo): string {
  if (!t.health.lastError) return '-';
  const when = t.health.lastErrorAt ? ` (${formatAgo(t.health.lastErrorAt)})` : '';
  const text = t.health.lastError.length > 80 ? `${t.health.lastError.slice(0, 79)}…` : t.health.lastError;
  return `${text}${when}`;
}

function printTrigger(out: Output, t: TriggerInfo): void {
  const h = t.health;
  const rows: [string, string][] = [
    ['name', t.name],
    ['function', t.function],
    ['source', from(t)],
    ...(t.url ? [['url', t.url] as [string, string]] : []),
    ...(t.stream ? [['stream', t.stream] as [string, string]] : []),
    ['batch', `${t.batchSize} messages, window ${t.batchWindowMs} ms, ${t.maxConcurrency} at once`],
    ['retries', `${t.maxRetries}, then ${t.deadLetterTopic ? `topic ${t.deadLetterTopic}` : 'dropped'}`],
    ['status', `${h.status} since ${formatAgo(h.since)}${h.nextAttemptAt ? `; next attempt ${h.nextAttemptAt}` : ''}`],
    ['processed', `${h.succeeded} ok, ${h.retried} retried, ${h.deadLettered} dead-lettered, ${h.discarded} dropped, ${h.inFlight} in flight`],
    ['last error', h.lastError ? `${h.lastError} (${h.lastErrorAt})` : '-'],
    ['last failure', h.lastFailure ? `${h.lastFailure} (${h.lastFailureAt})` : '-'],
    ['created', t.createdAt],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) out.print(`${k.padEnd(width)}  ${v}`);
}
