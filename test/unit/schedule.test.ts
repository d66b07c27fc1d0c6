import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTimeZone, InvalidSchedule, localIso, parseExpression, scheduledEvent } from '../../src/triggers/schedule/schedule.ts';

const ms = (iso: string) => Date.parse(iso);
const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString().replace('.000Z', 'Z'));

/** The next `n` fire times strictly after `from`, as ISO strings without milliseconds. */
function fires(expression: string, timezone: string, from: string, n: number, anchor = from): (string | undefined)[] {
  const e = parseExpression(expression, timezone, ms(anchor), ms(from));
  const out: (string | undefined)[] = [];
  let t: number | undefined = ms(from);
  for (let i = 0; i < n && t !== undefined; i++) {
    t = e.next(t);
    out.push(iso(t));
  }
  return out;
}

describe('cron expressions', () => {
  test('every minute: the next whole minute strictly after', () => {
    assert.deepEqual(fires('* * * * *', 'UTC', '2026-01-01T10:00:30Z', 3), ['2026-01-01T10:01:00Z', '2026-01-01T10:02:00Z', '2026-01-01T10:03:00Z']);
    assert.deepEqual(fires('* * * * *', 'UTC', '2026-01-01T10:01:00Z', 1), ['2026-01-01T10:02:00Z']);
  });

  test('6 fields put seconds first', () => {
    assert.deepEqual(fires('*/10 * * * * *', 'UTC', '2026-01-01T10:00:03Z', 3), ['2026-01-01T10:00:10Z', '2026-01-01T10:00:20Z', '2026-01-01T10:00:30Z']);
    assert.deepEqual(fires('30 0 3 * * *', 'UTC', '2026-01-01T00:00:00Z', 1), ['2026-01-01T03:00:30Z']);
  });

  test('names, lists, ranges, L and nicknames', () => {
    // 2026-01-01 is a Thursday
    assert.deepEqual(fires('0 9 * * MON-FRI', 'UTC', '2026-01-01T10:00:00Z', 3), ['2026-01-02T09:00:00Z', '2026-01-05T09:00:00Z', '2026-01-06T09:00:00Z']);
    assert.deepEqual(fires('0 0 L * *', 'UTC', '2026-01-01T00:00:00Z', 2), ['2026-01-31T00:00:00Z', '2026-02-28T00:00:00Z']);
    assert.deepEqual(fires('@daily', 'UTC', '2026-01-01T10:00:00Z', 1), ['2026-01-02T00:00:00Z']);
    assert.deepEqual(fires('0 0 * * 0', 'UTC', '2026-01-01T00:00:00Z', 1), fires('0 0 * * 7', 'UTC', '2026-01-01T00:00:00Z', 1));
  });

  test('day of month and day of week combine with OR, as in Vixie cron', () => {
    // the 15th or any Monday
    assert.deepEqual(fires('0 0 15 * MON', 'UTC', '2026-01-01T00:00:00Z', 3), ['2026-01-05T00:00:00Z', '2026-01-12T00:00:00Z', '2026-01-15T00:00:00Z']);
  });

  test('wall-clock times in the time zone', () => {
    assert.deepEqual(fires('0 3 * * *', 'Europe/Paris', '2026-01-10T00:00:00Z', 1), ['2026-01-10T02:00:00Z']); // CET, +01:00
    assert.deepEqual(fires('0 3 * * *', 'Europe/Paris', '2026-07-10T00:00:00Z', 1), ['2026-07-10T01:00:00Z']); // CEST, +02:00
    assert.deepEqual(fires('0 3 * * *', 'Asia/Kolkata', '2026-01-10T00:00:00Z', 1), ['2026-01-10T21:30:00Z']);
    assert.deepEqual(fires('0 3 * * *', 'America/New_York', '2026-01-10T00:00:00Z', 1), ['2026-01-10T08:00:00Z']);
  });

  test('February 29 fires only in leap years', () => {
    assert.deepEqual(fires('0 12 29 2 *', 'UTC', '2026-01-01T00:00:00Z', 2), ['2028-02-29T12:00:00Z', '2032-02-29T12:00:00Z']);
    assert.deepEqual(fires('cron(0 12 29 2 ? *)', 'Europe/Paris', '2026-01-01T00:00:00Z', 1), ['2028-02-29T11:00:00Z']);
  });

  test('latest: the last fire at or before a time', () => {
    const e = parseExpression('0 3 * * *', 'Europe/Paris', ms('2026-01-01T00:00:00Z'));
    assert.equal(iso(e.latest(ms('2026-01-05T12:00:00Z'))), '2026-01-05T02:00:00Z');
    assert.equal(iso(e.latest(ms('2026-01-05T02:00:00Z'))), '2026-01-05T02:00:00Z');
    assert.equal(iso(e.latest(ms('2026-01-05T01:59:59Z'))), '2026-01-04T02:00:00Z');
  });
});

