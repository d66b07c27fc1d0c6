/**
 * The HTTP trigger route table: API Gateway HTTP API route keys (`GET /hello/{name}`,
 * `ANY /{proxy+}`) mapped to values, with API Gateway's matching precedence.
 *
 * Precedence (AWS "Routing API requests"): a full match beats a match through a greedy
 * `{proxy+}`; among either kind the most specific path wins, compared segment by segment from
 * the left (literal > `{param}` > `{proxy+}`); at the same path a specific method beats `ANY`.
 *
 * Static paths are one Map lookup; everything else walks a segment trie whose depth-first
 * order (literal child, then param child, then greedy) *is* the precedence order, so the
 * first hit is the best one and each trie node is visited at most once per match.
 */

import { AviaryError, validationError, type FieldIssue } from '../../shared/errors.ts';

export const ROUTE_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'ANY'] as const;
export type RouteMethod = (typeof ROUTE_METHODS)[number];
export const MAX_ROUTE_PATH_LENGTH = 512;

export interface RouteMatch<T> {
  value: T;
  /** `"GET /hello/{name}"`: the route's own method (may be `ANY`) and path, as in the event. */
  routeKey: string;
  /** Percent-decoded values by parameter name (`{proxy+}` → `proxy`); undefined when none. */
  pathParameters: Record<string, string> | undefined;
}

interface Entry<T> {
  method: string;
  path: string;
  routeKey: string;
  value: T;
  label: string | undefined;
  /** Index in `path.split('/')` (1 for the first segment) and name of every `{param}` and `{greedy+}`. */
  params: Array<{ index: number; name: string }>;
  greedy: string | undefined;
}

interface TrieNode<T> {
  literals: Map<string, TrieNode<T>> | undefined;
  param: TrieNode<T> | undefined;
  /** Routes whose path ends at this node, by method. */
  end: Map<string, Entry<T>> | undefined;
  /** Routes `…/{x+}` whose greedy segment starts at this node's depth, by method. */
  greedy: Map<string, Entry<T>> | undefined;
}

type Segment = { kind: 'literal'; text: string } | { kind: 'param'; name: string } | { kind: 'greedy'; name: string };

// Literal segments: RFC 3986 pchar minus percent-escapes (literals are compared with the
// decoded request segment, so an escape in a route could never match) and minus `*`.
const LITERAL = /^[A-Za-z0-9\-._~!$&'()+,;=:@]+$/;
const PARAM = /^\{([A-Za-z0-9_]+)(\+?)\}$/;
const METHODS: ReadonlySet<string> = new Set(ROUTE_METHODS);
const ROOT: readonly string[] = [''];

function newNode<T>(): TrieNode<T> {
  return { literals: undefined, param: undefined, end: undefined, greedy: undefined };
}

/** Every problem with a route's method and path (empty when valid), for a 400 `ValidationError`. */
export function validateRoute(method: unknown, path: unknown): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (typeof method !== 'string' || !METHODS.has(method)) {
    issues.push({ path: 'method', message: `must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY, got ${show(method)}` });
  }
  if (typeof path !== 'string') {
    issues.push({ path: 'path', message: `must be a string, got ${show(path)}` });
    return issues;
  }
  if (path.charCodeAt(0) !== 47 /* / */) {
    issues.push({ path: 'path', message: `must start with "/", got ${show(path)}` });
    return issues;
  }
  if (path.length > MAX_ROUTE_PATH_LENGTH) {
    issues.push({ path: 'path', message: `must be at most ${MAX_ROUTE_PATH_LENGTH} characters, got ${path.length}` });
    return issues;
  }
  if (path === '/') return issues;
  if (path.includes('*')) {
    issues.push({ path: 'path', message: 'must not contain "*"; to match every sub-path end it with a greedy segment such as /{proxy+}' });
  }
  const parts = path.slice(1).split('/');
  const seen = new Set<string>();
  let emptyReported = false;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part === '') {
      if (!emptyReported) issues.push({ path: 'path', message: 'must not contain empty segments ("//" or a trailing "/")' });
      emptyReported = true;
      continue;
    }
    const m = PARAM.exec(part);
    if (m) {
      const name = m[1]!;
      if (seen.has(name)) issues.push({ path: 'path', message: `parameter "${name}" appears more than once` });
      seen.add(name);
      if (m[2] === '+' && i !== parts.length - 1) {
        issues.push({ path: 'path', message: `greedy segment "${part}" must be the last segment` });
      }
      continue;
    }
    if (part.includes('{') || part.includes('}')) {
      issues.push({ path: 'path', message: `segment "${part}" is not a valid parameter: write {name} or {name+} as a whole segment, names use letters, digits and _` });
    } else if (!part.includes('*') && !LITERAL.test(part)) {
      issues.push({ path: 'path', message: `segment "${part}" has characters not allowed in a route path; use letters, digits and - . _ ~ ! $ & ' ( ) + , ; = : @` });
    }
  }
  return issues;
}

