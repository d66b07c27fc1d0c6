/** Turns esbuild's error messages into one BuildFailed naming file, line and column. */
import type { Message } from 'esbuild';
import { AviaryError } from '../shared/errors.ts';

const MAX_LISTED = 5;

/** `syntax error in src/app.ts:12:7: Expected ";" but found "x"` (line and column are 1-based). */
export function describeMessage(message: Message): string {
  const what = message.text.startsWith('Could not resolve') ? 'unresolved import' : 'syntax error';
  const loc = message.location;
  if (!loc) return `${what}: ${message.text}`;
  return `${what} in ${loc.file}:${loc.line}:${loc.column + 1}: ${message.text}`;
}

export function buildFailed(messages: Message[]): AviaryError {
  const listed = messages.slice(0, MAX_LISTED).map(describeMessage);
  const more = messages.length - listed.length;
  return new AviaryError('BuildFailed', listed.join('; ') + (more > 0 ? `; … and ${more} more ${more === 1 ? 'error' : 'errors'}` : ''));
}

/** esbuild rejects with an Error carrying `errors: Message[]`; anything else is not the code's fault. */
export function esbuildMessages(err: unknown): Message[] | null {
  const errors = (err as { errors?: unknown } | null)?.errors;
  return Array.isArray(errors) && errors.length > 0 ? (errors as Message[]) : null;
}
