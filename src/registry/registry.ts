import { randomBytes, randomUUID } from 'node:crypto';
import { AviaryError } from '../shared/errors.ts';
import { systemClock, type Clock } from '../shared/clock.ts';
import type { FunctionRecord, RouteRecord, Runtime, Store, VersionRecord } from '../store/index.ts';
import { FUNCTION_NAME, RESERVED_PREFIXES, deploySchema, isReservedPath, parseInput, routeSchema } from './schemas.ts';
import { RouteTable, validateRoute } from '../http/triggers/routes.ts';

/** Turns an uploaded package into a built directory; implemented by the package cache. */
export interface PackagePreparer {
  prepare(digest: string, runtime: Runtime, handler: string | null): Promise<{ buildId: string; codeSize: number; warnings: string[] }>;
}

export interface FunctionEntry {
  record: FunctionRecord;
  /** Ordered by version number. */
  versions: Map<number, VersionRecord>;
}

export interface ResolvedVersion {
  fn: FunctionRecord;
  version: VersionRecord;
}

export type RegistryEvent =
  | { type: 'deployed'; fn: FunctionRecord; version: VersionRecord }
  | { type: 'deleted'; fn: FunctionRecord };

/**
 * The domain: functions, versions and routes, their rules, and an in-memory view of them
 * that the invocation hot path reads without touching the store. Every change is written to
 * the store first and applied to memory only once it is committed.
 */
export class Registry {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #functions = new Map<string, FunctionEntry>(); // `${namespace}/${name}`
  readonly #byId = new Map<string, FunctionEntry>();
  readonly #routes = new Map<string, RouteRecord>();
  readonly routeTable = new RouteTable<RouteRecord>();
  readonly #listeners: ((e: RegistryEvent) => void)[] = [];

