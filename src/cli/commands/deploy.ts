import path from 'node:path';
import { Option, type Command } from 'commander';
import {
  checkFunctionName,
  parseEnvPair,
  parseMaxInstances,
  parseMemory,
  parseMinWarm,
  parseTimeout,
  RUNTIMES,
  type Runtime,
} from '../args.ts';
import { functionPath } from '../client.ts';
import { CliError, usageError } from '../errors.ts';
import { formatBytes } from '../output.ts';
import { MAX_PACKAGE_BYTES } from '../../shared/limits.ts';
import { packagePath } from '../package.ts';
import { withExamples, type Context } from '../context.ts';
import type { DeployResponse } from '../types.ts';

interface DeployOptions {
  runtime: Runtime;
  handler?: string;
  memory?: number;
  timeout?: number;
  env?: Record<string, string>;
  maxInstances?: number;
  minWarm?: number;
  description?: string;
}

/** Uploads bigger than this show a percentage on a terminal. */
const BIG_UPLOAD = 1024 * 1024;
const DEFAULT_MAX_INSTANCES = 10;

export function registerDeploy(program: Command, ctx: Context): void {
  const cmd = program
    .command('deploy')
    .description('package code and deploy it as the next version of a function (creating the function on first deploy)')
    .argument('<name>', 'function name: letters, digits, - and _, starting with a letter')
    .argument('<path>', 'a file (zipped alone), a folder (zipped with node_modules, without .git), or a .zip (sent as is)')
    .addOption(new Option('--runtime <runtime>', 'how the code runs').choices(RUNTIMES).makeOptionMandatory())
    .option('--handler <file.export>', 'entry point, e.g. index.handler (required unless --runtime provided)')
    .option('--memory <MB>', 'memory limit, 128–10240 (server default 128)', parseMemory)
    .option('--timeout <seconds>', 'time limit per invocation, 1–900 (server default 3)', parseTimeout)
    .option('--env <KEY=VALUE>', 'environment variable; repeat for more', parseEnvPair)
    .option('--max-instances <n>', 'most instances running at once, 1–1000 (server default 10)', parseMaxInstances)
    .option('--min-warm <n>', 'instances kept warm when idle, 0–max instances (server default 0)', parseMinWarm)
    .option('--description <text>', 'free text stored with the version')
    .action(async (name: string, target: string, opts: DeployOptions, command: Command) => {
      await deploy(ctx, command, name, target, opts);
    });
  withExamples(cmd, [
    'aviary deploy hello ./hello --runtime node --handler index.handler',
    'aviary deploy api ./dist/api.zip --runtime node --handler app.handler --memory 256 --env LOG_LEVEL=debug',
    'aviary deploy thumbs ./thumbs --runtime python --handler main.handler --timeout 30',
    'aviary deploy rusty ./target/bootstrap --runtime provided',
  ]);
}

async function deploy(ctx: Context, cmd: Command, name: string, target: string, opts: DeployOptions): Promise<void> {
  // Everything that can be checked locally is, before the (possibly slow) packaging and upload.
  checkFunctionName(name);
  if (opts.runtime !== 'provided' && !opts.handler) {
    throw usageError(
      `--handler is required for the ${opts.runtime} runtime`,
      opts.runtime === 'python' ? 'For example: --handler main.handler (file main.py, function handler).' : 'For example: --handler index.handler (file index.js, export handler).',
    );
  }
  const maxInstances = opts.maxInstances ?? DEFAULT_MAX_INSTANCES;
  if (opts.minWarm !== undefined && opts.minWarm > maxInstances) {
    throw usageError(`--min-warm ${opts.minWarm} is more than --max-instances ${maxInstances}`);
  }
  const client = await ctx.client(cmd);
  const out = ctx.out(cmd);

  const pkgStep = out.step(`Packaging ${target}`);
  let pkg;
  try {
    pkg = await packagePath(path.resolve(ctx.io.cwd, target), (w) => out.warn(w));
  } catch (err) {
    pkgStep.fail();
    throw err;
  }
  pkgStep.done(`${pkg.files} ${pkg.files === 1 ? 'file' : 'files'}, ${formatBytes(pkg.zip.length)}${pkg.kind === 'zip' ? ' (zip sent as is)' : ''}`);
  if (pkg.zip.length > MAX_PACKAGE_BYTES) {
    // the server would refuse it, and it may close the connection before the upload is through
    throw new CliError(`the package is ${pkg.zip.length} bytes zipped, over the limit of ${MAX_PACKAGE_BYTES} bytes (50 MB; docs/limits.md)`, {
      hint: 'Leave out what the function does not need (tests, docs, dev dependencies, large data files), or download large data at run time.',
    });
  }

  const head = await client.request('HEAD', `/v1/packages/${pkg.digest}`, { allow: [404] });
  if (head.status === 404) {
    const up = out.step(`Uploading ${formatBytes(pkg.zip.length)}`);
    try {
      const stored = await client.request<{ digest: string; size: number }>('POST', '/v1/packages', {
        body: pkg.zip,
        contentType: 'application/zip',
        ...(pkg.zip.length >= BIG_UPLOAD ? { onProgress: (sent: number, total: number) => up.progress(sent / total) } : {}),
      });
      if (stored.body?.digest !== pkg.digest) {
        throw new CliError(`the server stored the package as ${String(stored.body?.digest)}, but its digest is ${pkg.digest}`);
      }
    } catch (err) {
      up.fail();
      throw err;
    }
    up.done();
  } else {
    out.info(`Package ${pkg.digest.slice(0, 19)}… is already on the server: nothing to upload`);
  }

  const body: Record<string, unknown> = { runtime: opts.runtime, package: pkg.digest };
  if (opts.handler !== undefined) body.handler = opts.handler;
  if (opts.memory !== undefined) body.memory = opts.memory;
  if (opts.timeout !== undefined) body.timeout = opts.timeout;
  if (opts.env !== undefined) body.env = opts.env;
  if (opts.maxInstances !== undefined) body.maxInstances = opts.maxInstances;
  if (opts.minWarm !== undefined) body.minWarm = opts.minWarm;
  if (opts.description !== undefined) body.description = opts.description;

  const build = out.step(`Building ${name} on the server`);
  let res: DeployResponse;
  try {
    res = await client.post<DeployResponse>(`/v1/functions/${functionPath(name)}/versions`, body);
  } catch (err) {
    build.fail();
    throw err;
  }
  build.done();

  if (out.json) return out.printJson(res);
  const v = res.version;
  out.print(`Deployed ${out.style('bold', name)} version ${v.version} (${v.runtime}, ${v.memory} MB, ${v.timeout} s timeout)`);
  out.print(`URL: ${res.url}`);
  out.print(`Invoke: aviary invoke ${name}`);
  for (const w of res.warnings ?? []) out.warn(w);
}
