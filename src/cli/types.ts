/** The shapes of the management API's JSON (docs/api.md), as the CLI reads them. */

export interface FunctionInfo {
  name: string;
  namespace: string;
  latestVersion: number;
  createdAt: string;
  updatedAt: string;
}

export interface VersionInfo {
  function: string;
  version: number;
  runtime: string;
  handler: string | null;
  memory: number;
  timeout: number;
  env: Record<string, string>;
  maxInstances: number;
  minWarm: number;
  description: string;
  package: string;
  codeSize: number;
  createdAt: string;
}

export interface DeployResponse {
  function: FunctionInfo;
  version: VersionInfo;
  url: string;
  /** Things the build fixed or suspects (e.g. a bootstrap that was not executable). */
  warnings?: string[];
}

export interface LogLine {
  time: string;
  requestId: string;
  version: number;
  stream: 'stdout' | 'stderr';
  message: string;
}

export interface InvokeError {
  errorType: string;
  errorMessage: string;
  trace?: string[];
  stackTrace?: string[];
}

export interface InvokeResponse {
  requestId: string;
  function: string;
  version: number;
  status: string;
  result?: unknown;
  error?: InvokeError;
  durationMs: number;
  cold: boolean;
  logs?: LogLine[];
}

export interface Route {
  id: string;
  method: string;
  path: string;
  function: string;
  qualifier: string | null;
  createdAt: string;
}
