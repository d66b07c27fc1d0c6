import type { Command } from 'commander';
import { readAll } from '../args.ts';
import { ApiClient } from '../client.ts';
import { resolveSettings, writeConfigFile } from '../config.ts';
import { withExamples, type Context } from '../context.ts';
import { usageError } from '../errors.ts';
import type { FunctionInfo } from '../types.ts';

export function registerLogin(program: Command, ctx: Context): void {
  const cmd = program
    .command('login')
    .description('check an API key against the server and save both for later commands')
    .option('--key <key>', 'the API key; - reads it from stdin (keeps it out of shell history)')
    .action(async (opts: { key?: string }, command: Command) => {
      const g = ctx.globals(command);
      let key = opts.key ?? g.apiKey;
      if (!key) {
        throw usageError(
          '--key is required: aviary login --key <key> (or --key - to read it from stdin)',
          'The admin key is printed by `aviary server` on its first start and saved in its data folder as admin.key (.aviary/admin.key by default).',
        );
      }
      if (key === '-') key = (await readAll(ctx.io.stdin)).trim();
      if (!key) throw usageError('--key -: stdin was empty');

      const settings = await resolveSettings({ url: g.url }, ctx.io.env);
      const client = new ApiClient({ baseUrl: settings.url, apiKey: key, keyFrom: '--key' });
      const { functions } = await client.get<{ functions: FunctionInfo[] }>('/v1/functions');
      await writeConfigFile(settings.configPath, { url: settings.url, apiKey: key });

      const out = ctx.out(command);
      if (out.json) return out.printJson({ url: settings.url, configPath: settings.configPath, functions: functions.length });
      out.print(`Logged in to ${settings.url} (${functions.length} ${functions.length === 1 ? 'function' : 'functions'}).`);
      out.print(`Saved the URL and key to ${settings.configPath} (readable only by you).`);
    });
  withExamples(cmd, [
    'aviary login --key avk_3f…',
    'aviary login --url https://faas.example.com --key avk_3f…',
    'pass show aviary | aviary login --key -',
  ]);
}
