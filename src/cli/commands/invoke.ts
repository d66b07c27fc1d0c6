import type { Command } from 'commander';
import { parseFunctionRef, readEvent } from '../args.ts';
import { functionPath } from '../client.ts';
import { withExamples, type Context } from '../context.ts';
import { formatLogLine, type Output } from '../output.ts';
import { usageError } from '../errors.ts';
import { invokeAsync } from './async.ts';
import type { InvokeResponse } from '../types.ts';

interface InvokeOptions {
  data?: string;
  log?: boolean;
  async?: boolean;
  idempotencyKey?: string;
}

export function registerInvoke(program: Command, ctx: Context): void {
  const cmd = program
    .command('invoke')
    .description('invoke a function synchronously and print its result (or queue the event with --async)')
    .argument('<function>', 'NAME, or NAME:QUALIFIER for a version number or an alias')
    .option('-d, --data <json>', 'the event: JSON, @file.json, or @- for stdin (default: stdin when piped, else {})')
    .option('--log', "print the invocation's log lines to stderr before the result")
    .option('--async', 'queue the event durably and print its invocation id; it runs with retries (see aviary invocation ID)')
    .option('--idempotency-key <key>', 'with --async: the same key within 24 h returns the first invocation and does not run again')
    .action(async (ref: string, opts: InvokeOptions, command: Command) => {
      if (opts.async) {
        if (opts.log) throw usageError('--log needs a synchronous invocation; an async one\'s logs: aviary invocation ID, then aviary logs NAME --invocation REQUEST_ID');
        return invokeAsync(ctx, command, ref, opts);
      }
      if (opts.idempotencyKey !== undefined) throw usageError('--idempotency-key applies to asynchronous invocations: add --async');
      ctx.exitCode = await invoke(ctx, command, ref, opts);
    });
  withExamples(cmd, [
    'aviary invoke hello',
    `aviary invoke hello --data '{"name":"world"}'`,
    'aviary invoke hello:3 --data @event.json --log',
    `echo '{"name":"world"}' | aviary invoke hello`,
    'aviary invoke hello --json | jq .durationMs',
    `aviary invoke hello --async --data '{"order":42}' --idempotency-key order-42`,
  ]);
}

/** Exit 0 when the function succeeded, 1 when it failed (its error on stderr). */
async function invoke(ctx: Context, cmd: Command, ref: string, opts: InvokeOptions): Promise<number> {
  const { name, qualifier } = parseFunctionRef(ref);
  const event = await readEvent({ data: opts.data, stdin: ctx.io.stdin, cwd: ctx.io.cwd });
  const client = await ctx.client(cmd);
  const out = ctx.out(cmd);
  const res = await client.request<InvokeResponse>('POST', `/v1/functions/${functionPath(name, qualifier)}/invocations`, {
    body: Buffer.from(event.text),
    contentType: 'application/json',
    ...(opts.log ? { query: { log: 'true' } } : {}),
  });
  const r = res.body;
  const ok = r.status === 'succeeded';
  if (out.json) {
    out.printJson(r);
    return ok ? 0 : 1;
  }
  if (opts.log) {
    for (const line of r.logs ?? []) ctx.io.stderr.write(`${out.style('dim', formatLogLine(line), 'stderr')}\n`);
  }
  if (ok) {
    out.print(typeof r.result === 'string' ? r.result : JSON.stringify(r.result ?? null, null, 2));
    return 0;
  }
  printFunctionError(out, r, name);
  return 1;
}

function printFunctionError(out: Output, r: InvokeResponse, name: string): void {
  const err = r.error ?? { errorType: 'Error', errorMessage: `invocation ${r.status}` };
  const head = `${err.errorType}: ${err.errorMessage}`;
  const lines: string[] = [`${out.style(['red', 'bold'], err.errorType, 'stderr')}: ${err.errorMessage}`];
  const trace = err.trace ?? err.stackTrace ?? [];
  for (const [i, t] of trace.entries()) {
    // Node traces start with the same `Type: message` line already printed.
    if (i === 0 && t === head) continue;
    lines.push(t.replace(/\n$/, ''));
  }
  lines.push(out.style('dim', `request ${r.requestId} (logs: aviary logs ${name} --invocation ${r.requestId})`, 'stderr'));
  out.io.stderr.write(`${lines.join('\n')}\n`);
}
