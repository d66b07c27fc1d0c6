// EventBridge event patterns: the documented examples (EventBridge user guide "Content filtering"
// and "Arrays", aws/event-ruler's README), the validation messages, and the limits.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePattern, PATTERN_LIMITS } from '../../src/triggers/events/pattern.ts';
import { isAviaryError } from '../../src/shared/errors.ts';

/** The sample event of EventBridge's and event-ruler's documentation. */
const EC2 = {
  version: '0',
  id: 'ddddd4-aaaa-7777-4444-345dd43cc333',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '012345679012',
  time: '2017-10-02T16:24:49Z',
  region: 'us-east-1',
  resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'],
  detail: {
    'c-count': 5,
    'd-count': 3,
    'x-limit': 301.8,
    'source-ip': '10.0.0.33',
    'instance-id': 'i-000000aaaaaa00000',
    state: 'running',
  },
};

const NULLS = {
  version: '0',
  source: 'aws.autoscaling',
  resources: [],
  detail: { eventVersion: '', responseElements: null },
};

const EMPLOYEES = {
  employees: [
    { firstName: 'John', lastName: 'Doe' },
    { firstName: 'Anna', lastName: 'Smith' },
    { firstName: 'Peter', lastName: 'Jones' },
  ],
};

const CLOUDWATCH = { source: 'aws.cloudwatch', metricName: 'CPUUtilization', namespace: 'AWS/EC2', detail: { 'detail-type': 'x' } };

const ORDER = {
  specversion: '1.0', id: 'o-1', source: 'shop', type: 'order.created', subject: 'orders/42',
  data: { total: 150, currency: 'EUR', items: [{ sku: 'a', qty: 2 }, { sku: 'b', qty: 1 }], tags: ['gift', 'express'], file: 'photo.PNG', path: '/usr/lib/x.so' },
};