/** Splits a valid route path into segments (`/` has none). */
function parseRoutePath(path: string): Segment[] {
  if (path === '/') return [];
  return path
    .slice(1)
    .split('/')
    .map((part): Segment => {
      const m = PARAM.exec(part);
      if (!m) return { kind: 'literal', text: part };
      return m[2] === '+' ? { kind: 'greedy', name: m[1]! } : { kind: 'param', name: m[1]! };
    });
}

export class RouteTable<T> {
  readonly #root: TrieNode<T> = newNode();
  /** Param-free paths → the `end` map of their trie node (same object), for O(1) hits. */
  readonly #static = new Map<string, Map<string, Entry<T>>>();
  #size = 0;
  #dynamic = 0;

  /** Number of routes. */
  get size(): number {
    return this.#size;
  }

  /**
   * Adds a route. Throws `ValidationError` for an invalid method or path, and `RouteConflict`
   * when the method already has a route of the same shape (`/a/{x}` and `/a/{y}` are one shape).
   * `label` names the route's owner in a later conflict message: `"function hello"` →
   * "route GET /a/{x} already exists (function hello); delete it first with …".
   */
  add(method: string, path: string, value: T, label?: string): void {
    const issues = validateRoute(method, path);
    if (issues.length > 0) throw validationError(issues, 'route');
    const segments = parseRoutePath(path);
    let node = this.#root;
    const params: Entry<T>['params'] = [];
    let greedy: string | undefined;
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      if (seg.kind === 'literal') {
        node.literals ??= new Map();
        let child = node.literals.get(seg.text);
        if (!child) node.literals.set(seg.text, (child = newNode()));
        node = child;
      } else if (seg.kind === 'param') {
        params.push({ index: i + 1, name: seg.name });
        node = node.param ??= newNode();
      } else {
        params.push({ index: i + 1, name: seg.name });
        greedy = seg.name;
      }
    }
    const slot = greedy === undefined ? (node.end ??= new Map()) : (node.greedy ??= new Map());
    const existing = slot.get(method);
    if (existing) {
      const owner = existing.label === undefined ? '' : ` (${existing.label})`;
      throw new AviaryError(
        'RouteConflict',
        `route ${existing.routeKey} already exists${owner}; delete it first with \`aviary route delete ${existing.method} ${existing.path}\``,
      );
    }
    slot.set(method, { method, path, routeKey: `${method} ${path}`, value, label, params, greedy });
    this.#size++;
    if (params.length === 0) this.#static.set(path, slot);
    else this.#dynamic++;
  }

  /** Removes the route with this method and path shape; false when there is none. */
  remove(method: string, path: string): boolean {
    if (validateRoute(method, path).length > 0) return false;
    const segments = parseRoutePath(path);
    const trail: TrieNode<T>[] = [this.#root];
    let node: TrieNode<T> | undefined = this.#root;
    let greedy = false;
    for (const seg of segments) {
      if (seg.kind === 'greedy') {
        greedy = true;
        break;
      }
      node = seg.kind === 'literal' ? node.literals?.get(seg.text) : node.param;
      if (!node) return false;
      trail.push(node);
    }
    const slot = greedy ? node.greedy : node.end;
    const entry = slot?.get(method);
    if (!slot || !entry) return false;
    slot.delete(method);
    this.#size--;
    if (entry.params.length > 0) this.#dynamic--;
    if (slot.size === 0) {
      if (greedy) node.greedy = undefined;
      else node.end = undefined;
      if (entry.params.length === 0) this.#static.delete(path);
    }
    this.#prune(trail, segments);
    return true;
  }

  /**
   * The best route for a request, or undefined (→ 404). `rawPath` is the path as received,
   * still percent-encoded; a `?query` suffix is ignored. Trailing slashes are significant,
   * as in API Gateway: `/a/` does not match `/a`.
   */
  match(method: string, rawPath: string): RouteMatch<T> | undefined {
    const q = rawPath.indexOf('?');
    const path = q === -1 ? rawPath : rawPath.slice(0, q);
    if (path.charCodeAt(0) !== 47 /* / */) return undefined;

    const fixed = this.#static.get(path);
    if (fixed) {
      const entry = fixed.get(method) ?? fixed.get('ANY');
      if (entry) return { value: entry.value, routeKey: entry.routeKey, pathParameters: undefined };
    }
    const encoded = path.includes('%');
    // Without param routes or escapes the static lookup above was the whole answer.
    if (this.#dynamic === 0 && !encoded) return undefined;

    // Splitting the whole path (element 0 is the empty string before the leading "/") is
    // several times faster in V8 than splitting a slice of it.
    const raw = path === '/' ? ROOT : path.split('/');
    const segs = encoded ? raw.map(decodeSegment) : raw;
    const full = findFull(this.#root, segs, 1, method);
    if (full) return toMatch(full, segs, raw, -1);
    if (this.#dynamic === 0) return undefined;
    const hit = findGreedy(this.#root, segs, 1, method);
    return hit ? toMatch(hit.entry, segs, raw, hit.at) : undefined;
  }

  /** Drops trie nodes left empty by a removal, deepest first. */
  #prune(trail: TrieNode<T>[], segments: Segment[]): void {
    for (let depth = trail.length - 1; depth > 0; depth--) {
      const node = trail[depth]!;
      if (node.end || node.greedy || node.param || (node.literals && node.literals.size > 0)) return;
      const parent = trail[depth - 1]!;
      const seg = segments[depth - 1]!;
      if (seg.kind === 'literal') parent.literals?.delete(seg.text);
      else parent.param = undefined;
    }
  }
}

function findFull<T>(node: TrieNode<T>, segs: readonly string[], i: number, method: string): Entry<T> | undefined {
  if (i === segs.length) {
    const end = node.end;
    return end === undefined ? undefined : (end.get(method) ?? end.get('ANY'));
  }
  const seg = segs[i]!;
  const child = node.literals?.get(seg);
  if (child) {
    const hit = findFull(child, segs, i + 1, method);
    if (hit) return hit;
  }
  if (node.param && seg !== '') return findFull(node.param, segs, i + 1, method);
  return undefined;
}

function findGreedy<T>(node: TrieNode<T>, segs: readonly string[], i: number, method: string): { entry: Entry<T>; at: number } | undefined {
  if (i >= segs.length) return undefined;
  const seg = segs[i]!;
  const child = node.literals?.get(seg);
  if (child) {
    const hit = findGreedy(child, segs, i + 1, method);
    if (hit) return hit;
  }
  if (node.param && seg !== '') {
    const hit = findGreedy(node.param, segs, i + 1, method);
    if (hit) return hit;
  }
  // A greedy variable needs a non-empty rest: `/{proxy+}` does not match `/`, `/a/{proxy+}` not `/a/`.
  if (node.greedy && !(seg === '' && i === segs.length - 1)) {
    const entry = node.greedy.get(method) ?? node.greedy.get('ANY');
    if (entry) return { entry, at: i };
  }
  return undefined;
}

function toMatch<T>(entry: Entry<T>, segs: readonly string[], raw: readonly string[], greedyAt: number): RouteMatch<T> {
  if (entry.params.length === 0) return { value: entry.value, routeKey: entry.routeKey, pathParameters: undefined };
  const pathParameters: Record<string, string> = {};
  for (const { index, name } of entry.params) {
    const v = index === greedyAt ? decodeSegment(raw.slice(index).join('/')) : segs[index]!;
    if (name === '__proto__') Object.defineProperty(pathParameters, name, { value: v, enumerable: true, writable: true, configurable: true });
    else pathParameters[name] = v;
  }
  return { value: entry.value, routeKey: entry.routeKey, pathParameters };
}

/** Percent-decodes; a malformed escape leaves the text as received rather than failing the request. */
function decodeSegment(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
