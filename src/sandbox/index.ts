export type { ExitInfo, FunctionError, FunctionSpec, Instance, InvokeOutcome, InvokeRequest, LogLine, Sandbox } from './types.ts';
export { InitFailure } from './types.ts';
export { ProcessSandbox, type SandboxOptions } from './sandbox.ts';
export { TASK_ROOT } from './isolation.ts';
