/**
 * The value matchers of EventBridge patterns (`{"prefix": "x"}`, `numeric`, `anything-but`…),
 * each validated and compiled into a test of one leaf value. The structure around them (fields,
 * arrays, nesting, `$or`) is in pattern.ts.
 */

export const PATTERN_LIMITS = {
  /** maxPatternBytes: the pattern's JSON text. */
  maxPatternBytes: 4096,
  /** maxPatternDepth: nested objects, `$or` branches included. */
  maxPatternDepth: 10,
  /** maxAlternatives: values in one field's array, one anything-but list, or one `$or`. */
  maxAlternatives: 100,
} as const;

export type Value = string | number | boolean | null;
export type ValueTest = (v: Value) => boolean;
/** Reports a problem with the matcher being compiled (the caller knows where it is). */
export type Report = (message: string) => void;

export const MATCHERS = ['prefix', 'suffix', 'equals-ignore-case', 'wildcard', 'numeric', 'exists', 'anything-but'] as const;
const NUMERIC_OPS = new Set(['<', '<=', '=', '>=', '>']);

/** `{"prefix": "x"}` and friends; returns the test, an exists marker, or undefined on error. */
export function compileMatcher(alt: Record<string, unknown>, report: Report): ValueTest | 'exists:true' | 'exists:false' | undefined {
  const keys = Object.keys(alt);
  if (keys.length !== 1) {
    report(keys.length === 0
      ? `is an empty object; a matcher has one key, one of ${MATCHERS.join(', ')}`
      : `a matcher object has exactly one key, such as {"prefix":"x"}; got ${keys.length} (${keys.join(', ')})`);
    return undefined;
  }
  const op = keys[0]!;
  const arg = alt[op];
  switch (op) {
    case 'prefix':
    case 'suffix': {
      const s = stringOrIgnoreCase(op, arg, report);
      if (!s) return undefined;
      if (s.ignoreCase) {
        const lower = s.value.toLowerCase();
        return op === 'prefix'
          ? (v) => typeof v === 'string' && v.toLowerCase().startsWith(lower)
          : (v) => typeof v === 'string' && v.toLowerCase().endsWith(lower);
      }
      const text = s.value;
      return op === 'prefix' ? (v) => typeof v === 'string' && v.startsWith(text) : (v) => typeof v === 'string' && v.endsWith(text);
    }
    case 'equals-ignore-case': {
      if (typeof arg !== 'string') {
        report(`equals-ignore-case needs a string, e.g. {"equals-ignore-case":"Order.Created"}, got ${describe(arg)}`);
        return undefined;
      }
      const lower = arg.toLowerCase();
      return (v) => typeof v === 'string' && v.toLowerCase() === lower;
    }
    case 'wildcard': {
      if (typeof arg !== 'string') {
        report(`wildcard needs a string such as "order.*", got ${describe(arg)}`);
        return undefined;
      }
      const glob = wildcard(arg, report);
      return glob && ((v: Value) => typeof v === 'string' && glob(v));
    }
    case 'numeric':
      return numeric(arg, report);
    case 'exists':
      if (typeof arg !== 'boolean') {
        report(`exists must be true or false, got ${describe(arg)}`);
        return undefined;
      }
      return arg ? 'exists:true' : 'exists:false';
    case 'anything-but':
      return anythingBut(arg, report);
    case 'cidr':
      report('cidr matching is not supported (see docs/events.md for the supported matchers)');
      return undefined;
    default:
      report(`unknown matcher ${JSON.stringify(op)}; use one of ${MATCHERS.join(', ')} (or put the field's alternatives in an array)`);
      return undefined;
  }
}

function stringOrIgnoreCase(op: string, arg: unknown, report: Report): { value: string; ignoreCase: boolean } | undefined {
  if (typeof arg === 'string') return { value: arg, ignoreCase: false };
  if (isObject(arg) && Object.keys(arg).length === 1 && typeof arg['equals-ignore-case'] === 'string') {
    return { value: arg['equals-ignore-case'], ignoreCase: true };
  }
  report(`${op} needs a string, e.g. {"${op}":"order."} or {"${op}":{"equals-ignore-case":"order."}}, got ${describe(arg)}`);
  return undefined;
}

/** `*` matches any run of characters; `\*` is a literal star and `\\` a backslash. */
export function wildcard(text: string, report: Report): ((s: string) => boolean) | undefined {
  const segments: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\\') {
      const next = text[i + 1];
      if (next !== '*' && next !== '\\') {
        report(`wildcard ${JSON.stringify(text)} has a backslash before ${next === undefined ? 'the end' : JSON.stringify(next)}; only \\* (a literal star) and \\\\ (a backslash) are escapes`);
        return undefined;
      }
      current += next;
      i++;
    } else if (ch === '*') {
      if (text[i + 1] === '*') {
        report(`wildcard ${JSON.stringify(text)} has consecutive *; one * already matches any run of characters`);
        return undefined;
      }
      segments.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  segments.push(current);
  return globMatcher(segments);
}