describe('DST', () => {
  // Europe/Paris: 2025-03-30 02:00 CET → 03:00 CEST; 2025-10-26 03:00 CEST → 02:00 CET
  test('Europe/Paris spring forward: a 02:30 job runs once, at 03:00, that day', () => {
    assert.deepEqual(fires('30 2 * * *', 'Europe/Paris', '2025-03-29T12:00:00Z', 3), ['2025-03-30T01:00:00Z', '2025-03-31T00:30:00Z', '2025-04-01T00:30:00Z']);
    assert.equal(localIso(ms('2025-03-30T01:00:00Z'), 'Europe/Paris'), '2025-03-30T03:00:00+02:00');
  });

  test('Europe/Paris fall back: a 02:30 job runs once, at the first 02:30', () => {
    assert.deepEqual(fires('30 2 * * *', 'Europe/Paris', '2025-10-25T12:00:00Z', 3), ['2025-10-26T00:30:00Z', '2025-10-27T01:30:00Z', '2025-10-28T01:30:00Z']);
    assert.equal(localIso(ms('2025-10-26T00:30:00Z'), 'Europe/Paris'), '2025-10-26T02:30:00+02:00');
  });

  test('a list of fixed hours is a fixed-time job too (Vixie cron)', () => {
    assert.deepEqual(fires('30 2,14 * * *', 'Europe/Paris', '2025-03-29T12:00:00Z', 3), ['2025-03-29T13:30:00Z', '2025-03-30T01:00:00Z', '2025-03-30T12:30:00Z']);
  });

  test('Europe/Paris interval jobs skip the gap and run through both passes of the repeated hour', () => {
    assert.deepEqual(fires('*/30 * * * *', 'Europe/Paris', '2025-03-30T00:00:00Z', 3), ['2025-03-30T00:30:00Z', '2025-03-30T01:00:00Z', '2025-03-30T01:30:00Z']);
    // 02:00, 02:30 CEST then 02:00, 02:30 CET: every 30 minutes of elapsed time
    assert.deepEqual(fires('*/30 * * * *', 'Europe/Paris', '2025-10-25T23:45:00Z', 5), [
      '2025-10-26T00:00:00Z', '2025-10-26T00:30:00Z', '2025-10-26T01:00:00Z', '2025-10-26T01:30:00Z', '2025-10-26T02:00:00Z',
    ]);
  });

  // America/New_York: 2025-03-09 02:00 EST → 03:00 EDT; 2025-11-02 02:00 EDT → 01:00 EST
  test('America/New_York spring forward and fall back', () => {
    assert.deepEqual(fires('30 2 * * *', 'America/New_York', '2025-03-08T12:00:00Z', 2), ['2025-03-09T07:00:00Z', '2025-03-10T06:30:00Z']);
    assert.deepEqual(fires('30 1 * * *', 'America/New_York', '2025-11-01T12:00:00Z', 2), ['2025-11-02T05:30:00Z', '2025-11-03T06:30:00Z']);
    assert.equal(localIso(ms('2025-11-02T05:30:00Z'), 'America/New_York'), '2025-11-02T01:30:00-04:00');
  });

  test('a daily job outside the changed hours keeps its wall-clock time across a change', () => {
    assert.deepEqual(fires('0 9 * * *', 'America/New_York', '2025-03-08T12:00:00Z', 2), ['2025-03-08T14:00:00Z', '2025-03-09T13:00:00Z']);
  });
});