  private constructor(store: Store, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  static async load(store: Store, clock: Clock = systemClock): Promise<Registry> {
    const r = new Registry(store, clock);
    for (const fn of await store.listFunctions()) {
      const entry = { record: fn, versions: new Map<number, VersionRecord>() };
      r.#functions.set(key(fn.namespace, fn.name), entry);
      r.#byId.set(fn.id, entry);
    }
    for (const v of await store.listVersions()) r.#byId.get(v.functionId)?.versions.set(v.version, v);
    for (const route of await store.listRoutes()) r.#addRouteToMemory(route);
    return r;
  }

  onChange(listener: (e: RegistryEvent) => void): void {
    this.#listeners.push(listener);
  }

  listFunctions(namespace: string): FunctionEntry[] {
    return [...this.#functions.values()].filter((e) => e.record.namespace === namespace)
      .sort((a, b) => a.record.name.localeCompare(b.record.name));
  }

  allFunctions(): FunctionEntry[] {
    return [...this.#functions.values()];
  }

  getFunction(namespace: string, name: string): FunctionEntry {
    const entry = this.#functions.get(key(namespace, name));
    if (!entry) throw notFound(name);
    return entry;
  }

  functionById(id: string): FunctionEntry | undefined {
    return this.#byId.get(id);
  }

  /**
   * `name`, `name:3` or `name:$LATEST` → the version to run. Synchronous and allocation-light:
   * it is on every invocation's path.
   */
  resolve(namespace: string, ref: string, qualifier?: string | null): ResolvedVersion {
    let name = ref;
    let q = qualifier ?? undefined;
    const colon = ref.indexOf(':');
    if (colon !== -1) {
      name = ref.slice(0, colon);
      q = ref.slice(colon + 1);
    }
    const entry = this.#functions.get(key(namespace, name));
    if (!entry) throw notFound(name);
    if (q === undefined || q === '' || q === '$LATEST') return { fn: entry.record, version: entry.versions.get(entry.record.latestVersion)! };
    const n = /^[1-9][0-9]*$/.test(q) ? Number(q) : NaN;
    const version = entry.versions.get(n);
    if (!version) {
      throw new AviaryError('VersionNotFound', `function ${name} has no version ${JSON.stringify(q)}; it has versions 1 to ${entry.record.latestVersion} (see \`aviary versions ${name}\`)`);
    }
    return { fn: entry.record, version };
  }

  /** Validates, builds and records the next version. A failure at any step changes nothing. */
  async deploy(namespace: string, name: string, body: unknown, packages: PackagePreparer): Promise<ResolvedVersion & { warnings: string[] }> {
    checkName(name);
    const input = parseInput(deploySchema, body, 'function config');
    const built = await packages.prepare(input.package, input.runtime, input.handler ?? null);
    const existing = this.#functions.get(key(namespace, name));
    const { function: fn, version } = await this.#store.createVersion(
      { id: existing?.record.id ?? `fn_${randomUUID().replaceAll('-', '')}`, namespace, name },
      {
        runtime: input.runtime,
        handler: input.handler ?? null,
        memory: input.memory,
        timeout: input.timeout,
        env: input.env,
        maxInstances: input.maxInstances,
        minWarm: input.minWarm,
        description: input.description,
        packageDigest: input.package,
        buildId: built.buildId,
        codeSize: built.codeSize,
      },
      this.#clock.now(),
    );
    let entry = this.#functions.get(key(namespace, name));
    if (!entry) {
      entry = { record: fn, versions: new Map() };
      this.#functions.set(key(namespace, name), entry);
      this.#byId.set(fn.id, entry);
    }
    entry.record = fn;
    entry.versions.set(version.version, version);
    this.#emit({ type: 'deployed', fn, version });
    return { fn, version, warnings: built.warnings };
  }

  async deleteFunction(namespace: string, name: string): Promise<{ fn: FunctionRecord; routes: RouteRecord[] }> {
    const entry = this.getFunction(namespace, name);
    await this.#store.deleteFunction(entry.record.id);
    const routes = [...this.#routes.values()].filter((r) => r.functionId === entry.record.id);
    for (const r of routes) this.#removeRouteFromMemory(r);
    this.#functions.delete(key(namespace, name));
    this.#byId.delete(entry.record.id);
    this.#emit({ type: 'deleted', fn: entry.record });
    return { fn: entry.record, routes };
  }

  listRoutes(namespace: string): RouteRecord[] {
    return [...this.#routes.values()].filter((r) => r.namespace === namespace)
      .sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
  }

  async addRoute(namespace: string, body: unknown): Promise<RouteRecord> {
    const input = parseInput(routeSchema, body, 'route');
    const issues = validateRoute(input.method, input.path);
    if (isReservedPath(input.path)) issues.push({ path: 'path', message: `${RESERVED_PREFIXES.join(', ')} are served by the platform; choose another path` });
    if (issues.length > 0) throw new AviaryError('ValidationError', `invalid route: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues });
    const entry = this.getFunction(namespace, input.function);
    if (input.qualifier && input.qualifier !== '$LATEST') this.resolve(namespace, input.function, input.qualifier);
    const route: RouteRecord = {
      id: `rt_${randomBytes(8).toString('hex')}`,
      namespace,
      method: input.method,
      path: input.path,
      functionId: entry.record.id,
      qualifier: input.qualifier && input.qualifier !== '$LATEST' ? input.qualifier : null,
      createdAt: this.#clock.now(),
    };
    // check the conflict in memory first (names the existing route), then let the store's unique index decide
    this.routeTable.add(route.method, route.path, route, this.#describeRoute(route));
    try {
      await this.#store.createRoute(route);
    } catch (err) {
      this.routeTable.remove(route.method, route.path);
      throw err;
    }
    this.#routes.set(route.id, route);
    return route;
  }

  async deleteRoute(namespace: string, selector: { id: string } | { method: string; path: string }): Promise<RouteRecord> {
    const route = 'id' in selector
      ? this.#routes.get(selector.id)
      : [...this.#routes.values()].find((r) => r.method === selector.method.toUpperCase() && r.path === selector.path);
    if (!route || route.namespace !== namespace) {
      const what = 'id' in selector ? selector.id : `${selector.method.toUpperCase()} ${selector.path}`;
      throw new AviaryError('RouteNotFound', `no route ${what}; list routes with \`aviary route list\``);
    }
    await this.#store.deleteRoute(route.id);
    this.#removeRouteFromMemory(route);
    return route;
  }

  functionName(functionId: string): string {
    return this.#byId.get(functionId)?.record.name ?? functionId;
  }

  #describeRoute(route: RouteRecord): string {
    return `function ${this.functionName(route.functionId)}`;
  }

  #addRouteToMemory(route: RouteRecord): void {
    this.routeTable.add(route.method, route.path, route, this.#describeRoute(route));
    this.#routes.set(route.id, route);
  }

  #removeRouteFromMemory(route: RouteRecord): void {
    this.routeTable.remove(route.method, route.path);
    this.#routes.delete(route.id);
  }

  #emit(e: RegistryEvent): void {
    for (const l of this.#listeners) l(e);
  }
}

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function notFound(name: string): AviaryError {
  return new AviaryError('FunctionNotFound', `function ${name} does not exist; deploy it with \`aviary deploy ${name} PATH --runtime node\` or list functions with \`aviary list\``);
}

/** Checks the name part of `name` or `name:qualifier` (the qualifier is checked when resolved). */
export function checkRef(ref: string): void {
  const colon = ref.indexOf(':');
  checkName(colon === -1 ? ref : ref.slice(0, colon));
}

export function checkName(name: string): void {
  if (!FUNCTION_NAME.test(name)) {
    throw new AviaryError('ValidationError', `invalid function name ${JSON.stringify(name)}: use 1-64 letters, digits, - or _, starting with a letter`, {
      issues: [{ path: 'name', message: 'must be 1-64 letters, digits, - or _, starting with a letter' }],
    });
  }
}