// [description, pattern, event, expected]
const CASES: Array<[string, unknown, unknown, boolean]> = [
  ['simple matching: every field, alternatives OR-ed, array intersection', {
    'detail-type': ['EC2 Instance State-change Notification'],
    resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'],
    detail: { state: ['initializing', 'running'] },
  }, EC2, true],
  ['one field that does not match fails the pattern', { source: ['aws.ec2'], region: ['eu-west-1'] }, EC2, false],
  ['a field missing from the event fails the pattern', { source: ['aws.ec2'], nothere: ['x'] }, EC2, false],
  ['exact match is case-sensitive', { source: ['AWS.EC2'] }, EC2, false],
  ['prefix', { time: [{ prefix: '2017-10-02' }] }, EC2, true],
  ['prefix that does not match', { time: [{ prefix: '2017-10-03' }] }, EC2, false],
  ['prefix ignoring case', { 'detail-type': [{ prefix: { 'equals-ignore-case': 'ec2 INSTANCE' } }] }, EC2, true],
  ['suffix', { source: [{ suffix: 'ec2' }] }, EC2, true],
  ['suffix ignoring case', { data: { file: [{ suffix: { 'equals-ignore-case': '.png' } }] } }, ORDER, true],
  ['suffix is case-sensitive by default', { data: { file: [{ suffix: '.png' }] } }, ORDER, false],
  ['equals-ignore-case', { source: [{ 'equals-ignore-case': 'AWS.EC2' }] }, EC2, true],
  ['wildcard', { source: [{ wildcard: 'aws.*' }] }, EC2, true],
  ['wildcard with several stars', { 'detail-type': [{ wildcard: 'EC2*State*Notification' }] }, EC2, true],
  ['wildcard that does not match', { 'detail-type': [{ wildcard: 'EC2*Stopped*' }] }, EC2, false],
  ['wildcard without a star is an exact match', { source: [{ wildcard: 'aws.ec2' }] }, EC2, true],
  ['wildcard escapes a literal star', { v: [{ wildcard: 'a\\*b*' }] }, { v: 'a*bc' }, true],
  ['wildcard escaped star is not a wildcard', { v: [{ wildcard: 'a\\*b' }] }, { v: 'axb' }, false],
  ['wildcard segments do not overlap', { v: [{ wildcard: 'ab*ba' }] }, { v: 'aba' }, false],
  ['anything-but a string', { detail: { state: [{ 'anything-but': 'initializing' }] } }, EC2, true],
  ['anything-but the value itself', { detail: { state: [{ 'anything-but': 'running' }] } }, EC2, false],
  ['anything-but a number', { detail: { 'x-limit': [{ 'anything-but': 123 }] } }, EC2, true],
  ['anything-but a list of strings', { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } }, EC2, true],
  ['anything-but a list containing the value', { detail: { state: [{ 'anything-but': ['stopped', 'running'] }] } }, EC2, false],
  ['anything-but a list of numbers', { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } }, EC2, true],
  ['anything-but prefix', { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } }, EC2, true],
  ['anything-but prefix of the value', { detail: { state: [{ 'anything-but': { prefix: 'run' } }] } }, EC2, false],
  ['anything-but suffix', { data: { file: [{ 'anything-but': { suffix: '.png' } }] } }, ORDER, true],
  ['anything-but equals-ignore-case', { detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['RUNNING', 'x'] } }] } }, EC2, false],
  ['anything-but wildcard', { data: { path: [{ 'anything-but': { wildcard: '*/lib/*' } }] } }, ORDER, false],
  ['anything-but needs the field', { detail: { nothere: [{ 'anything-but': 'x' }] } }, EC2, false],
  ['anything-but on an array: some element differs', { data: { tags: [{ 'anything-but': 'gift' }] } }, ORDER, true],
  ['numeric range', { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] } }, EC2, true],
  ['numeric upper bound', { detail: { 'd-count': [{ numeric: ['<', 10] }] } }, EC2, true],
  ['numeric equality across notations', { detail: { 'x-limit': [{ numeric: ['=', 3.018e2] }] } }, EC2, true],
  ['numeric exclusive bound', { detail: { 'c-count': [{ numeric: ['>', 5] }] } }, EC2, false],
  ['numeric inclusive bound', { detail: { 'c-count': [{ numeric: ['>=', 5] }] } }, EC2, true],
  ['numeric ignores strings', { v: [{ numeric: ['>', 0] }] }, { v: '5' }, false],
  ['numeric on the issue example', { type: ['order.created'], data: { total: [{ numeric: ['>', 100] }] } }, ORDER, true],
  ['numeric on the issue example, small order', { type: ['order.created'], data: { total: [{ numeric: ['>', 100] }] } }, { ...ORDER, data: { total: 99.5 } }, false],
  ['exists true', { detail: { 'c-count': [{ exists: true }] } }, EC2, true],
  ['exists false on a present field', { detail: { 'c-count': [{ exists: false }] } }, EC2, false],
  ['exists false on a missing field', { detail: { nothere: [{ exists: false }] } }, EC2, true],
  ['exists false under a missing parent', { nothere: { deeper: [{ exists: false }] } }, EC2, true],
  ['exists only sees leaves: an object is not a value', { detail: [{ exists: false }] }, EC2, true],
  ['exists true on an object is false', { detail: [{ exists: true }] }, EC2, false],
  ['exists true on null (null is a value)', { detail: { responseElements: [{ exists: true }] } }, NULLS, true],
  ['exists true on an empty array is false', { resources: [{ exists: true }] }, NULLS, false],
  ['complex example (without cidr)', {
    time: [{ prefix: '2017-10-02' }],
    detail: {
      state: [{ 'anything-but': 'initializing' }],
      'c-count': [{ numeric: ['>', 0, '<=', 5] }],
      'd-count': [{ numeric: ['<', 10] }],
      'x-limit': [{ 'anything-but': [100, 200, 300] }],
    },
  }, EC2, true],
  ['arrays: intersection with the event array', {
    resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f', 'arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f'],
  }, { resources: ['arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:x', 'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f'] }, true],
  ['arrays: empty intersection', { resources: ['a', 'b'] }, { resources: ['c'] }, false],
  ['empty string', { detail: { eventVersion: [''] } }, NULLS, true],
  ['null', { detail: { responseElements: [null] } }, NULLS, true],
  ['null and the empty string are different', { detail: { responseElements: [''] } }, NULLS, false],
  ['the empty string is not null', { detail: { eventVersion: [null] } }, NULLS, false],
  ['numbers match by value', { v: [5] }, JSON.parse('{"v":5.0}'), true],
  ['a number does not match its string', { v: ['5'] }, { v: 5 }, false],
  ['booleans', { v: [true] }, { v: true }, true],
  ['false is not null', { v: [null] }, { v: false }, false],
  ['objects in arrays: one element matches', { employees: { firstName: ['Anna'] } }, EMPLOYEES, true],
  ['objects in arrays: fields of two elements never combine', { employees: { firstName: ['Anna'], lastName: ['Jones'] } }, EMPLOYEES, false],
  ['objects in arrays: both fields in one element', { employees: { firstName: ['Anna'], lastName: ['Smith'] } }, EMPLOYEES, true],
  ['objects in arrays: nested arrays are flattened', { employees: { firstName: ['Peter'] } }, { employees: [[{ firstName: 'John' }], [{ firstName: 'Peter' }]] }, true],
  ['objects in arrays: the issue\'s items', { data: { items: { sku: ['b'], qty: [{ numeric: ['<', 2] }] } } }, ORDER, true],
  ['$or: one branch matches', { source: ['aws.cloudwatch'], $or: [{ metricName: ['CPUUtilization', 'ReadLatency'] }, { namespace: ['AWS/ES'] }] }, CLOUDWATCH, true],
  ['$or: no branch matches', { source: ['aws.cloudwatch'], $or: [{ metricName: ['ReadLatency'] }, { namespace: ['AWS/ES'] }] }, CLOUDWATCH, false],
  ['$or: nested inside an object', { detail: { $or: [{ 'detail-type': ['x'] }, { source: ['y'] }] } }, CLOUDWATCH, true],
  ['$or: an AND inside a branch', { $or: [{ metricName: ['ReadLatency'] }, { metricName: ['CPUUtilization'], namespace: ['AWS/EC2'] }] }, CLOUDWATCH, true],
  ['pattern fields named like Object.prototype members', { constructor: ['x'] }, {}, false],
  ['a non-object event matches nothing but exists:false', { a: [{ exists: false }] }, 'text', true],
];

