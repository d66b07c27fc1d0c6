import type { Command } from 'commander';
import { checkMethod, checkRoutePath, parseFunctionRef, ROUTE_METHODS } from '../args.ts';
import { withExamples, type Context } from '../context.ts';
import { usageError } from '../errors.ts';
import { formatAgo } from '../output.ts';
import type { Route } from '../types.ts';

export function registerRoute(program: Command, ctx: Context): void {
  const route = program.command('route').description('manage HTTP routes: requests to a path on the server invoke a function');
  withExamples(route, ['aviary route add GET /hello/{name} hello', 'aviary route list', 'aviary route delete GET /hello/{name}']);

  withExamples(
    route
      .command('add')
      .description('route METHOD PATH on the server to a function (API Gateway HTTP API v2 events)')
      .argument('<method>', `${ROUTE_METHODS.join(', ')}`)
      .argument('<path>', 'path; segments may be {param}, the last may be {proxy+}')
      .argument('<function>', 'NAME, or NAME:QUALIFIER for a version or alias')
      .action(async (method: string, path: string, ref: string, _opts: object, command: Command) => {
        const m = checkMethod(method);
        checkRoutePath(path);
        const { name, qualifier } = parseFunctionRef(ref);
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const body: Record<string, string> = { method: m, path, function: name };
        if (qualifier !== undefined) body.qualifier = qualifier;
        const res = await client.post<{ route: Route }>('/v1/routes', body);
        if (out.json) return out.printJson(res);
        const r = res.route;
        const url = client.url(r.path);
        out.print(`Added route ${r.id}: ${r.method} ${r.path} → ${target(r)}`);
        out.print(`URL: ${url}`);
        out.print(`Try: curl ${r.method === 'GET' || r.method === 'ANY' ? '' : `-X ${r.method} `}'${url}'`);
      }),
    ['aviary route add GET /hello hello', 'aviary route add POST /orders/{id} orders:prod', 'aviary route add ANY /api/{proxy+} api'],
  );

  withExamples(
    route
      .command('list')
      .alias('ls')
      .description('list routes')
      .action(async (_opts: object, command: Command) => {
        const client = await ctx.client(command);
        const out = ctx.out(command);
        const res = await client.get<{ routes: Route[] }>('/v1/routes');
        if (out.json) return out.printJson(res);
        if (res.routes.length === 0) return out.info('No routes yet. Add one: aviary route add GET /hello hello');
        out.table(
          ['ID', 'METHOD', 'PATH', 'FUNCTION', 'CREATED'],
          res.routes.map((r) => [r.id, r.method, r.path, target(r), formatAgo(r.createdAt)]),
        );
      }),
    ['aviary route list', 'aviary route list --json'],
  );

  withExamples(
    route
      .command('delete')
      .alias('rm')
      .description('delete a route by METHOD and PATH, or by its id')
      .argument('<method|id>', 'the method of the route, or its id (rt_…) alone')
      .argument('[path]', 'the path of the route, exactly as added')
      .action(async (first: string, path: string | undefined, _opts: object, command: Command) => {
        let query: Record<string, string> | undefined;
        let id: string | undefined;
        if (path !== undefined) query = { method: checkMethod(first), path: checkRoutePath(path) };
        else if ((ROUTE_METHODS as readonly string[]).includes(first.toUpperCase())) {
          throw usageError(`missing the path: aviary route delete ${first.toUpperCase()} /path (or give the route id)`);
        } else id = first;
        const client = await ctx.client(command);
        const out = ctx.out(command);
        if (id !== undefined) await client.delete(`/v1/routes/${encodeURIComponent(id)}`);
        else await client.delete('/v1/routes', query);
        const what = id ?? `${query?.method} ${query?.path}`;
        if (out.json) return out.printJson({ deleted: id !== undefined ? { id } : query });
        out.print(`Deleted route ${what}`);
      }),
    ['aviary route delete GET /hello/{name}', 'aviary route delete r_8f14e45f'],
  );
}

function target(r: Route): string {
  return r.qualifier ? `${r.function}:${r.qualifier}` : r.function;
}