function numeric(arg: unknown, report: Report): ValueTest | undefined {
  const usage = 'numeric needs operator/value pairs like [">", 100] or [">=", 0, "<", 10]';
  if (!Array.isArray(arg) || arg.length === 0 || arg.length % 2 !== 0 || arg.length > 4) {
    report(`${usage}, got ${describe(arg)}`);
    return undefined;
  }
  let lower: { value: number; inclusive: boolean } | undefined;
  let upper: { value: number; inclusive: boolean } | undefined;
  let equal: number | undefined;
  for (let i = 0; i < arg.length; i += 2) {
    const op = arg[i];
    const value = arg[i + 1];
    if (typeof op !== 'string' || !NUMERIC_OPS.has(op)) {
      report(`numeric operator ${describe(op)} is not one of <, <=, =, >=, > (${usage})`);
      return undefined;
    }
    if (typeof value !== 'number') {
      report(`numeric value after "${op}" must be a JSON number, got ${describe(value)}`);
      return undefined;
    }
    if (op === '=') {
      if (arg.length !== 2) {
        report('numeric "=" cannot be combined with other operators; use ["=", 5] alone');
        return undefined;
      }
      equal = value;
    } else if (op === '>' || op === '>=') {
      if (lower) {
        report('numeric has two lower bounds; use one of > or >= and at most one of < or <=');
        return undefined;
      }
      lower = { value, inclusive: op === '>=' };
    } else {
      if (upper) {
        report('numeric has two upper bounds; use one of < or <= and at most one of > or >=');
        return undefined;
      }
      upper = { value, inclusive: op === '<=' };
    }
  }
  if (equal !== undefined) {
    const e = equal;
    return (v) => v === e;
  }
  if (lower && upper && lower.value >= upper.value) {
    report(`numeric range is empty: the lower bound ${lower.value} is not below the upper bound ${upper.value}`);
    return undefined;
  }
  const lo = lower?.value ?? -Infinity;
  const hi = upper?.value ?? Infinity;
  const loIn = lower?.inclusive ?? true;
  const hiIn = upper?.inclusive ?? true;
  return (v) => typeof v === 'number' && (loIn ? v >= lo : v > lo) && (hiIn ? v <= hi : v < hi);
}

function anythingBut(arg: unknown, report: Report): ValueTest | undefined {
  const usage = 'anything-but needs a string, a number, a list of only strings or only numbers, or one of {"prefix":…}, {"suffix":…}, {"equals-ignore-case":…}, {"wildcard":…}';
  if (typeof arg === 'string' || typeof arg === 'number') return (v) => v !== arg;
  if (Array.isArray(arg)) {
    if (arg.length === 0 || !(arg.every((x) => typeof x === 'string') || arg.every((x) => typeof x === 'number'))) {
      report(`anything-but list must be non-empty and contain only strings or only numbers, got ${describe(arg)}`);
      return undefined;
    }
    if (arg.length > PATTERN_LIMITS.maxAlternatives) {
      report(`anything-but list has ${arg.length} values; the limit (maxAlternatives) is ${PATTERN_LIMITS.maxAlternatives}`);
      return undefined;
    }
    const set = new Set<unknown>(arg);
    return (v) => !set.has(v);
  }
  if (isObject(arg)) {
    const keys = Object.keys(arg);
    const op = keys[0];
    if (keys.length !== 1 || (op !== 'prefix' && op !== 'suffix' && op !== 'equals-ignore-case' && op !== 'wildcard')) {
      report(`${usage}, got ${describe(arg)}`);
      return undefined;
    }
    const raw = arg[op];
    const list = Array.isArray(raw) ? raw : [raw];
    if (list.length === 0 || list.length > PATTERN_LIMITS.maxAlternatives || !list.every((x) => typeof x === 'string')) {
      report(`anything-but ${op} needs a string or a non-empty list of strings, got ${describe(raw)}`);
      return undefined;
    }
    const inner: ((s: string) => boolean)[] = [];
    for (const s of list as string[]) {
      if (op === 'prefix') inner.push((v) => v.startsWith(s));
      else if (op === 'suffix') inner.push((v) => v.endsWith(s));
      else if (op === 'equals-ignore-case') {
        const lower = s.toLowerCase();
        inner.push((v) => v.toLowerCase() === lower);
      } else {
        const glob = wildcard(s, report);
        if (!glob) return undefined;
        inner.push(glob);
      }
    }
    // values that are not strings are "anything but" a string pattern, as in EventBridge
    return (v) => typeof v !== 'string' || !inner.some((t) => t(v));
  }
  report(`${usage}, got ${describe(arg)}`);
  return undefined;
}

/** Literal segments between stars, matched leftmost-first: linear, never backtracks. */
function globMatcher(segments: string[]): (s: string) => boolean {
  if (segments.length === 1) {
    const only = segments[0]!;
    return (s) => s === only;
  }
  const first = segments[0]!;
  const last = segments[segments.length - 1]!;
  const middle = segments.slice(1, -1).filter((m) => m !== '');
  const minLength = first.length + last.length + middle.reduce((n, m) => n + m.length, 0);
  return (s) => {
    if (s.length < minLength || !s.startsWith(first) || !s.endsWith(last)) return false;
    let pos = first.length;
    const end = s.length - last.length;
    for (const m of middle) {
      const at = s.indexOf(m, pos);
      if (at === -1 || at + m.length > end) return false;
      pos = at + m.length;
    }
    return true;
  };
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const text = JSON.stringify(v);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
