import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { parseFunctionRef, readAll } from '../args.ts';
import { withExamples, type Context } from '../context.ts';
import { usageError } from '../errors.ts';
import { formatAgo, type Output } from '../output.ts';

/** A rule as the API returns it (docs/api.md, "Events and rules"). */
export interface Rule {
  name: string;
  pattern: Record<string, unknown>;
  function: string | null;
  enabled: boolean;
  description: string;
  createdAt: string;
  updatedAt: string;
}

export interface PublishResponse {
  id: string;
  matched: string[];
  invocations: string[];
  duplicate: boolean;
}

/** Rule names per docs/api.md: 1–64 of `a-z A-Z 0-9 . - _`, starting with a letter or digit. */
const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

interface PublishOptions {
  type: string;
  source: string;
  subject?: string;
  id?: string;
  data?: string;
}

/** `aviary event publish` and `aviary rule …`: the event bus. */
export function registerEvents(program: Command, ctx: Context): void {
  const event = program.command('event').description('publish CloudEvents to the event bus; rules send matching events to functions');
  withExamples(event, [`aviary event publish --type order.created --source shop --data '{"total":150}'`]);

  withExamples(
    event
      .command('publish')
      .description('publish one CloudEvent; every enabled rule whose pattern matches it invokes its function asynchronously')
      .requiredOption('--type <type>', 'the event type, e.g. order.created')
      .requiredOption('--source <source>', 'where it happened (a URI-reference), e.g. shop or /orders')
      .option('--subject <subject>', 'what it is about, e.g. orders/42')
      .option('--id <id>', 'the event id (default: a new UUID); the same source and id again is not delivered again')
      .option('-d, --data <json>', 'the event data: JSON, @file.json, or @- for stdin')
      .action(async (opts: PublishOptions, command: Command) => {
        for (const [option, value] of [['--type', opts.type], ['--source', opts.source], ['--subject', opts.subject], ['--id', opts.id]] as const) {
          if (value !== undefined && value.trim() === '') throw usageError(`${option} must not be empty`);
        }
        const cloudEvent: Record<string, unknown> = {
          specversion: '1.0',
          id: opts.id ?? randomUUID(),
          source: opts.source,
          type: opts.type,
          ...(opts.subject !== undefined ? { subject: opts.subject } : {}),
          time: new Date().toISOString(),
        };
        if (opts.data !== undefined) {
          cloudEvent.datacontenttype = 'application/json';
          cloudEvent.data = await readJson(ctx, opts.data, '--data');
        }
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.request<PublishResponse>('POST', '/v1/events', {
          body: Buffer.from(JSON.stringify(cloudEvent)),
          contentType: 'application/cloudevents+json',
        });
        const r = res.body;
        if (out.json) return out.printJson(r);
        if (r.matched.length === 0) {
          out.print(`Published event ${r.id}: no rule matched (list rules with \`aviary rule list\`)`);
          return;
        }
        out.print(`Published event ${r.id}: matched ${r.matched.length} rule${r.matched.length === 1 ? '' : 's'}${r.duplicate ? ' (already published: nothing new was queued)' : ''}`);
        r.matched.forEach((name, i) => out.print(`  ${name} → invocation ${r.invocations[i] ?? '?'}`));
      }),
    [
      `aviary event publish --type order.created --source shop --data '{"total":150}'`,
      'aviary event publish --type order.shipped --source shop --subject orders/42 --id ship-42 --data @event.json',
    ],
  );

  const rule = program.command('rule').description('manage event rules: events matching a pattern invoke a function asynchronously');
  withExamples(rule, [
    `aviary rule add big-orders --match '{"type":["order.created"],"data":{"total":[{"numeric":[">",100]}]}}' notify`,
    'aviary rule list',
    `aviary rule test --match '{"type":[{"prefix":"order."}]}' --event '{"type":"order.created"}'`,
  ]);

  withExamples(
    rule
      .command('add')
      .description('add a rule: every published event matching PATTERN (EventBridge syntax) invokes FUNCTION with the CloudEvent')
      .argument('<name>', 'rule name: 1-64 letters, digits, ., - and _')
      .argument('<function>', 'NAME, or NAME:QUALIFIER for a version')
      .requiredOption('--match <pattern>', 'the event pattern: JSON, @file.json, or @- for stdin')
      .option('--disabled', 'add it disabled (enable with `aviary rule enable NAME`)')
      .option('--description <text>', 'a note for people')
      .action(async (name: string, ref: string, opts: { match: string; disabled?: boolean; description?: string }, command: Command) => {
        checkRuleName(name);
        parseFunctionRef(ref);
        const pattern = await readJson(ctx, opts.match, '--match');
        const body: Record<string, unknown> = { name, pattern, function: ref };
        if (opts.disabled) body.enabled = false;
        if (opts.description !== undefined) body.description = opts.description;
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.post<{ rule: Rule }>('/v1/rules', body);
        if (out.json) return out.printJson(res);
        const r = res.rule;
        out.print(`Added rule ${r.name}: ${JSON.stringify(r.pattern)} → ${r.function ?? '-'}${r.enabled ? '' : ' (disabled)'}`);
      }),
    [
      `aviary rule add big-orders --match '{"type":["order.created"],"data":{"total":[{"numeric":[">",100]}]}}' notify`,
      `aviary rule add audit --match '{"source":[{"prefix":""}]}' audit-log:3`,
      'aviary rule add shipped --match @pattern.json ship --disabled',
    ],
  );

  withExamples(
    rule
      .command('list')
      .alias('ls')
      .description('list rules')
      .action(async (_opts: object, command: Command) => {
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.get<{ rules: Rule[] }>('/v1/rules');
        if (out.json) return out.printJson(res);
        if (res.rules.length === 0) return out.info(`No rules yet. Add one: aviary rule add all-orders --match '{"type":[{"prefix":"order."}]}' FUNCTION`);
        out.table(
          ['NAME', 'FUNCTION', 'STATE', 'PATTERN', 'CREATED'],
          res.rules.map((r) => [r.name, r.function ?? '-', r.enabled ? 'enabled' : 'disabled', shorten(JSON.stringify(r.pattern), 60), formatAgo(r.createdAt)]),
        );
      }),
    ['aviary rule list', 'aviary rule list --json'],
  );

  withExamples(
    rule
      .command('get')
      .description('show a rule and its pattern')
      .argument('<name>', 'rule name')
      .action(async (name: string, _opts: object, command: Command) => {
        checkRuleName(name);
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.get<{ rule: Rule }>(`/v1/rules/${encodeURIComponent(name)}`);
        if (out.json) return out.printJson(res);
        printRule(out, res.rule);
      }),
    ['aviary rule get big-orders'],
  );

  for (const [verb, description] of [['enable', 'send matching events to the function again'], ['disable', 'stop sending events to the function; the rule is kept']] as const) {
    withExamples(
      rule
        .command(verb)
        .description(description)
        .argument('<name>', 'rule name')
        .action(async (name: string, _opts: object, command: Command) => {
          checkRuleName(name);
          const client = await ctx.client(command);
          const out = ctx.out(command);
          const res = await client.post<{ rule: Rule }>(`/v1/rules/${encodeURIComponent(name)}/${verb}`, undefined);
          if (out.json) return out.printJson(res);
          out.print(`${verb === 'enable' ? 'Enabled' : 'Disabled'} rule ${res.rule.name}`);
        }),
      [`aviary rule ${verb} big-orders`],
    );
  }

  withExamples(
    rule
      .command('delete')
      .alias('rm')
      .description('delete a rule')
      .argument('<name>', 'rule name')
      .action(async (name: string, _opts: object, command: Command) => {
        checkRuleName(name);
        const client = await ctx.client(command);
        const out = ctx.out(command);
        await client.delete(`/v1/rules/${encodeURIComponent(name)}`);
        if (out.json) return out.printJson({ deleted: { name } });
        out.print(`Deleted rule ${name}`);
      }),
    ['aviary rule delete big-orders'],
  );

  withExamples(
    rule
      .command('test')
      .description('check whether a pattern matches an event, without storing anything; exits 0 on a match, 1 otherwise (like grep)')
      .requiredOption('--match <pattern>', 'the event pattern: JSON, @file.json, or @- for stdin')
      .requiredOption('--event <event>', 'the event (e.g. a CloudEvent): JSON, @file.json, or @- for stdin')
      .action(async (opts: { match: string; event: string }, command: Command) => {
        if (opts.match === '@-' && opts.event === '@-') throw usageError('only one of --match and --event can read stdin');
        const pattern = await readJson(ctx, opts.match, '--match');
        const event = await readJson(ctx, opts.event, '--event');
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.post<{ matched: boolean }>('/v1/rules/test', { pattern, event });
        ctx.exitCode = res.matched ? 0 : 1;
        if (out.json) return out.printJson(res);
        out.print(res.matched ? 'matched' : 'no match');
      }),
    [
      `aviary rule test --match '{"data":{"total":[{"numeric":[">",100]}]}}' --event '{"data":{"total":150}}'`,
      'aviary rule test --match @pattern.json --event @event.json',
    ],
  );
}

