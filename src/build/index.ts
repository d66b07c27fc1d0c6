/** build: turns an uploaded zip into a deployable package directory. */
export { buildPackage, RUNTIMES } from './build.ts';
export type { BuildInput, BuildResult, Runtime } from './build.ts';
export { DEFAULT_BUILD_LIMITS, formatBytes } from './limits.ts';
export type { BuildLimits } from './limits.ts';
