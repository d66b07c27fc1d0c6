import type { FunctionRecord, VersionRecord } from '../store/index.ts';
import type { FunctionSpec } from '../sandbox/index.ts';

export const REGION = 'local';
const ACCOUNT = '000000000000';

export function functionArn(name: string, qualifier?: string): string {
  return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}${qualifier ? `:${qualifier}` : ''}`;
}

const EXECUTION_ENV: Record<VersionRecord['runtime'], string> = {
  node: 'AWS_Lambda_nodejs24.x',
  python: 'AWS_Lambda_python3',
  provided: 'AWS_Lambda_provided',
};

/**
 * What an instance of this version is started with: the user's env plus the variables Lambda
 * reserves (so code and tools written for Lambda find what they expect).
 */
export function functionSpec(fn: FunctionRecord, v: VersionRecord, codeDir: string, sandboxed: boolean): FunctionSpec {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  const logGroupName = `/aviary/${fn.namespace}/${fn.name}`;
  const logStreamName = `${day}/[${v.version}]${crypto.randomUUID().replaceAll('-', '')}`;
  const taskRoot = sandboxed ? '/var/task' : codeDir;
  return {
    functionName: fn.name,
    functionVersion: String(v.version),
    namespace: fn.namespace,
    runtime: v.runtime,
    handler: v.handler,
    memoryMB: v.memory,
    timeoutMs: v.timeout * 1000,
    codeDir,
    logGroupName,
    logStreamName,
    invokedFunctionArn: functionArn(fn.name),
    env: {
      TZ: ':UTC',
      ...v.env,
      _HANDLER: v.handler ?? '',
      AWS_EXECUTION_ENV: EXECUTION_ENV[v.runtime],
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: REGION,
      AWS_LAMBDA_FUNCTION_NAME: fn.name,
      AWS_LAMBDA_FUNCTION_VERSION: String(v.version),
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(v.memory),
      AWS_LAMBDA_LOG_GROUP_NAME: logGroupName,
      AWS_LAMBDA_LOG_STREAM_NAME: logStreamName,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      LAMBDA_TASK_ROOT: taskRoot,
    },
  };
}
