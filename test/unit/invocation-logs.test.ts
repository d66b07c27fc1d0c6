// The per-invocation log cap (src/sandbox/invocation-logs.ts): counted in UTF-8 bytes plus one
// per line; past it, one truncation marker and nothing more.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvocationLogs } from '../../src/sandbox/invocation-logs.ts';

const line = (message: string) => ({ time: 1, stream: 'stdout' as const, message });

describe('invocation log cap', () => {
  test('lines up to the cap are kept whole', () => {
    const logs = new InvocationLogs(10);
    logs.add(line('abcd')); // 5 bytes with its newline
    logs.add(line('efgh')); // 10
    assert.deepEqual(logs.lines.map((l) => l.message), ['abcd', 'efgh']);
  });

  test('multi-byte characters count as their UTF-8 bytes, not as characters', () => {
    const logs = new InvocationLogs(10);
    logs.add(line('żółw')); // 4 characters, 7 bytes, 8 with the newline
    logs.add(line('ab')); // 11 > 10
    assert.deepEqual(logs.lines.map((l) => l.message), ['żółw', '[aviary: log truncated: this invocation wrote more than 10 bytes]']);
    assert.equal(logs.lines[1]!.stream, 'stderr');
  });

  test('after the marker, later lines are dropped, even short ones', () => {
    const logs = new InvocationLogs(4);
    logs.add(line('12345'));
    logs.add(line('x'));
    assert.equal(logs.lines.length, 1);
    assert.match(logs.lines[0]!.message, /log truncated/);
  });
});