describe('EventBridge cron(…)', () => {
  test('minutes hours day-of-month month day-of-week year, day of week 1-7 = SUN-SAT', () => {
    assert.deepEqual(fires('cron(0 3 * * ? *)', 'UTC', '2026-01-01T10:00:00Z', 1), ['2026-01-02T03:00:00Z']);
    assert.deepEqual(fires('cron(0 3 ? * 2 *)', 'UTC', '2026-01-01T00:00:00Z', 1), ['2026-01-05T03:00:00Z']); // 2 = Monday
    assert.deepEqual(fires('cron(0 3 ? * MON-FRI *)', 'UTC', '2026-01-02T10:00:00Z', 1), ['2026-01-05T03:00:00Z']);
    assert.deepEqual(fires('cron(0 3 1 1 ? 2027-2028)', 'UTC', '2026-01-02T00:00:00Z', 3), ['2027-01-01T03:00:00Z', '2028-01-01T03:00:00Z', undefined]);
  });
});

describe('rate(…)', () => {
  test('fires every period from the anchor, never drifting', () => {
    const anchor = '2026-01-01T10:00:07Z';
    assert.deepEqual(fires('rate(5 minutes)', 'UTC', anchor, 2), ['2026-01-01T10:05:07Z', '2026-01-01T10:10:07Z']);
    assert.deepEqual(fires('rate(5 minutes)', 'UTC', '2026-01-01T10:12:00Z', 1, anchor), ['2026-01-01T10:15:07Z']);
    assert.deepEqual(fires('rate(1 hour)', 'Europe/Paris', anchor, 1), ['2026-01-01T11:00:07Z']);
    assert.deepEqual(fires('rate(2 days)', 'UTC', anchor, 1), ['2026-01-03T10:00:07Z']);
    assert.deepEqual(fires('RATE(1 Minute)', 'UTC', anchor, 1), ['2026-01-01T10:01:07Z']);
  });

  test('elapsed time, not wall-clock: a DST change does not move it', () => {
    assert.deepEqual(fires('rate(1 day)', 'Europe/Paris', '2025-03-29T12:00:00Z', 2), ['2025-03-30T12:00:00Z', '2025-03-31T12:00:00Z']);
  });

  test('latest', () => {
    const e = parseExpression('rate(5 minutes)', 'UTC', ms('2026-01-01T10:00:00Z'));
    assert.equal(e.latest(ms('2026-01-01T10:04:59Z')), undefined);
    assert.equal(iso(e.latest(ms('2026-01-01T10:05:00Z'))), '2026-01-01T10:05:00Z');
    assert.equal(iso(e.latest(ms('2026-01-01T10:17:00Z'))), '2026-01-01T10:15:00Z');
  });
});

