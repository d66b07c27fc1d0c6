// The pure parts of async invocations: backoff, the destination record, config and settings parsing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { asyncSettingsFromEnv, backoffDelay, DEFAULT_ASYNC_SETTINGS, destinationRecord, jittered, parseAsyncConfig } from '../../src/async/index.ts';
import { AviaryError } from '../../src/shared/errors.ts';

describe('backoff', () => {
  const policy = { baseMs: 1000, capMs: 10_000 };

  test('full jitter: uniformly below min(cap, base·2^(retry-1))', () => {
    assert.equal(backoffDelay(1, policy, () => 0), 0);
    assert.equal(backoffDelay(1, policy, () => 0.999_999), 999);
    assert.equal(backoffDelay(2, policy, () => 0.5), 1000);
    assert.equal(backoffDelay(3, policy, () => 0.5), 2000);
    assert.equal(backoffDelay(4, policy, () => 0.5), 4000);
    assert.equal(backoffDelay(5, policy, () => 0.5), 5000, 'capped: the ceiling is 10 s, not 16 s');
    assert.equal(backoffDelay(60, policy, () => 0.5), 5000, 'no overflow for large retry numbers');
  });

  test('with Math.random, every delay stays within its ceiling', () => {
    for (let retry = 1; retry <= 10; retry++) {
      const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** (retry - 1));
      for (let i = 0; i < 200; i++) {
        const d = backoffDelay(retry, policy);
        assert.ok(d >= 0 && d < ceiling, `retry ${retry}: ${d} not in [0, ${ceiling})`);
      }
    }
  });

  test('a throttled event waits about the throttle delay (±50%)', () => {
    assert.equal(jittered(1000, () => 0), 500);
    assert.equal(jittered(1000, () => 0.999), 1499);
  });
});

describe('destination record', () => {
  const base = { eventId: 'ev-1', functionName: 'orders', qualifier: null, attempts: 1, payload: '{"order":7}', at: Date.UTC(2026, 0, 2, 3, 4, 5) };

  test('success: Lambda\'s shape, payload and result spliced in as stored', () => {
    const r = JSON.parse(destinationRecord({ ...base, condition: 'Success', response: { ok: true, version: 3, resultJson: '{"ok":true}' } }));
    assert.deepEqual(r, {
      version: '1.0',
      timestamp: '2026-01-02T03:04:05.000Z',
      requestContext: { requestId: 'ev-1', functionArn: 'arn:aws:lambda:local:000000000000:function:orders:$LATEST', condition: 'Success', approximateInvokeCount: 1 },
      requestPayload: { order: 7 },
      responseContext: { statusCode: 200, executedVersion: '3' },
      responsePayload: { ok: true },
    });
  });

  test('failure: functionError Unhandled and the error as responsePayload; a platform error has its status and no functionError', () => {
    const fn = JSON.parse(destinationRecord({ ...base, qualifier: '2', attempts: 3, condition: 'RetriesExhausted', response: { ok: false, version: 2, errorJson: '{"errorType":"Error","errorMessage":"boom"}', functionError: true, statusCode: 200 } }));
    assert.equal(fn.requestContext.functionArn, 'arn:aws:lambda:local:000000000000:function:orders:2');
    assert.equal(fn.requestContext.approximateInvokeCount, 3);
    assert.deepEqual(fn.responseContext, { statusCode: 200, executedVersion: '2', functionError: 'Unhandled' });
    assert.deepEqual(fn.responsePayload, { errorType: 'Error', errorMessage: 'boom' });
    const platform = JSON.parse(destinationRecord({ ...base, condition: 'RetriesExhausted', response: { ok: false, version: null, errorJson: '{"errorType":"SandboxFailed","errorMessage":"x"}', functionError: false, statusCode: 502 } }));
    assert.deepEqual(platform.responseContext, { statusCode: 502, executedVersion: '$LATEST' });
  });

  test('an event that never ran has no response', () => {
    const r = JSON.parse(destinationRecord({ ...base, attempts: 0, condition: 'EventAgeExceeded', response: null }));
    assert.equal(r.requestContext.condition, 'EventAgeExceeded');
    assert.equal('responseContext' in r, false);
    assert.equal('responsePayload' in r, false);
  });
});