function checkRuleName(name: string): void {
  if (!RULE_NAME.test(name)) throw usageError(`invalid rule name '${name}': use 1–64 letters, digits, ., - and _, starting with a letter or digit`);
}

/** A JSON option value: inline, `@file`, or `@-` for stdin; a parse error is a usage error naming the option. */
async function readJson(ctx: Context, value: string, option: string): Promise<unknown> {
  let text = value;
  let from = option;
  if (value === '@-') {
    text = await readAll(ctx.io.stdin);
    from = `${option} (stdin)`;
  } else if (value.startsWith('@')) {
    const file = value.slice(1);
    try {
      text = await readFile(path.resolve(ctx.io.cwd, file), 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw usageError(`cannot read ${file} for ${option}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    }
    from = `${option} (${file})`;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw usageError(`invalid JSON in ${from}: ${(err as Error).message}`, option === '--match'
      ? `A pattern is JSON, e.g. --match '{"type":["order.created"]}' (quote it for the shell).`
      : `Give JSON, e.g. ${option} '{"total":150}' (quote it for the shell).`);
  }
}

function shorten(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function printRule(out: Output, r: Rule): void {
  out.print(`Rule:        ${r.name}`);
  out.print(`Function:    ${r.function ?? '-'}`);
  out.print(`State:       ${r.enabled ? 'enabled' : 'disabled'}`);
  if (r.description) out.print(`Description: ${r.description}`);
  out.print(`Created:     ${r.createdAt}`);
  out.print('Pattern:');
  for (const line of JSON.stringify(r.pattern, null, 2).split('\n')) out.print(`  ${line}`);
}