describe('invalid expressions name the problem', () => {
  const cases: [string, string][] = [
    ['', 'is empty: give a cron or rate expression, e.g. 0 3 * * *, cron(0 3 * * ? *) or rate(5 minutes)'],
    ['* * *', '"* * *" has 3 fields; a cron expression has 5 (minute hour day-of-month month day-of-week) or 6 (second first), e.g. 0 3 * * *, cron(0 3 * * ? *) or rate(5 minutes)'],
    ['* * * * * * *', '"* * * * * * *" has 7 fields; a cron expression has 5 (minute hour day-of-month month day-of-week) or 6 (second first), e.g. 0 3 * * *, cron(0 3 * * ? *) or rate(5 minutes)'],
    ['61 * * * *', '"61 * * * *" is not a valid cron expression: the minute field "61" is out of range (0-59)'],
    ['60 * * * * *', '"60 * * * * *" is not a valid cron expression: the second field "60" is out of range (0-59)'],
    ['0 0 * 13 *', '"0 0 * 13 *" is not a valid cron expression: the month field "13" is out of range (1-12 or JAN-DEC)'],
    ['0 0 32 * *', '"0 0 32 * *" is not a valid cron expression: the day-of-month field "32" is out of range (1-31)'],
    ['x * * * *', '"x * * * *" is not a valid cron expression: the minute field "x" contains illegal characters.'],
    ['* * * * MON-XYZ', '"* * * * MON-XYZ" is not a valid cron expression: the day-of-week field "MON-XYZ" contains illegal characters.'],
    ['*/0 * * * *', '"*/0 * * * *" is not a valid cron expression: syntax error, illegal stepping: 0'],
    ['* * 31 2 *', '"* * 31 2 *" never fires: no time after 2026-01-01T00:00:00.000Z matches it'],
    ['@reboot', '"@reboot" is not supported: a schedule fires at times, not at server start'],
    ['rate(5)', '"rate(5)" is not a rate expression: write rate(VALUE UNIT), e.g. rate(5 minutes) or rate(1 hour)'],
    ['rate(0 minutes)', '"rate(0 minutes)": the rate value must be a whole number from 1 to 1000000, got "0"'],
    ['rate(1.5 hours)', '"rate(1.5 hours)": the rate value must be a whole number from 1 to 1000000, got "1.5"'],
    ['rate(5 seconds)', '"rate(5 seconds)": the rate unit must be minute(s), hour(s) or day(s), got "seconds"'],
    ['rate(1 minutes)', '"rate(1 minutes)": use the singular unit for 1, as in rate(1 minute)'],
    ['rate(5 minute)', '"rate(5 minute)": use the plural unit for values above 1, as in rate(5 minutes)'],
    ['cron(0 3 * * *)', '"cron(0 3 * * *)": cron(…) takes 6 fields (minutes hours day-of-month month day-of-week year), got 5; e.g. cron(0 3 * * ? *)'],
    ['cron(0 3 * * MON *)', '"cron(0 3 * * MON *)": cron(…) needs ? in day-of-month or in day-of-week (EventBridge\'s rule), e.g. cron(0 3 * * ? *) or cron(0 3 ? * MON-FRI *)'],
    ['cron(0 3 ? * 9 *)', '"cron(0 3 ? * 9 *)" is not a valid cron expression: the day-of-week field "9" is out of range (1-7 or SUN-SAT)'],
    ['cron(0 3 * * ? 2020)', '"cron(0 3 * * ? 2020)" never fires: no time after 2026-01-01T00:00:00.000Z matches it'],
  ];
  for (const [expression, message] of cases) {
    test(JSON.stringify(expression), () => {
      assert.throws(() => parseExpression(expression, 'UTC', ms('2026-01-01T00:00:00Z')), (err: unknown) => {
        assert.ok(err instanceof InvalidSchedule);
        assert.equal(err.field, 'expression');
        assert.equal(err.message, message);
        return true;
      });
    });
  }
});

describe('time zones', () => {
  test('IANA names are accepted and canonicalised', () => {
    assert.equal(checkTimeZone('Europe/Paris'), 'Europe/Paris');
    assert.equal(checkTimeZone('europe/paris'), 'Europe/Paris');
    assert.equal(checkTimeZone('UTC'), 'UTC');
    assert.equal(checkTimeZone('US/Eastern'), 'America/New_York');
  });

  test('unknown names and offsets are refused, naming the problem', () => {
    const cases: [string, string][] = [
      ['Mars/Base', 'unknown time zone "Mars/Base": use an IANA name like Europe/Paris, America/New_York or UTC'],
      ['+02:00', '"+02:00" is not an IANA time zone name: use one like Europe/Paris, America/New_York or UTC'],
      ['', '"" is not an IANA time zone name: use one like Europe/Paris, America/New_York or UTC'],
    ];
    for (const [tz, message] of cases) {
      assert.throws(() => checkTimeZone(tz), (err: unknown) => err instanceof InvalidSchedule && err.field === 'timezone' && err.message === message, tz);
    }
  });

  test('localIso prints wall-clock time with its offset', () => {
    assert.equal(localIso(ms('2026-01-10T02:00:00Z'), 'Europe/Paris'), '2026-01-10T03:00:00+01:00');
    assert.equal(localIso(ms('2026-01-10T02:00:00Z'), 'UTC'), '2026-01-10T02:00:00+00:00');
    assert.equal(localIso(ms('2026-01-10T02:00:00Z'), 'Asia/Kolkata'), '2026-01-10T07:30:00+05:30');
  });
});

test('the scheduled event has EventBridge Scheduler\'s shape, with the scheduled time', () => {
  const text = scheduledEvent({ id: 'e-1', namespace: 'default', name: 'nightly', scheduledAt: ms('2026-01-10T02:00:00.000Z'), data: { report: 'daily' } });
  assert.deepEqual(JSON.parse(text), {
    version: '0',
    id: 'e-1',
    'detail-type': 'Scheduled Event',
    source: 'aviary.scheduler',
    account: '000000000000',
    time: '2026-01-10T02:00:00Z',
    region: 'local',
    resources: ['arn:aws:scheduler:local:000000000000:schedule/default/nightly'],
    detail: { report: 'daily' },
  });
});