describe('event patterns match like EventBridge', () => {
  for (const [name, pattern, event, expected] of CASES) {
    test(name, () => {
      assert.equal(compilePattern(pattern)(event), expected);
    });
  }

  test('a compiled matcher is reusable and pure', () => {
    const m = compilePattern({ detail: { 'c-count': [{ numeric: ['>', 0] }] } });
    for (let i = 0; i < 3; i++) {
      assert.equal(m(EC2), true);
      assert.equal(m({ detail: { 'c-count': 0 } }), false);
    }
  });
});

/** The issues of a pattern that must not compile. */
function issues(pattern: unknown): { path: string; message: string }[] {
  try {
    compilePattern(pattern);
  } catch (err) {
    assert.ok(isAviaryError(err), String(err));
    assert.equal(err.code, 'ValidationError');
    assert.ok(err.message.startsWith('invalid event pattern: '), err.message);
    return err.issues ?? [];
  }
  assert.fail(`${JSON.stringify(pattern)} compiled`);
}

// [pattern, path, message fragment]
const BAD: Array<[unknown, string, string]> = [
  [{ data: { total: [{ numeric: ['>'] }] } }, 'data.total[0]', 'numeric needs operator/value pairs like [">", 100]'],
  [{ data: { total: [{ numeric: '>100' }] } }, 'data.total[0]', 'numeric needs operator/value pairs'],
  [{ v: [{ numeric: ['=>', 1] }] }, 'v[0]', 'numeric operator "=>" is not one of <, <=, =, >=, >'],
  [{ v: [{ numeric: ['>', '100'] }] }, 'v[0]', 'numeric value after ">" must be a JSON number, got "100"'],
  [{ v: [{ numeric: ['>', 1, '>=', 2] }] }, 'v[0]', 'numeric has two lower bounds'],
  [{ v: [{ numeric: ['<', 1, '<=', 2] }] }, 'v[0]', 'numeric has two upper bounds'],
  [{ v: [{ numeric: ['>', 10, '<', 5] }] }, 'v[0]', 'numeric range is empty'],
  [{ v: [{ numeric: ['=', 1, '<', 5] }] }, 'v[0]', 'numeric "=" cannot be combined'],
  [{ type: 'order.created' }, 'type', 'must be an array of alternatives (e.g. ["order.created"]) or an object of fields'],
  [{ type: [] }, 'type', 'needs at least one alternative'],
  [{ type: [['a']] }, 'type[0]', 'arrays cannot be nested'],
  [{ type: [{ regex: 'x' }] }, 'type[0]', 'unknown matcher "regex"'],
  [{ type: [{}] }, 'type[0]', 'is an empty object'],
  [{ type: [{ prefix: 'a', suffix: 'b' }] }, 'type[0]', 'exactly one key'],
  [{ type: [{ prefix: 1 }] }, 'type[0]', 'prefix needs a string'],
  [{ type: [{ suffix: { 'equals-ignore-case': 1 } }] }, 'type[0]', 'suffix needs a string'],
  [{ type: [{ 'equals-ignore-case': ['a'] }] }, 'type[0]', 'equals-ignore-case needs a string'],
  [{ type: [{ exists: 'yes' }] }, 'type[0]', 'exists must be true or false'],
  [{ type: [{ 'anything-but': ['a', 1] }] }, 'type[0]', 'only strings or only numbers'],
  [{ type: [{ 'anything-but': [] }] }, 'type[0]', 'must be non-empty'],
  [{ type: [{ 'anything-but': true }] }, 'type[0]', 'anything-but needs a string, a number'],
  [{ type: [{ 'anything-but': { numeric: ['>', 1] } }] }, 'type[0]', 'anything-but needs'],
  [{ type: [{ 'anything-but': { prefix: 3 } }] }, 'type[0]', 'anything-but prefix needs a string'],
  [{ type: [{ wildcard: 'a**b' }] }, 'type[0]', 'consecutive *'],
  [{ type: [{ wildcard: 'a\\xb' }] }, 'type[0]', 'only \\* (a literal star) and \\\\ (a backslash) are escapes'],
  [{ type: [{ cidr: '10.0.0.0/24' }] }, 'type[0]', 'cidr matching is not supported'],
  [{}, '', 'has no fields'],
  [[{ type: ['a'] }], '', 'must be a JSON object of fields'],
  ['{"type":["a"]}', '', 'must be a JSON object of fields'],
  [{ data: {} }, 'data', 'is an empty object'],
  [{ $or: [{ type: ['a'] }] }, '$or', 'needs an array of at least two'],
  [{ data: { 'a.b': 'x' } }, 'data["a.b"]', 'must be an array'],
];

