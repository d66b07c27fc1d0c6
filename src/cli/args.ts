import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { usageError } from './errors.ts';
import type { InStream } from './output.ts';

/**
 * Parsers for command-line values. Option parsers throw commander's InvalidArgumentError,
 * which commander prints as `option '--memory <MB>' argument '64' is invalid. <reason>`,
 * so every message names the option; the CLI then exits 2 without contacting the server.
 */

export const RUNTIMES = ['node', 'python', 'provided'] as const;
export type Runtime = (typeof RUNTIMES)[number];

/** The documented ranges (docs/api.md, "Functions and versions"), checked before any upload. */
export const RANGES = {
  memory: { min: 128, max: 10240, unit: ' MB' },
  timeout: { min: 1, max: 900, unit: ' s' },
  maxInstances: { min: 1, max: 1000, unit: '' },
  minWarm: { min: 0, max: 1000, unit: '' },
  port: { min: 0, max: 65535, unit: '' },
  logLimit: { min: 1, max: 1000, unit: ' lines' },
  prewarm: { min: 0, max: 16, unit: '' },
  instanceQueue: { min: 0, max: 32, unit: '' },
  maxProcesses: { min: 32, max: 65536, unit: '' },
} as const;

export function parseInteger(value: string, range: { min: number; max: number; unit: string }): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) {
    throw new InvalidArgumentError(`Expected a whole number from ${range.min} to ${range.max}${range.unit}.`);
  }
  return n;
}

export const parseMemory = (v: string): number => parseInteger(v, RANGES.memory);
export const parseTimeout = (v: string): number => parseInteger(v, RANGES.timeout);
export const parseMaxInstances = (v: string): number => parseInteger(v, RANGES.maxInstances);
export const parseMinWarm = (v: string): number => parseInteger(v, RANGES.minWarm);
export const parsePort = (v: string): number => parseInteger(v, RANGES.port);
export const parseLogLimit = (v: string): number => parseInteger(v, RANGES.logLimit);
export const parsePrewarm = (v: string): number => parseInteger(v, RANGES.prewarm);
export const parseInstanceQueue = (v: string): number => parseInteger(v, RANGES.instanceQueue);
export const parseMaxProcesses = (v: string): number => parseInteger(v, RANGES.maxProcesses);

/** Seconds an idle instance is kept: a positive number up to a week. */
export function parseIdleTtl(value: string): number {
  const n = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!(n >= 1 && n <= 7 * 24 * 3600)) {
    throw new InvalidArgumentError('Expected a number of seconds from 1 to 604800 (a week).');
  }
  return n;
}

export function parseHost(value: string): string {
  if (!value.trim() || /\s/.test(value)) throw new InvalidArgumentError('Expected a host name or IP address, like 127.0.0.1 or 0.0.0.0.');
  return value;
}

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `--env K=V`, repeatable; the value may contain `=`; a later K wins. */
export function parseEnvPair(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('Expected KEY=VALUE, like --env LOG_LEVEL=debug.');
  const key = value.slice(0, eq);
  if (!ENV_KEY.test(key)) {
    throw new InvalidArgumentError(`The name '${key}' is not a valid variable name: use letters, digits and _, not starting with a digit.`);
  }
  return { ...previous, [key]: value.slice(eq + 1) };
}

/** Function names per docs/api.md: 1–64 of `a-z A-Z 0-9 - _`, starting with a letter. */
export const FUNCTION_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const QUALIFIER = /^(\$LATEST|[A-Za-z0-9_-]{1,128})$/;

export function checkFunctionName(name: string): string {
  if (!FUNCTION_NAME.test(name)) {
    throw usageError(`invalid function name '${name}': use 1–64 letters, digits, - and _, starting with a letter`);
  }
  return name;
}

/** `hello`, `hello:3`, `hello:prod`, `hello:$LATEST`. */
export function parseFunctionRef(ref: string): { name: string; qualifier: string | undefined } {
  const colon = ref.indexOf(':');
  const name = colon === -1 ? ref : ref.slice(0, colon);
  const qualifier = colon === -1 ? undefined : ref.slice(colon + 1);
  checkFunctionName(name);
  if (qualifier !== undefined && !QUALIFIER.test(qualifier)) {
    throw usageError(`invalid qualifier '${qualifier}' in '${ref}': expected a version number, an alias or $LATEST`);
  }
  return { name, qualifier };
}

/** Checks that `text` is JSON; an empty event is `{}` as in the API. Returns the text to send. */
export function checkEventJson(text: string, from: string): string {
  if (text.trim() === '') return '{}';
  try {
    JSON.parse(text);
  } catch (err) {
    throw usageError(`invalid JSON in ${from}: ${(err as Error).message}`, 'The event must be JSON, e.g. --data \'{"name":"world"}\'.');
  }
  return text;
}

export interface EventSource {
  /** `--data` as given: JSON, `@file.json`, or `@-` for stdin. */
  data?: string | undefined;
  stdin: InStream;
  cwd: string;
}

/** The event for `invoke`: `--data JSON`, `--data @file`, else stdin when piped, else `{}`. */
export async function readEvent(source: EventSource): Promise<{ text: string; from: string }> {
  const { data } = source;
  if (data === undefined) {
    if (source.stdin.isTTY) return { text: '{}', from: 'default' };
    return { text: checkEventJson(await readAll(source.stdin), 'stdin'), from: 'stdin' };
  }
  if (data === '@-') return { text: checkEventJson(await readAll(source.stdin), 'stdin'), from: 'stdin' };
  if (data.startsWith('@')) {
    const file = data.slice(1);
    let text: string;
    try {
      text = await readFile(path.resolve(source.cwd, file), 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw usageError(`cannot read the event file ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    }
    return { text: checkEventJson(text, file), from: file };
  }
  return { text: checkEventJson(data, '--data'), from: '--data' };
}

export async function readAll(stream: InStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8');
}

const DURATION = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `--since`: an ISO time, or a duration back from now (`30s`, `10m`, `2h`, `1d`). */
export function parseSince(value: string, now = Date.now()): string {
  const d = DURATION.exec(value.trim());
  if (d) return new Date(now - Number(d[1]) * UNIT_MS[d[2] as keyof typeof UNIT_MS]).toISOString();
  const t = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(t)) throw new InvalidArgumentError('Expected an ISO time like 2026-11-22T16:00:00Z, or a duration like 30s, 10m, 2h, 1d.');
  return new Date(t).toISOString();
}

export const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'ANY'] as const;

export function checkMethod(method: string): string {
  const m = method.toUpperCase();
  if (!(ROUTE_METHODS as readonly string[]).includes(m)) {
    throw usageError(`invalid method '${method}': expected one of ${ROUTE_METHODS.join(', ')}`);
  }
  return m;
}

export function checkRoutePath(p: string): string {
  if (!p.startsWith('/')) throw usageError(`invalid route path '${p}': it must start with /, like /hello/{name}`);
  return p;
}
