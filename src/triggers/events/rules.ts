import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { FUNCTION_NAME, parseInput } from '../../registry/index.ts';
import { systemClock, type Clock } from '../../shared/clock.ts';
import { AviaryError, isAviaryError, validationError, type FieldIssue } from '../../shared/errors.ts';
import { compilePattern, type EventMatcher } from './pattern.ts';
import { ruleConflict, type RuleRecord, type RuleStore } from './store.ts';

/** Rule names: EventBridge's characters (letters, digits, `.`, `-`, `_`), starting with a letter or digit. */
export const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** `name` or `name:qualifier`; the function part follows the function-name rule. */
const FUNCTION_REF = /^[A-Za-z][A-Za-z0-9_-]{0,63}(:[A-Za-z0-9_$-]{1,128})?$/;
const DESCRIPTION_CHARS = 512;

const patternField = z.union([z.record(z.string(), z.unknown()), z.string()], {
  error: 'is required: an EventBridge event pattern, as a JSON object (or its JSON text), e.g. {"type":["order.created"]}',
});

/** The body of POST /v1/rules. The pattern is checked further by `compilePattern`. */
export const ruleSchema = z.strictObject({
  name: z.string({ error: 'must be a string' }).regex(RULE_NAME, 'must be 1-64 letters, digits, ., - or _, starting with a letter or digit'),
  pattern: patternField,
  function: z.string({ error: 'must be a string: the function name, or name:qualifier' }).regex(FUNCTION_REF, 'must be a function name, or name:qualifier (notify, notify:3)'),
  enabled: z.boolean({ error: 'must be true or false' }).default(true),
  description: z.string({ error: 'must be a string' }).max(DESCRIPTION_CHARS, `must be ${DESCRIPTION_CHARS} characters at most`).default(''),
});
export type RuleInput = z.infer<typeof ruleSchema>;

/** The body of POST /v1/rules/test. */
export const ruleTestSchema = z.strictObject({
  pattern: patternField,
  event: z.unknown().refine((v) => v !== undefined, 'is required: the event (any JSON value) to test the pattern against'),
});

/** What rules need of the registry: resolving a function reference, naming it, hearing of deletions. */
export interface FunctionDirectory {
  /** Throws FunctionNotFound or VersionNotFound. */
  resolve(namespace: string, ref: string): { fn: { id: string; name: string } };
  functionById(id: string): { record: { name: string } } | undefined;
  onChange(listener: (e: { type: string; fn: { id: string } }) => void): void;
}

export interface RuleEntry {
  record: RuleRecord;
  /** The pattern as parsed JSON, for views. */
  pattern: Record<string, unknown>;
  matcher: EventMatcher;
}

/**
 * Event rules as data: validation, persistence and an in-memory view, each change written to
 * the store first and applied to memory once committed. Patterns are compiled once, when a rule
 * is created or loaded; `match` walks the enabled rules of one namespace, kept in an array
 * rebuilt on every change, so publishing never touches the store.
 */
export class Rules {
  readonly #store: RuleStore;
  readonly #functions: FunctionDirectory;
  readonly #clock: Clock;
  readonly #byId = new Map<string, RuleEntry>();
  /** Enabled rules by namespace, sorted by name; rebuilt on change. */
  #active = new Map<string, RuleEntry[]>();

  private constructor(store: RuleStore, functions: FunctionDirectory, clock: Clock) {
    this.#store = store;
    this.#functions = functions;
    this.#clock = clock;
  }

  static async load(options: { store: RuleStore; functions: FunctionDirectory; clock?: Clock; warn?: (m: string) => void }): Promise<Rules> {
    const rules = new Rules(options.store, options.functions, options.clock ?? systemClock);
    for (const record of await options.store.listRules()) {
      try {
        const pattern = JSON.parse(record.pattern) as Record<string, unknown>;
        rules.#byId.set(record.id, { record, pattern, matcher: compilePattern(pattern) });
      } catch (err) {
        // stored patterns were valid when created; only a stricter compiler could refuse one
        options.warn?.(`event rule ${record.namespace}/${record.name} is not loaded: ${(err as Error).message}`);
      }
    }
    rules.#rebuild();
    // the database deleted them with the function (cascade); forget them here too
    options.functions.onChange((e) => {
      if (e.type === 'deleted') rules.#removeFunction(e.fn.id);
    });
    return rules;
  }