describe('malformed patterns are refused with the path and the problem', () => {
  for (const [pattern, path, fragment] of BAD) {
    test(`${JSON.stringify(pattern)} → ${path || '(root)'}`, () => {
      const found = issues(pattern);
      assert.equal(found.length, 1, JSON.stringify(found));
      assert.equal(found[0]!.path, path);
      assert.ok(found[0]!.message.includes(fragment), `${found[0]!.message} should include ${fragment}`);
    });
  }

  test('every problem is reported at once, prefixed by where the pattern sits', () => {
    let err: unknown;
    try {
      compilePattern({ type: 'x', data: { total: [{ numeric: ['>'] }] } }, 'pattern');
    } catch (e) {
      err = e;
    }
    assert.ok(isAviaryError(err));
    assert.deepEqual(err.issues?.map((i) => i.path), ['pattern.type', 'pattern.data.total[0]']);
    assert.match(err.message, /pattern\.data\.total\[0\]: numeric needs operator\/value pairs like \[">", 100\]/);
  });
});

describe('pattern limits have names', () => {
  test(`maxPatternBytes (${PATTERN_LIMITS.maxPatternBytes})`, () => {
    const found = issues({ type: Array.from({ length: 90 }, (_, i) => `order.event-${i}-${'x'.repeat(40)}`) });
    assert.match(found[0]!.message, /the limit \(maxPatternBytes\) is 4096/);
  });

  test(`maxPatternDepth (${PATTERN_LIMITS.maxPatternDepth})`, () => {
    let deep: Record<string, unknown> = { leaf: ['x'] };
    for (let i = 0; i < PATTERN_LIMITS.maxPatternDepth; i++) deep = { n: deep };
    const found = issues(deep);
    assert.match(found[0]!.message, /nests deeper than 10 levels \(maxPatternDepth\)/);
    // one level less compiles
    assert.equal(compilePattern((deep as { n: Record<string, unknown> }).n)({}), false);
  });

  test(`maxAlternatives (${PATTERN_LIMITS.maxAlternatives})`, () => {
    const found = issues({ v: Array.from({ length: 101 }, (_, i) => i) });
    assert.equal(found[0]!.path, 'v');
    assert.match(found[0]!.message, /has 101 alternatives; the limit \(maxAlternatives\) is 100/);
    assert.doesNotThrow(() => compilePattern({ v: Array.from({ length: 100 }, (_, i) => i) }));
  });

  test('a long wildcard subject is matched in linear time', () => {
    const m = compilePattern({ v: [{ wildcard: '*a*a*a*a*a*a*a*a*b' }] });
    const started = performance.now();
    assert.equal(m({ v: 'a'.repeat(100_000) }), false);
    assert.ok(performance.now() - started < 200);
  });
});
