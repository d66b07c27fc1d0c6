import { Option, type Command } from 'commander';
import { parseHost, parseIdleTtl, parseInstanceQueue, parseMaxProcesses, parsePort, parsePrewarm } from '../args.ts';
import { withExamples, type Context } from '../context.ts';
import { CliError } from '../errors.ts';

interface ServerCommandOptions {
  port?: number;
  host?: string;
  data?: string;
  idleTtl?: number;
  isolation?: string;
  prewarm?: number;
  instanceQueue?: number;
  maxProcesses?: number;
}

export function registerServer(program: Command, ctx: Context): void {
  const cmd = program
    .command('server')
    .description('run the Aviary server in the foreground (SIGINT/SIGTERM stop it gracefully)')
    .option('--port <port>', 'port to listen on, 0–65535; 0 picks a free one (default 8080, env AVIARY_PORT)', parsePort)
    .option('--host <host>', 'address to listen on (default 127.0.0.1, env AVIARY_HOST; 0.0.0.0 for every interface)', parseHost)
    .option('--data <dir>', 'folder for the database, packages and logs (default ./.aviary, env AVIARY_DATA)')
    .option('--idle-ttl <seconds>', 'stop instances idle for this long (default 300, env AVIARY_IDLE_TTL)', parseIdleTtl)
    .addOption(new Option('--isolation <mode>', 'sandbox isolation (default auto, env AVIARY_ISOLATION)').choices(['auto', 'bubblewrap', 'none']))
    .option('--prewarm <n>', 'generic processes kept ready per runtime, 0–16 (default 1, env AVIARY_PREWARM)', parsePrewarm)
    .option('--instance-queue <n>', 'invocations that may wait at a busy instance of a short function at max instances, 0–32 (default 8, env AVIARY_INSTANCE_QUEUE)', parseInstanceQueue)
    .option('--max-processes <n>', 'processes and threads one instance may have, 32–65536, where the server can use cgroups (default 1024, env AVIARY_MAX_PROCESSES)', parseMaxProcesses)
    .action(async (opts: ServerCommandOptions) => {
      // Loaded only here, so client commands never load server code.
      const { runServer } = await import('../../server/index.ts');
      try {
        await runServer({
          port: opts.port,
          host: opts.host,
          dataDir: opts.data,
          idleTtlSeconds: opts.idleTtl,
          isolation: opts.isolation,
          prewarm: opts.prewarm,
          instanceQueue: opts.instanceQueue,
          maxProcesses: opts.maxProcesses,
        });
      } catch (err) {
        throw serverStartError(err, opts, ctx);
      }
      // runServer reports start-up failures itself and sets process.exitCode; keep it.
      if (typeof process.exitCode === 'number') ctx.exitCode = process.exitCode;
    });
  withExamples(cmd, [
    'aviary server',
    'aviary server --port 3000 --data ~/aviary-data',
    'AVIARY_ADMIN_KEY=secret aviary server --host 0.0.0.0',
  ]);
}

function serverStartError(err: unknown, opts: ServerCommandOptions, ctx: Context): unknown {
  const e = err as { code?: unknown; message?: unknown; issues?: unknown };
  if (e.code === 'EADDRINUSE') {
    const port = opts.port ?? ctx.io.env.AVIARY_PORT ?? 8080;
    return new CliError(`cannot listen on port ${port}: it is already in use (another Aviary server?)`, {
      hint: 'Stop the other process, or pick another port with --port.',
    });
  }
  if (e.code === 'ValidationError' && typeof e.message === 'string') {
    return new CliError(e.message, { exitCode: 2 });
  }
  return err;
}