  list(namespace: string): RuleEntry[] {
    return [...this.#byId.values()].filter((e) => e.record.namespace === namespace)
      .sort((a, b) => a.record.name.localeCompare(b.record.name));
  }

  get(namespace: string, name: string): RuleEntry {
    const entry = this.#find(namespace, name);
    if (!entry) throw new AviaryError('RuleNotFound', `no rule named ${name}; list rules with \`aviary rule list\``);
    return entry;
  }

  /** Validates everything first; an invalid body or pattern, unknown function or taken name changes nothing. */
  async create(namespace: string, body: unknown): Promise<RuleEntry> {
    const input = parseInput(ruleSchema, body, 'rule');
    const issues: FieldIssue[] = [];
    let matcher: EventMatcher | undefined;
    let pattern: Record<string, unknown> | undefined;
    try {
      pattern = parsePatternField(input.pattern);
      matcher = compilePattern(pattern, 'pattern');
    } catch (err) {
      issues.push(...issuesOf(err));
    }
    let fn: { id: string; name: string } | undefined;
    try {
      fn = this.#functions.resolve(namespace, input.function).fn;
    } catch (err) {
      if (!isAviaryError(err) || (err.code !== 'FunctionNotFound' && err.code !== 'VersionNotFound')) throw err;
      issues.push({ path: 'function', message: err.message });
    }
    if (issues.length > 0 || !matcher || !pattern || !fn) throw validationError(issues, 'rule');
    if (this.#find(namespace, input.name)) throw ruleConflict(input.name);

    const colon = input.function.indexOf(':');
    const qualifier = colon === -1 ? null : input.function.slice(colon + 1);
    const now = this.#clock.now();
    const record: RuleRecord = {
      id: `rl_${randomBytes(8).toString('hex')}`,
      namespace,
      name: input.name,
      pattern: JSON.stringify(pattern),
      functionId: fn.id,
      qualifier: qualifier === '$LATEST' ? null : qualifier,
      enabled: input.enabled,
      description: input.description,
      createdAt: now,
      updatedAt: now,
    };
    await this.#store.createRule(record);
    const entry = { record, pattern, matcher };
    this.#byId.set(record.id, entry);
    this.#rebuild();
    return entry;
  }

  /** Enables or disables a rule; setting the state it already has is a no-op. */
  async setEnabled(namespace: string, name: string, enabled: boolean): Promise<RuleEntry> {
    const entry = this.get(namespace, name);
    if (entry.record.enabled === enabled) return entry;
    const now = this.#clock.now();
    await this.#store.setRuleEnabled(entry.record.id, enabled, now);
    entry.record = { ...entry.record, enabled, updatedAt: now };
    this.#rebuild();
    return entry;
  }

  async delete(namespace: string, name: string): Promise<RuleEntry> {
    const entry = this.get(namespace, name);
    await this.#store.deleteRule(entry.record.id);
    this.#byId.delete(entry.record.id);
    this.#rebuild();
    return entry;
  }

  /** The enabled rules of `namespace` whose pattern matches `event`, by name. */
  match(namespace: string, event: unknown): RuleEntry[] {
    const active = this.#active.get(namespace);
    if (!active) return [];
    const matched: RuleEntry[] = [];
    for (const entry of active) if (entry.matcher(event)) matched.push(entry);
    return matched;
  }

  /** The function a rule invokes, as `name` or `name:qualifier`; undefined once the function is gone. */
  functionRef(record: RuleRecord): string | undefined {
    const name = this.#functions.functionById(record.functionId)?.record.name;
    if (name === undefined) return undefined;
    return record.qualifier === null ? name : `${name}:${record.qualifier}`;
  }

  /** POST /v1/rules/test: does `pattern` match `event`? Nothing is stored. */
  test(body: unknown): boolean {
    const input = parseInput(ruleTestSchema, body, 'rule test');
    let matcher: EventMatcher;
    try {
      matcher = compilePattern(parsePatternField(input.pattern), 'pattern');
    } catch (err) {
      throw validationError(issuesOf(err), 'rule test');
    }
    return matcher(input.event);
  }

  #find(namespace: string, name: string): RuleEntry | undefined {
    for (const e of this.#byId.values()) if (e.record.namespace === namespace && e.record.name === name) return e;
    return undefined;
  }

  #removeFunction(functionId: string): void {
    let changed = false;
    for (const [id, e] of this.#byId) {
      if (e.record.functionId === functionId) {
        this.#byId.delete(id);
        changed = true;
      }
    }
    if (changed) this.#rebuild();
  }

  #rebuild(): void {
    const active = new Map<string, RuleEntry[]>();
    for (const e of this.#byId.values()) {
      if (!e.record.enabled) continue;
      let list = active.get(e.record.namespace);
      if (!list) active.set(e.record.namespace, (list = []));
      list.push(e);
    }
    for (const list of active.values()) list.sort((a, b) => a.record.name.localeCompare(b.record.name));
    this.#active = active;
  }
}

/** The pattern as given: a JSON object, or its JSON text (as EventBridge's API takes it). */
function parsePatternField(value: Record<string, unknown> | string): Record<string, unknown> {
  if (typeof value !== 'string') return value;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw validationError([{ path: 'pattern', message: `is not valid JSON (${(err as Error).message})` }], 'event pattern');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw validationError([{ path: 'pattern', message: 'must be a JSON object of fields, e.g. {"type":["order.created"]}' }], 'event pattern');
  }
  return parsed as Record<string, unknown>;
}

function issuesOf(err: unknown): FieldIssue[] {
  if (isAviaryError(err) && err.code === 'ValidationError' && err.issues) return err.issues;
  throw err;
}
