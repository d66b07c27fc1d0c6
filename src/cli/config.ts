import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CliError, usageError } from './errors.ts';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** What `aviary login` saves. */
export interface ConfigFile {
  url?: string;
  apiKey?: string;
}

export type Source = 'option' | 'env' | 'file' | 'default';

/** Where the CLI finds the server and the key, and where each came from (for error messages). */
export interface Settings {
  url: string;
  urlSource: Source;
  apiKey: string | undefined;
  keySource: Source | undefined;
  configPath: string;
  /** The server the saved key belongs to, when there is a saved key. */
  savedUrl: string | undefined;
}

/** `$AVIARY_CONFIG`, else `$XDG_CONFIG_HOME/aviary/config.json`, else `~/.config/aviary/config.json`. */
export function configPath(env: Record<string, string | undefined>): string {
  if (env.AVIARY_CONFIG) return path.resolve(env.AVIARY_CONFIG);
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return path.join(base, 'aviary', 'config.json');
}

export async function readConfigFile(file: string): Promise<ConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read the config file ${file}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new CliError(`the config file ${file} is not valid JSON (${(err as Error).message})`, {
      hint: 'Fix or delete it, then run `aviary login --key <key>` again.',
    });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new CliError(`the config file ${file} must hold a JSON object like {"url":"…","apiKey":"…"}`);
  }
  const obj = data as Record<string, unknown>;
  const out: ConfigFile = {};
  if (typeof obj.url === 'string') out.url = obj.url;
  if (typeof obj.apiKey === 'string') out.apiKey = obj.apiKey;
  return out;
}

/** Writes the file readable by its owner only (0600), in a directory only they can enter. */
export async function writeConfigFile(file: string, data: ConfigFile): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

/** Checks and normalises a server URL (no trailing slash), naming where it came from when wrong. */
export function normalizeUrl(raw: string, from: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`invalid server URL '${raw}' (from ${from}): expected something like ${DEFAULT_URL}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(`invalid server URL '${raw}' (from ${from}): only http:// and https:// are supported`);
  }
  if (url.search || url.hash) {
    throw usageError(`invalid server URL '${raw}' (from ${from}): it must not have a query or fragment`);
  }
  return url.href.replace(/\/+$/, '');
}

/**
 * Resolves the server URL and the API key, strongest first: `--url`/`--api-key`, then
 * `AVIARY_URL`/`AVIARY_API_KEY`, then the file `aviary login` wrote; the URL defaults to
 * http://127.0.0.1:8080. The key stays undefined here; `requireKey` turns that into advice.
 */
export async function resolveSettings(
  options: { url?: string | undefined; apiKey?: string | undefined },
  env: Record<string, string | undefined>,
): Promise<Settings> {
  const file = configPath(env);
  const needFile = !(options.url || env.AVIARY_URL) || !(options.apiKey || env.AVIARY_API_KEY);
  const saved = needFile ? await readConfigFile(file) : undefined;

  let url = DEFAULT_URL;
  let urlSource: Source = 'default';
  if (options.url) [url, urlSource] = [normalizeUrl(options.url, '--url'), 'option'];
  else if (env.AVIARY_URL) [url, urlSource] = [normalizeUrl(env.AVIARY_URL, 'AVIARY_URL'), 'env'];
  else if (saved?.url) [url, urlSource] = [normalizeUrl(saved.url, file), 'file'];

  let apiKey: string | undefined;
  let keySource: Source | undefined;
  if (options.apiKey) [apiKey, keySource] = [options.apiKey, 'option'];
  else if (env.AVIARY_API_KEY) [apiKey, keySource] = [env.AVIARY_API_KEY, 'env'];
  // The saved key belongs to the saved server: never send it to another one.
  else if (saved?.apiKey && (!saved.url || normalizeUrl(saved.url, file) === url)) [apiKey, keySource] = [saved.apiKey, 'file'];

  return { url, urlSource, apiKey, keySource, configPath: file, savedUrl: saved?.apiKey ? saved.url : undefined };
}

export function requireKey(settings: Settings): string {
  if (settings.apiKey) return settings.apiKey;
  if (settings.savedUrl) {
    throw usageError(
      `no API key for ${settings.url}: the key saved in ${settings.configPath} is for ${settings.savedUrl}`,
      `Run \`aviary login --url ${settings.url} --key <key>\`, or pass --api-key / set AVIARY_API_KEY.`,
    );
  }
  throw usageError(
    `no API key for ${settings.url}: run \`aviary login --key <key>\` (saves it to ${settings.configPath}) or set AVIARY_API_KEY`,
    'The admin key is printed by `aviary server` on its first start and saved in its data folder as admin.key (.aviary/admin.key by default).',
  );
}

/** Says where a key came from, for "the server rejected the key" messages. */
export function describeSource(source: Source | undefined, settings: Settings): string {
  switch (source) {
    case 'option':
      return '--api-key';
    case 'env':
      return 'AVIARY_API_KEY';
    case 'file':
      return settings.configPath;
    default:
      return 'nowhere';
  }
}
