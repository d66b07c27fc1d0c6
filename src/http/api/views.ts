import type { FunctionRecord, RouteRecord, VersionRecord } from '../../store/index.ts';
import type { LogRecord } from '../../store/index.ts';

/** The API's JSON shapes (docs/api.md), kept apart from storage records so either can change. */
export function functionView(fn: FunctionRecord) {
  return {
    name: fn.name,
    namespace: fn.namespace,
    latestVersion: fn.latestVersion,
    createdAt: new Date(fn.createdAt).toISOString(),
    updatedAt: new Date(fn.updatedAt).toISOString(),
  };
}

export function versionView(fnName: string, v: VersionRecord) {
  return {
    function: fnName,
    version: v.version,
    runtime: v.runtime,
    handler: v.handler,
    memory: v.memory,
    timeout: v.timeout,
    env: v.env,
    maxInstances: v.maxInstances,
    minWarm: v.minWarm,
    description: v.description,
    package: v.packageDigest,
    codeSize: v.codeSize,
    createdAt: new Date(v.createdAt).toISOString(),
  };
}

export function routeView(r: RouteRecord, fnName: string) {
  return { id: r.id, method: r.method, path: r.path, function: fnName, qualifier: r.qualifier, createdAt: new Date(r.createdAt).toISOString() };
}

export function logView(l: LogRecord | { time: number; stream: string; message: string }, requestId: string, version: number) {
  return { time: new Date(l.time).toISOString(), requestId, version, stream: l.stream, message: l.message };
}
