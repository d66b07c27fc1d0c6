/**
 * EventBridge event patterns: compiled once into a matcher function, then matched against many
 * events without allocating on the common path. The semantics follow EventBridge's content
 * filtering (docs/events.md lists the subset and where we differ):
 *
 * - every field named in the pattern must match (AND); `$or` takes alternatives of whole objects;
 * - a field's value is an array of alternatives (OR): exact strings, numbers, booleans, null, or
 *   one-key matcher objects (`prefix`, `suffix`, `equals-ignore-case`, `wildcard`, `numeric`,
 *   `exists`, `anything-but`);
 * - when the event's value is an array, the field matches if any element matches; objects inside
 *   arrays match a nested pattern element by element (fields of two elements never combine);
 * - matchers test leaf values only: an object in the event is not a value (so `exists` is false
 *   for it), and a missing field has no values (only `{"exists": false}` matches it).
 */
import { validationError, type FieldIssue } from '../../shared/errors.ts';
import { compileMatcher, describe, isObject, PATTERN_LIMITS, type Value, type ValueTest } from './pattern-matchers.ts';

export { PATTERN_LIMITS };

/** Issues reported at most, so a huge wrong pattern gives a readable error. */
const MAX_ISSUES = 20;

export type EventMatcher = (event: unknown) => boolean;

/** Tests one field's value (undefined when the field is absent). */
type FieldTest = (v: unknown) => boolean;
/** Tests one object of the event (undefined when absent or not an object). */
type ObjectTest = (o: Record<string, unknown> | undefined) => boolean;

/**
 * Validates `pattern` (a parsed JSON value) and compiles it. Throws a ValidationError listing
 * every problem, each with its path inside the pattern (`data.total[0]`), prefixed by `at`.
 */
export function compilePattern(pattern: unknown, at = ''): EventMatcher {
  const c = new Compiler(at);
  const text = JSON.stringify(pattern) ?? '';
  const bytes = Buffer.byteLength(text);
  if (bytes > PATTERN_LIMITS.maxPatternBytes) {
    c.issue([], `the pattern is ${bytes} bytes of JSON; the limit (maxPatternBytes) is ${PATTERN_LIMITS.maxPatternBytes}`);
    c.throwIfAny();
  }
  if (!isObject(pattern)) {
    c.issue([], `must be a JSON object of fields, e.g. {"type":["order.created"]}, got ${describe(pattern)}`);
    c.throwIfAny();
  }
  if (Object.keys(pattern as object).length === 0) {
    c.issue([], 'has no fields; to match every event use {"type":[{"prefix":""}]}');
    c.throwIfAny();
  }
  const test = c.object(pattern as Record<string, unknown>, [], 1);
  c.throwIfAny();
  return (event) => test(isObject(event) ? event : undefined);
}

type Path = (string | number)[];

class Compiler {
  readonly #at: string;
  readonly issues: FieldIssue[] = [];

  constructor(at: string) {
    this.#at = at;
  }

