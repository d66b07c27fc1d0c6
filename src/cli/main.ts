import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerDeploy } from './commands/deploy.ts';
import { registerEvents } from './commands/events.ts';
import { registerFunctions } from './commands/functions.ts';
import { registerInvoke } from './commands/invoke.ts';
import { registerLogin } from './commands/login.ts';
import { registerLogs } from './commands/logs.ts';
import { registerRoute } from './commands/route.ts';
import { registerAsync } from './commands/async.ts';
import { registerSchedule } from './commands/schedule.ts';
import { registerServer } from './commands/server.ts';
import { registerTopics } from './commands/topics.ts';
import { registerTriggers } from './commands/triggers.ts';
import { Context } from './context.ts';
import { CliError } from './errors.ts';
import { colorEnabled, Output, processIo, type Io } from './output.ts';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

/** Builds the `aviary` program; output goes to `io`, and errors throw instead of exiting. */
export function buildProgram(ctx: Context): Command {
  const { io } = ctx;
  const program = new Command('aviary')
    .description('Aviary: deploy and run functions on your own server')
    .version(packageVersion(), '-V, --version', 'print the CLI version')
    .option('--url <url>', 'server URL (env AVIARY_URL, else the saved login, else http://127.0.0.1:8080)')
    .option('--api-key <key>', 'API key (env AVIARY_API_KEY, else the key saved by `aviary login`)')
    .option('--json', "print the API's JSON instead of human output")
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      outputError: (s, write) => write(colorEnabled(io.stderr, io.env) ? s.replace(/^error:/, '\x1b[31merror:\x1b[39m') : s),
    });
  program.addHelpText(
    'after',
    `
Getting started:
  $ aviary server                                   # in one terminal; prints the admin key
  $ aviary login --key <admin key>
  $ aviary deploy hello ./hello --runtime node --handler index.handler
  $ aviary invoke hello --data '{"name":"world"}'
`,
  );
  registerServer(program, ctx);
  registerLogin(program, ctx);
  registerDeploy(program, ctx);
  registerInvoke(program, ctx);
  registerFunctions(program, ctx);
  registerLogs(program, ctx);
  registerRoute(program, ctx);
  registerAsync(program, ctx);
  registerSchedule(program, ctx);
  registerEvents(program, ctx);
  registerTopics(program, ctx);
  registerTriggers(program, ctx);
  addUsageHints(program, 'aviary');
  return program;
}

/** After a usage error, every command points at its own --help. */
function addUsageHints(cmd: Command, path: string): void {
  cmd.showHelpAfterError(`(run '${path} --help' for usage and examples)`);
  for (const sub of cmd.commands) addUsageHints(sub, `${path} ${sub.name()}`);
}

/**
 * Runs the CLI and returns the exit code: 0 success, 1 failure (server error, failed
 * invocation), 2 bad usage found locally. `argv` is the user's arguments
 * (`process.argv.slice(2)`); a full `process.argv` is accepted too.
 */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const args = argv.length >= 2 && argv[0] === process.execPath ? argv.slice(2) : argv;
  const ctx = new Context(io);
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(args, { from: 'user' });
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; commander has already printed anything else, with the hint.
      return err.exitCode === 0 ? 0 : 2;
    }
    new Output(io, false).error(err);
    return err instanceof CliError ? err.exitCode : 1;
  }
}