describe('async config', () => {
  const issuesOf = (body: unknown): string[] => {
    try {
      parseAsyncConfig(body);
    } catch (err) {
      assert.ok(err instanceof AviaryError);
      assert.equal(err.code, 'ValidationError');
      return (err.issues ?? []).map((i) => `${i.path}: ${i.message}`);
    }
    return [];
  };

  test('defaults: 2 retries, 6 h, no destinations', () => {
    assert.deepEqual(parseAsyncConfig({}), { retries: 2, maxEventAgeSeconds: 21_600, onSuccess: null, onFailure: null });
    assert.deepEqual(parseAsyncConfig({ retries: 0, maxEventAgeSeconds: 60, onSuccess: { type: 'webhook', url: 'https://example.com/hook' }, onFailure: { type: 'function', name: 'dlq-handler' } }), {
      retries: 0, maxEventAgeSeconds: 60, onSuccess: { type: 'webhook', url: 'https://example.com/hook' }, onFailure: { type: 'function', name: 'dlq-handler' },
    });
  });

  test('every bad field is named', () => {
    assert.deepEqual(issuesOf({ retries: 11 }), ['retries: must be between 0 and 10 (retries)']);
    assert.deepEqual(issuesOf({ retries: 1.5 }), ['retries: must be a whole number (retries)']);
    assert.deepEqual(issuesOf({ retries: '2' }), ['retries: must be a number (retries)']);
    assert.deepEqual(issuesOf({ maxEventAgeSeconds: 59 }), ['maxEventAgeSeconds: must be between 60 and 21600 (seconds)']);
    assert.deepEqual(issuesOf({ maxEventAgeSeconds: 21_601 }), ['maxEventAgeSeconds: must be between 60 and 21600 (seconds)']);
    assert.deepEqual(issuesOf({ unknown: 1 }), ['unknown: is not a known field']);
    assert.deepEqual(issuesOf({ onSuccess: { type: 'queue', name: 'orders' } }), ['onSuccess.type: must be "function", "webhook" or "topic"']);
    assert.deepEqual(issuesOf({ onSuccess: { type: 'topic' } }), ['onSuccess.name: is required: the topic to publish to']);
    assert.deepEqual(issuesOf({ onSuccess: { type: 'topic', name: 'done', url: 'https://x/' } }), ['onSuccess.url: is not a field of a topic destination']);
    assert.deepEqual(parseAsyncConfig({ onFailure: { type: 'topic', name: 'failed' } }).onFailure, { type: 'topic', name: 'failed' });
    assert.deepEqual(issuesOf({ onFailure: { type: 'function' } }), ['onFailure.name: is required: the function to invoke']);
    assert.deepEqual(issuesOf({ onFailure: { type: 'function', name: '9bad' } }), ['onFailure.name: must be a function name']);
    assert.deepEqual(issuesOf({ onFailure: { type: 'function', name: 'x', url: 'http://a/' } }), ['onFailure.url: is not a field of a function destination']);
    assert.deepEqual(issuesOf({ onSuccess: { type: 'webhook', url: 'ftp://x/' } }), ['onSuccess.url: must be an http:// or https:// URL of at most 2048 characters']);
    assert.deepEqual(issuesOf({ onSuccess: { type: 'webhook' } }), ['onSuccess.url: is required: the URL to POST the record to']);
    assert.deepEqual(issuesOf({ onSuccess: { type: 'webhook', url: 'https://x/', extra: 1 } }), ['onSuccess.extra: is not a known field']);
  });
});

describe('async settings', () => {
  test('defaults, and AVIARY_ASYNC_* overrides', () => {
    assert.deepEqual(asyncSettingsFromEnv({}), DEFAULT_ASYNC_SETTINGS);
    const s = asyncSettingsFromEnv({ AVIARY_ASYNC_CONCURRENCY: '8', AVIARY_ASYNC_RETRY_BASE_MS: '10', AVIARY_ASYNC_RETRY_CAP_MS: '20' });
    assert.deepEqual([s.concurrency, s.retryBaseMs, s.retryCapMs], [8, 10, 20]);
  });

  test('a bad value names the variable', () => {
    assert.throws(() => asyncSettingsFromEnv({ AVIARY_ASYNC_CONCURRENCY: '0', AVIARY_ASYNC_POLL_MS: 'soon' }), (err: AviaryError) => {
      assert.deepEqual(err.issues?.map((i) => i.path), ['AVIARY_ASYNC_CONCURRENCY', 'AVIARY_ASYNC_POLL_MS']);
      return true;
    });
    assert.throws(() => asyncSettingsFromEnv({ AVIARY_ASYNC_RETRY_BASE_MS: '100', AVIARY_ASYNC_RETRY_CAP_MS: '50' }), /AVIARY_ASYNC_RETRY_CAP_MS: must not be below AVIARY_ASYNC_RETRY_BASE_MS/);
  });
});
