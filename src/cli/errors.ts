/** One problem with one field, as the server reports it in `error.issues`. */
export interface Issue {
  path: string;
  message: string;
}

export interface CliErrorOptions {
  /** 2 for usage errors found locally (nothing was sent), 1 for everything else. */
  exitCode?: number;
  /** The server's stable error code (`FunctionNotFound`…), when the error came from it. */
  code?: string;
  status?: number;
  issues?: Issue[];
  /** One more line telling the user what to do next. */
  hint?: string;
}

/** An error the CLI prints as `error: message` (plus issues and hint) and exits with. */
export class CliError extends Error {
  readonly exitCode: number;
  readonly code: string | undefined;
  readonly status: number | undefined;
  readonly issues: Issue[];
  readonly hint: string | undefined;

  constructor(message: string, options: CliErrorOptions = {}) {
    super(message);
    this.name = 'CliError';
    this.exitCode = options.exitCode ?? 1;
    this.code = options.code;
    this.status = options.status;
    this.issues = options.issues ?? [];
    this.hint = options.hint;
  }
}

/** A mistake in the command line itself: exit 2, before anything reaches the server. */
export function usageError(message: string, hint?: string): CliError {
  return new CliError(message, hint === undefined ? { exitCode: 2 } : { exitCode: 2, hint });
}
