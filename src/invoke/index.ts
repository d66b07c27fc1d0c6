export { Invoker, type CodeLocator, type InvokeInput, type InvokeResult, type InvokerOptions } from './invoker.ts';
export { functionArn, REGION } from './spec.ts';
