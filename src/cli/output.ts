import { styleText } from 'node:util';
import { CliError } from './errors.ts';

/** The parts of a writable stream the CLI uses; tests pass plain objects. */
export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean | undefined;
}

export interface InStream extends AsyncIterable<Buffer | string> {
  isTTY?: boolean | undefined;
}

/** Everything the CLI touches outside itself, so tests can run `main` in-process. */
export interface Io {
  stdout: OutStream;
  stderr: OutStream;
  stdin: InStream;
  env: Record<string, string | undefined>;
  cwd: string;
}

export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: process.cwd() };
}

type Format = Parameters<typeof styleText>[0];

/** Colours only on a terminal, never with NO_COLOR set (https://no-color.org) or TERM=dumb. */
export function colorEnabled(stream: OutStream, env: Io['env']): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

/** A slow step reported on stderr: `Uploading 3.1 MB… 45%` then `… done in 0.4 s`. */
export interface Step {
  /** Rewrites the step's line with a percentage (TTY only; ignored otherwise). */
  progress(fraction: number): void;
  done(suffix?: string): void;
  /** Ends the line with `failed`; the error is printed after it. */
  fail(): void;
}

export class Output {
  readonly io: Io;
  /** `--json`: stdout carries only the API's JSON. */
  readonly json: boolean;
  /** A step line has been started on stderr and not finished with a newline. */
  #openLine: string | undefined;

  constructor(io: Io, json: boolean) {
    this.io = io;
    this.json = json;
  }

  style(format: Format, text: string, stream: 'stdout' | 'stderr' = 'stdout'): string {
    const target = stream === 'stdout' ? this.io.stdout : this.io.stderr;
    return colorEnabled(target, this.io.env) ? styleText(format, text, { validateStream: false }) : text;
  }

  /** A line of the command's result, on stdout. */
  print(line = ''): void {
    this.io.stdout.write(`${line}\n`);
  }

  printJson(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** A note or progress line, on stderr, so stdout stays clean for pipes. */
  info(line: string): void {
    this.#closeLine();
    this.io.stderr.write(`${line}\n`);
  }

  warn(line: string): void {
    this.info(`${this.style('yellow', 'warning:', 'stderr')} ${line}`);
  }

  step(text: string): Step {
    this.#closeLine();
    const tty = this.io.stderr.isTTY === true;
    const started = performance.now();
    const head = `${text}…`;
    this.io.stderr.write(head);
    this.#openLine = head;
    let shown = -1;
    return {
      progress: (fraction) => {
        if (!tty || this.#openLine !== head) return;
        const pct = Math.max(0, Math.min(100, Math.floor(fraction * 100)));
        if (pct === shown) return;
        shown = pct;
        this.io.stderr.write(`\r\x1b[K${head} ${pct}%`);
      },
      done: (suffix) => {
        const end = suffix ?? `done in ${formatSeconds(performance.now() - started)}`;
        if (this.#openLine === head) {
          this.io.stderr.write(tty ? `\r\x1b[K${head} ${end}\n` : ` ${end}\n`);
          this.#openLine = undefined;
        } else {
          this.info(`${head} ${end}`);
        }
      },
      fail: () => {
        if (this.#openLine !== head) return;
        this.io.stderr.write(tty ? `\r\x1b[K${head} failed\n` : ' failed\n');
        this.#openLine = undefined;
      },
    };
  }

  /** Aligned columns; the header is dimmed on a terminal. Cells are plain text. */
  table(headers: string[], rows: string[][]): void {
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells: string[]) =>
      cells
        .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd();
    this.print(this.style('bold', line(headers)));
    for (const row of rows) this.print(line(row));
  }

  /** Prints any error the way the CLI reports errors: `error: …`, the issues, then a hint. */
  error(err: unknown): void {
    this.#closeLine();
    const label = this.style('red', 'error:', 'stderr');
    if (err instanceof CliError) {
      this.io.stderr.write(`${label} ${err.message}\n`);
      for (const issue of err.issues) {
        this.io.stderr.write(`  - ${issue.path ? `${issue.path}: ` : ''}${issue.message}\n`);
      }
      if (err.hint) this.io.stderr.write(`${err.hint}\n`);
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    this.io.stderr.write(`${label} ${message}\n`);
    if (this.io.env.AVIARY_DEBUG && err instanceof Error && err.stack) this.io.stderr.write(`${err.stack}\n`);
  }

  #closeLine(): void {
    if (this.#openLine !== undefined) {
      this.io.stderr.write('\n');
      this.#openLine = undefined;
    }
  }
}

export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 'B';
  for (const u of units) {
    if (value < 1000) break;
    value /= 1000;
    unit = u;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${unit}`;
}

export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** `just now`, `42 s ago`, `5 min ago`, `3 h ago`, then the date. */
export function formatAgo(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return iso.slice(0, 10);
}

/** One log line the way Lambda prints them: `time  requestId  message`. */
export function formatLogLine(line: { time: string; requestId: string; message: string }): string {
  return `${line.time}  ${line.requestId}  ${line.message.replace(/\r?\n$/, '')}`;
}
