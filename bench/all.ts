/**
 * `npm run bench`: the HTTP benchmark (bench/run.ts), then async invocations (bench/async.ts)
 * and the queue trigger (bench/queue.ts), one after the other.
 *
 * Options are run.ts's and go to it; `--only` also takes `async` and `queue` (so
 * `--only warm` runs the warm phase alone); `--json` goes to all three, `--check` to the two
 * that have targets. The exit code is the first non-zero one.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const HTTP_PHASES = ['warm', 'cold', 'idle'];
const OTHER = { async: 'async.ts', queue: 'queue.ts' } as const;

const args = process.argv.slice(2);
const script = (name: string): string => path.join(import.meta.dirname, name);
const run = (name: string, argv: string[]): number => spawnSync(process.execPath, [script(name), ...argv], { stdio: 'inherit' }).status ?? 1;

if (args.includes('--help') || args.includes('-h')) {
  run('run.ts', ['--help']);
  process.stdout.write('\n`npm run bench` also runs bench/async.ts and bench/queue.ts after it: `--only` takes async and queue too\n'
    + '(e.g. --only warm,async); each has its own --help (node bench/async.ts --help).\n');
  process.exit(0);
}

// --only LIST or --only=LIST, split into run.ts's phases and the other two benchmarks
let only: string[] | undefined;
const httpArgs: string[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === '--only' || a.startsWith('--only=')) {
    const value = a === '--only' ? args[++i] : a.slice('--only='.length);
    only = (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = only.filter((p) => !HTTP_PHASES.includes(p) && !(p in OTHER));
    if (only.length === 0 || unknown.length > 0) {
      process.stderr.write(`bench: --only: unknown phase ${JSON.stringify(unknown[0] ?? value ?? '')} (use ${[...HTTP_PHASES, ...Object.keys(OTHER)].join(', ')})\n`);
      process.exit(2);
    }
  } else {
    httpArgs.push(a);
  }
}

const wants = (phase: string): boolean => only === undefined || only.includes(phase);
const httpPhases = HTTP_PHASES.filter(wants);
const codes: number[] = [];
if (httpPhases.length > 0) codes.push(run('run.ts', only === undefined ? httpArgs : [...httpArgs, '--only', httpPhases.join(',')]));
if (wants('async')) codes.push(run(OTHER.async, ['--json', '--check'].filter((f) => args.includes(f))));
if (wants('queue')) codes.push(run(OTHER.queue, ['--json'].filter((f) => args.includes(f))));
process.exitCode = codes.find((c) => c !== 0) ?? 0;
