export { Registry, checkName, checkRef, type FunctionEntry, type PackagePreparer, type RegistryEvent, type ResolvedVersion } from './registry.ts';
export { FUNCTION_NAME, LIMITS, RESERVED_PREFIXES, isReservedPath, parseInput, toIssues } from './schemas.ts';
