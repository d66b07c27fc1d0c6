import type { Command } from 'commander';
import { ApiClient } from './client.ts';
import { describeSource, requireKey, resolveSettings, type Settings } from './config.ts';
import { Output, type Io } from './output.ts';

/** Options every command accepts (declared once on the program). */
export interface GlobalOptions {
  url?: string;
  apiKey?: string;
  json?: boolean;
}

/** What a command needs besides its arguments: the outside world, output, and a client. */
export class Context {
  readonly io: Io;
  /** Set by a command that wants a non-zero exit without an error (a failed invocation). */
  exitCode = 0;

  constructor(io: Io) {
    this.io = io;
  }

  globals(cmd: Command): GlobalOptions {
    return cmd.optsWithGlobals<GlobalOptions>();
  }

  out(cmd: Command): Output {
    return new Output(this.io, this.globals(cmd).json === true);
  }

  settings(cmd: Command): Promise<Settings> {
    const g = this.globals(cmd);
    return resolveSettings({ url: g.url, apiKey: g.apiKey }, this.io.env);
  }

  /** A client for the resolved server; fails with advice when there is no key. */
  async client(cmd: Command): Promise<ApiClient> {
    const settings = await this.settings(cmd);
    const apiKey = requireKey(settings);
    return new ApiClient({ baseUrl: settings.url, apiKey, keyFrom: describeSource(settings.keySource, settings) });
  }
}

/** Runs at most `limit` of `fn` at once, keeping the order of `items`. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Appends an "Examples:" section to a command's --help. */
export function withExamples(cmd: Command, examples: string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}\n`);
}
