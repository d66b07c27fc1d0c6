import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { readAll } from '../args.ts';
import { withExamples, type Context } from '../context.ts';
import { usageError } from '../errors.ts';
import { formatAgo } from '../output.ts';

/** A built-in topic as GET /v1/topics shows it (docs/api.md). */
export interface TopicInfo {
  name: string;
  createdAt: string;
  messages?: number;
  inFlight?: number;
}

const TOPIC_NAME = /^[A-Za-z0-9_-]{1,80}$/;

function checkTopicName(name: string): string {
  if (!TOPIC_NAME.test(name)) throw usageError(`invalid topic name '${name}': use 1–80 letters, digits, - and _`);
  return name;
}

export function registerTopics(program: Command, ctx: Context): void {
  const topic = program.command('topic').description('manage built-in topics: durable queues that queue triggers consume');
  withExamples(topic, ['aviary topic create orders', `aviary topic publish orders '{"id":42}'`, 'aviary topic list']);

  withExamples(
    topic.command('create').description('create a topic').argument('<name>', 'topic name: 1–80 letters, digits, - and _')
      .action(async (name: string, _opts: object, command: Command) => {
        checkTopicName(name);
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.post<{ topic: TopicInfo }>('/v1/topics', { name });
        if (out.json) return out.printJson(res);
        out.print(`Created topic ${res.topic.name}`);
        out.print(`Publish: aviary topic publish ${name} '{"hello":"world"}'   Consume: aviary trigger add ${name}-in FUNCTION --source topic --topic ${name}`);
      }),
    ['aviary topic create orders'],
  );

  withExamples(
    topic.command('list').alias('ls').description('list topics with the messages they hold')
      .action(async (_opts: object, command: Command) => {
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.get<{ topics: TopicInfo[] }>('/v1/topics');
        if (out.json) return out.printJson(res);
        if (res.topics.length === 0) return out.info('No topics yet. Create one: aviary topic create orders');
        out.table(['NAME', 'MESSAGES', 'IN FLIGHT', 'CREATED'], res.topics.map((t) => [t.name, String(t.messages ?? 0), String(t.inFlight ?? 0), formatAgo(t.createdAt)]));
      }),
    ['aviary topic list'],
  );

  withExamples(
    topic.command('delete').alias('rm').description('delete a topic and the messages it holds (refused while a trigger uses it)').argument('<name>', 'topic name')
      .action(async (name: string, _opts: object, command: Command) => {
        checkTopicName(name);
        const client = await ctx.client(command);
        const out = ctx.out(command);
        await client.delete(`/v1/topics/${encodeURIComponent(name)}`);
        if (out.json) return out.printJson({ deleted: { name } });
        out.print(`Deleted topic ${name}`);
      }),
    ['aviary topic delete orders'],
  );

  withExamples(
    topic.command('publish').alias('pub').description('publish one message (any text, up to 256 KB); prints its id once it is stored')
      .argument('<name>', 'topic name')
      .argument('[message]', 'the message; or use --data, or pipe it on stdin')
      .option('-d, --data <message>', 'the message: text, @file, or @- for stdin')
      .action(async (name: string, message: string | undefined, opts: { data?: string }, command: Command) => {
        checkTopicName(name);
        if (message !== undefined && opts.data !== undefined) throw usageError('give the message once: as an argument or with --data, not both');
        const body = await readMessage(message ?? opts.data, ctx);
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const isJson = (() => {
          try {
            JSON.parse(body);
            return true;
          } catch {
            return false;
          }
        })();
        const res = await client.request<{ messageId: string; topic: string }>('POST', `/v1/topics/${encodeURIComponent(name)}/messages`, {
          body: Buffer.from(body), contentType: isJson ? 'application/json' : 'text/plain; charset=utf-8',
        });
        if (out.json) return out.printJson(res.body);
        out.print(`Published message ${res.body.messageId} to ${res.body.topic}`);
      }),
    [`aviary topic publish orders '{"id":42}'`, 'aviary topic publish orders --data @order.json', 'echo hello | aviary topic publish orders'],
  );
}

async function readMessage(data: string | undefined, ctx: Context): Promise<string> {
  if (data === undefined) {
    if (ctx.io.stdin.isTTY) throw usageError('no message: give it as an argument, with --data, or on stdin');
    return readAll(ctx.io.stdin);
  }
  if (data === '@-') return readAll(ctx.io.stdin);
  if (data.startsWith('@')) {
    const file = data.slice(1);
    try {
      return await readFile(path.resolve(ctx.io.cwd, file), 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw usageError(`cannot read the message file ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    }
  }
  return data;
}
