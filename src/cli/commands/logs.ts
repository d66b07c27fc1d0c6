import type { Command } from 'commander';
import { checkFunctionName, parseLogLimit, parseSince } from '../args.ts';
import { functionPath } from '../client.ts';
import { withExamples, type Context } from '../context.ts';
import { formatLogLine } from '../output.ts';
import type { LogLine } from '../types.ts';

interface LogsOptions {
  invocation?: string;
  limit?: number;
  since?: string;
}

export function registerLogs(program: Command, ctx: Context): void {
  const cmd = program
    .command('logs')
    .description("print a function's log lines, oldest first")
    .argument('<name>', 'function name')
    .option('--invocation <id>', 'only the lines of one invocation (its request id)')
    .option('--limit <n>', 'the newest N lines, 1–1000 (server default 100)', parseLogLimit)
    .option('--since <time>', 'only lines after an ISO time, or a duration back from now: 30s, 10m, 2h, 1d', (v: string) => parseSince(v))
    .action(async (name: string, opts: LogsOptions, command: Command) => {
      checkFunctionName(name);
      const client = await ctx.client(command);
      const out = ctx.out(command);
      const res = await client.get<{ logs: LogLine[] }>(`/v1/functions/${functionPath(name)}/logs`, {
        invocation: opts.invocation,
        limit: opts.limit,
        since: opts.since,
      });
      if (out.json) return out.printJson(res);
      if (res.logs.length === 0) return out.info(`No log lines for ${name}${opts.invocation || opts.since ? ' matching the filters' : ' yet'}.`);
      for (const line of res.logs) out.print(formatLogLine(line));
    });
  withExamples(cmd, [
    'aviary logs hello',
    'aviary logs hello --since 10m --limit 500',
    'aviary logs hello --invocation 8f14e45f-ceea-467f-a0e6-3e2b5c0f1a2b',
  ]);
}