  issue(path: Path, message: string): void {
    if (this.issues.length < MAX_ISSUES) this.issues.push({ path: formatPath(this.#at, path), message });
  }

  throwIfAny(): void {
    if (this.issues.length > 0) throw validationError(this.issues, 'event pattern');
  }

  object(node: Record<string, unknown>, path: Path, depth: number): ObjectTest {
    if (depth > PATTERN_LIMITS.maxPatternDepth) {
      this.issue(path, `nests deeper than ${PATTERN_LIMITS.maxPatternDepth} levels (maxPatternDepth)`);
      return () => false;
    }
    const fields: [string, FieldTest][] = [];
    const ors: ObjectTest[][] = [];
    for (const [key, value] of Object.entries(node)) {
      const p = [...path, key];
      if (key === '$or') {
        ors.push(this.or(value, p, depth));
      } else if (Array.isArray(value)) {
        fields.push([key, this.field(value, p)]);
      } else if (isObject(value)) {
        if (Object.keys(value).length === 0) {
          this.issue(p, 'is an empty object; give at least one field to match inside it');
          continue;
        }
        fields.push([key, nested(this.object(value, p, depth + 1))]);
      } else {
        this.issue(p, `must be an array of alternatives (e.g. [${JSON.stringify(value) ?? '"x"'}]) or an object of fields, got ${describe(value)}`);
      }
    }
    const keys = fields.map(([k]) => k);
    const tests = fields.map(([, t]) => t);
    // keys an object inherits (`constructor`, `__proto__`…) are read only when the event has them itself
    const inherited = keys.map((k) => k in Object.prototype);
    const n = keys.length;
    return (o) => {
      for (let i = 0; i < n; i++) {
        const key = keys[i]!;
        const v = o === undefined || (inherited[i] && !Object.hasOwn(o, key)) ? undefined : o[key];
        if (!tests[i]!(v)) return false;
      }
      for (let i = 0; i < ors.length; i++) {
        const alternatives = ors[i]!;
        let any = false;
        for (let j = 0; j < alternatives.length; j++) {
          if (alternatives[j]!(o)) {
            any = true;
            break;
          }
        }
        if (!any) return false;
      }
      return true;
    };
  }

  or(value: unknown, path: Path, depth: number): ObjectTest[] {
    if (!Array.isArray(value) || value.length < 2 || !value.every((v) => isObject(v) && Object.keys(v).length > 0)) {
      this.issue(path, 'needs an array of at least two non-empty pattern objects, e.g. [{"type":["a"]},{"source":["b"]}]');
      return [];
    }
    if (value.length > PATTERN_LIMITS.maxAlternatives) {
      this.issue(path, `has ${value.length} alternatives; the limit (maxAlternatives) is ${PATTERN_LIMITS.maxAlternatives}`);
      return [];
    }
    return value.map((v, i) => this.object(v as Record<string, unknown>, [...path, i], depth + 1));
  }

  /** One field's array of alternatives. */
  field(alternatives: unknown[], path: Path): FieldTest {
    if (alternatives.length === 0) {
      this.issue(path, 'needs at least one alternative, e.g. ["x"]');
      return () => false;
    }
    if (alternatives.length > PATTERN_LIMITS.maxAlternatives) {
      this.issue(path, `has ${alternatives.length} alternatives; the limit (maxAlternatives) is ${PATTERN_LIMITS.maxAlternatives}`);
      return () => false;
    }
    const strings = new Set<string>();
    const numbers = new Set<number>();
    let matchTrue = false;
    let matchFalse = false;
    let matchNull = false;
    let existsTrue = false;
    let existsFalse = false;
    const tests: ValueTest[] = [];
    alternatives.forEach((alt, i) => {
      const p = [...path, i];
      if (typeof alt === 'string') strings.add(alt);
      else if (typeof alt === 'number') numbers.add(alt);
      else if (alt === true) matchTrue = true;
      else if (alt === false) matchFalse = true;
      else if (alt === null) matchNull = true;
      else if (Array.isArray(alt)) this.issue(p, 'arrays cannot be nested: list the alternatives in one array');
      else {
        const m = compileMatcher(alt as Record<string, unknown>, (message) => this.issue(p, message));
        if (m === 'exists:true') existsTrue = true;
        else if (m === 'exists:false') existsFalse = true;
        else if (m) tests.push(m);
      }
    });
    const hasStrings = strings.size > 0;
    const hasNumbers = numbers.size > 0;
    const one = (v: Value): boolean => {
      switch (typeof v) {
        case 'string':
          if (hasStrings && strings.has(v)) return true;
          break;
        case 'number':
          if (hasNumbers && numbers.has(v)) return true;
          break;
        case 'boolean':
          if (v ? matchTrue : matchFalse) return true;
          break;
        default:
          if (matchNull) return true;
      }
      for (const t of tests) if (t(v)) return true;
      return false;
    };
    return (v) => {
      if (v === undefined) return existsFalse;
      if (v === null || typeof v !== 'object') return existsTrue || one(v as Value);
      // an array (its leaves, at any depth) or an object (no leaves)
      const values: Value[] = [];
      collectLeaves(v, values);
      if (values.length === 0) return existsFalse;
      if (existsTrue) return true;
      for (const x of values) if (one(x)) return true;
      return false;
    };
  }
}

/** A nested object pattern as a field test: objects directly, arrays element by element. */
function nested(test: ObjectTest): FieldTest {
  return (v) => {
    if (isObject(v)) return test(v);
    if (Array.isArray(v)) {
      const objects: Record<string, unknown>[] = [];
      collectObjects(v, objects);
      if (objects.length === 0) return test(undefined);
      for (const o of objects) if (test(o)) return true;
      return false;
    }
    return test(undefined);
  };
}

function collectLeaves(v: unknown, out: Value[]): void {
  if (Array.isArray(v)) {
    for (const x of v) {
      if (x === null || typeof x !== 'object') out.push(x as Value);
      else if (Array.isArray(x)) collectLeaves(x, out);
    }
  }
}

function collectObjects(v: unknown[], out: Record<string, unknown>[]): void {
  for (const x of v) {
    if (Array.isArray(x)) collectObjects(x, out);
    else if (isObject(x)) out.push(x);
  }
}

/** `data.total[0]`; keys that are not plain words are quoted: `data["a.b"]`. */
export function formatPath(at: string, path: Path): string {
  let out = at;
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z0-9_$-]+$/.test(p)) out += out === '' ? p : `.${p}`;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}
