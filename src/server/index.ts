import { isAviaryError } from '../shared/errors.ts';
import { loadConfig, type ServerOptions } from './config.ts';
import { startServer, VERSION } from './server.ts';

export { loadConfig, DEFAULT_LIMITS, type ServerConfig, type ServerOptions, type Limits } from './config.ts';
export { startServer, VERSION, type RunningServer } from './server.ts';

/** `aviary server`: start, print how to use it, stop cleanly on SIGINT/SIGTERM. */
export async function runServer(options: ServerOptions): Promise<void> {
  const warn = (m: string): void => {
    process.stderr.write(`aviary: warning: ${m}\n`);
  };
  let config;
  try {
    config = loadConfig(options, process.env);
  } catch (err) {
    process.stderr.write(`aviary: ${(err as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  let server;
  try {
    server = await startServer(config, { warn });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'EADDRINUSE'
      ? `port ${config.port} on ${config.host} is already in use: stop what runs there or start with --port N`
      : isAviaryError(err) ? err.message : (e.stack ?? String(err));
    process.stderr.write(`aviary: could not start: ${why}\n`);
    process.exit(1);
  }
  const out = process.stdout;
  out.write(`Aviary ${VERSION} listening on ${server.url}\n`);
  out.write(`  data: ${config.dataDir}  isolation: ${server.isolation === 'bubblewrap' ? 'bubblewrap' : 'none (functions are NOT sandboxed)'}`
    + `  processes per instance: ${server.processLimit === null ? 'not limited' : `at most ${server.processLimit}`}\n`);
  if (server.adminKey) {
    out.write(`\nCreated the admin API key (also saved to ${config.dataDir}/admin.key, readable only by you):\n\n  ${server.adminKey}\n\n`);
    out.write(`Use it with the CLI:\n  export AVIARY_URL=${server.url}\n  export AVIARY_API_KEY=${server.adminKey}\n  # or: aviary login --url ${server.url} --key ${server.adminKey}\n\n`);
  }
  if (server.adminCredentials) {
    out.write(`Its AWS SigV4 credentials, for the Lambda Invoke API at ${server.url}/2015-03-31 (also saved to ${config.dataDir}/admin.credentials):\n\n`);
    out.write(`  aws_access_key_id     = ${server.adminCredentials.accessKeyId}\n  aws_secret_access_key = ${server.adminCredentials.secretAccessKey}\n\n`);
    out.write(`Use them with the AWS CLI or SDKs:\n  export AWS_SHARED_CREDENTIALS_FILE=${config.dataDir}/admin.credentials AWS_REGION=local\n  aws lambda invoke --endpoint-url ${server.url} --function-name hello out.json\n\n`);
  }
  const stop = (signal: string): void => {
    out.write(`aviary: ${signal} received, stopping (in-flight requests get up to 10 s)\n`);
    server.close().then(() => process.exit(0), (err: unknown) => {
      process.stderr.write(`aviary: error while stopping: ${String(err)}\n`);
      process.exit(1);
    });
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
