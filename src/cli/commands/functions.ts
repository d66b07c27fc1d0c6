import type { Command } from 'commander';
import { checkFunctionName, parseFunctionRef } from '../args.ts';
import { functionPath, type ApiClient } from '../client.ts';
import { mapLimit, withExamples, type Context } from '../context.ts';
import { CliError } from '../errors.ts';
import { formatAgo, formatBytes } from '../output.ts';
import type { FunctionInfo, Route, VersionInfo } from '../types.ts';

/** Detail requests `list` makes at once when the list itself lacks the config. */
const LIST_CONCURRENCY = 8;

export function registerFunctions(program: Command, ctx: Context): void {
  withExamples(
    program
      .command('list')
      .alias('ls')
      .description('list functions with their newest version')
      .action(async (_opts: object, command: Command) => list(ctx, command)),
    ['aviary list', 'aviary list --json'],
  );
  withExamples(
    program
      .command('get')
      .description("show a function and its newest version's config (env values included)")
      .argument('<function>', 'NAME, or NAME:QUALIFIER for a given version or alias')
      .action(async (ref: string, _opts: object, command: Command) => get(ctx, command, ref)),
    ['aviary get hello', 'aviary get hello:2', 'aviary get hello --json'],
  );
  withExamples(
    program
      .command('versions')
      .description("list a function's versions, oldest first")
      .argument('<name>', 'function name')
      .action(async (name: string, _opts: object, command: Command) => versions(ctx, command, name)),
    ['aviary versions hello'],
  );
  withExamples(
    program
      .command('delete')
      .alias('rm')
      .description('delete a function with all its versions and routes, and stop its instances')
      .argument('<name>', 'function name')
      .action(async (name: string, _opts: object, command: Command) => remove(ctx, command, name)),
    ['aviary delete hello'],
  );
}

type WithConfig = FunctionInfo & Partial<Pick<VersionInfo, 'runtime' | 'memory' | 'timeout'>>;

async function list(ctx: Context, cmd: Command): Promise<void> {
  const client = await ctx.client(cmd);
  const out = ctx.out(cmd);
  const res = await client.get<{ functions: WithConfig[] }>('/v1/functions');
  if (out.json) return out.printJson(res);
  if (res.functions.length === 0) {
    out.info('No functions yet. Deploy one: aviary deploy hello ./hello --runtime node --handler index.handler');
    return;
  }
  // The list carries no version config; fetch it per function unless the server included it.
  const rows = await mapLimit(res.functions, LIST_CONCURRENCY, async (f) => {
    const v = f.runtime !== undefined && f.memory !== undefined && f.timeout !== undefined ? f : await newestVersion(client, f.name);
    return [
      f.name,
      String(f.latestVersion),
      v?.runtime ?? '-',
      v?.memory !== undefined ? `${v.memory} MB` : '-',
      v?.timeout !== undefined ? `${v.timeout} s` : '-',
      formatAgo(f.updatedAt),
    ];
  });
  out.table(['NAME', 'VERSION', 'RUNTIME', 'MEMORY', 'TIMEOUT', 'UPDATED'], rows);
}

/** Undefined when the function was deleted meanwhile. */
async function newestVersion(client: ApiClient, name: string): Promise<VersionInfo | undefined> {
  try {
    return (await client.get<{ version: VersionInfo }>(`/v1/functions/${functionPath(name)}`)).version;
  } catch (err) {
    if (err instanceof CliError && err.status === 404) return undefined;
    throw err;
  }
}

async function get(ctx: Context, cmd: Command, ref: string): Promise<void> {
  const { name, qualifier } = parseFunctionRef(ref);
  const client = await ctx.client(cmd);
  const out = ctx.out(cmd);
  const res = await getFunction(client, name, qualifier);
  if (out.json) return out.printJson(res);
  const f = res.function;
  const v = res.version;
  const rows: [string, string][] = [
    ['Function', f.name],
    ['Namespace', f.namespace],
    ['Version', `${v.version}${v.version === f.latestVersion ? ' (newest)' : ` (newest is ${f.latestVersion})`}`],
    ['Runtime', v.runtime],
    ['Handler', v.handler ?? '-'],
    ['Memory', `${v.memory} MB`],
    ['Timeout', `${v.timeout} s`],
    ['Instances', `at most ${v.maxInstances}, ${v.minWarm} kept warm`],
    ['Code', `${formatBytes(v.codeSize)} (${v.package})`],
    ['Description', v.description || '-'],
    ['Deployed', `${v.createdAt} (${formatAgo(v.createdAt)})`],
    ['Created', f.createdAt],
    ['URL', client.url(`/v1/functions/${functionPath(name)}/invocations`)],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, value] of rows) out.print(`${out.style('bold', k.padEnd(width))}  ${value}`);
  const env = Object.entries(v.env ?? {});
  out.print(`${out.style('bold', 'Env'.padEnd(width))}  ${env.length === 0 ? '-' : ''}`.trimEnd());
  for (const [k, value] of env) out.print(`  ${k}=${value}`);
}

/** The function with its newest version, or with version N for `name:N`. */
async function getFunction(client: ApiClient, name: string, qualifier: string | undefined): Promise<{ function: FunctionInfo; version: VersionInfo }> {
  const base = `/v1/functions/${functionPath(name)}`;
  if (qualifier === undefined || qualifier === '$LATEST') return client.get(base);
  if (/^\d+$/.test(qualifier)) {
    const [f, v] = await Promise.all([
      client.get<{ function: FunctionInfo }>(base),
      client.get<{ version: VersionInfo }>(`${base}/versions/${qualifier}`),
    ]);
    return { function: f.function, version: v.version };
  }
  return client.get(`/v1/functions/${functionPath(name, qualifier)}`);
}

async function versions(ctx: Context, cmd: Command, name: string): Promise<void> {
  checkFunctionName(name);
  const client = await ctx.client(cmd);
  const out = ctx.out(cmd);
  const res = await client.get<{ versions: VersionInfo[] }>(`/v1/functions/${functionPath(name)}/versions`);
  if (out.json) return out.printJson(res);
  out.table(
    ['VERSION', 'RUNTIME', 'HANDLER', 'MEMORY', 'TIMEOUT', 'CODE', 'CREATED', 'DESCRIPTION'],
    res.versions.map((v) => [
      String(v.version),
      v.runtime,
      v.handler ?? '-',
      `${v.memory} MB`,
      `${v.timeout} s`,
      formatBytes(v.codeSize),
      formatAgo(v.createdAt),
      v.description,
    ]),
  );
}

async function remove(ctx: Context, cmd: Command, name: string): Promise<void> {
  checkFunctionName(name);
  const client = await ctx.client(cmd);
  const out = ctx.out(cmd);
  // Read first so the user learns what went with it; a 404 here stops before anything changes.
  const [{ function: f }, { routes }] = await Promise.all([
    client.get<{ function: FunctionInfo }>(`/v1/functions/${functionPath(name)}`),
    client.get<{ routes: Route[] }>('/v1/routes'),
  ]);
  const gone = routes.filter((r) => r.function === name);
  await client.delete(`/v1/functions/${functionPath(name)}`);
  if (out.json) return out.printJson({ deleted: { function: f.name, versions: f.latestVersion, routes: gone } });
  const parts = [`${f.latestVersion} ${f.latestVersion === 1 ? 'version' : 'versions'}`];
  if (gone.length > 0) parts.push(`${gone.length} ${gone.length === 1 ? 'route' : 'routes'} (${gone.map((r) => `${r.method} ${r.path}`).join(', ')})`);
  out.print(`Deleted ${f.name}: ${parts.join(', ')}`);
}
