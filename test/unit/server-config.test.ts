// Server configuration (src/server/config.ts): flags beat AVIARY_* variables, which beat the
// defaults; a bad value is a validation error naming the setting.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/server/config.ts';

describe('server configuration', () => {
  test('instance queue: default 8, from AVIARY_INSTANCE_QUEUE, a flag beats the variable', () => {
    assert.equal(loadConfig({}, {}).instanceQueue, 8);
    assert.equal(loadConfig({}, { AVIARY_INSTANCE_QUEUE: '0' }).instanceQueue, 0);
    assert.equal(loadConfig({ instanceQueue: 3 }, { AVIARY_INSTANCE_QUEUE: '0' }).instanceQueue, 3);
  });

  test('processes per instance: default 1024 (as Lambda), from AVIARY_MAX_PROCESSES, a flag beats the variable', () => {
    assert.equal(loadConfig({}, {}).maxProcesses, 1024);
    assert.equal(loadConfig({}, { AVIARY_MAX_PROCESSES: '256' }).maxProcesses, 256);
    assert.equal(loadConfig({ maxProcesses: 64 }, { AVIARY_MAX_PROCESSES: '256' }).maxProcesses, 64);
  });

  test('request log level: warn by default, from AVIARY_LOG_LEVEL; anything else is refused, naming the setting and the levels', () => {
    assert.equal(loadConfig({}, {}).logLevel, 'warn');
    assert.equal(loadConfig({}, { AVIARY_LOG_LEVEL: 'info' }).logLevel, 'info');
    assert.throws(() => loadConfig({}, { AVIARY_LOG_LEVEL: 'bogus' }), (e: Error) => {
      assert.match(e.message, /server configuration/);
      assert.match(e.message, /logLevel: Invalid option: expected one of "fatal"\|"error"\|"warn"\|"info"\|"debug"\|"trace"\|"silent"/);
      return true;
    });
  });

  for (const [value, problem] of [['31', /maxProcesses: Too small: expected number to be >=32/], ['70000', /maxProcesses: Too big/], ['lots', /maxProcesses: Invalid input: expected number/]] as const) {
    test(`AVIARY_MAX_PROCESSES=${value} is refused, naming the setting`, () => {
      assert.throws(() => loadConfig({}, { AVIARY_MAX_PROCESSES: value }), (e: Error) => {
        assert.match(e.message, /server configuration/);
        assert.match(e.message, problem);
        return true;
      });
    });
  }

  for (const [value, problem] of [['33', /instanceQueue: Too big: expected number to be <=32/], ['-1', /instanceQueue: Too small/], ['1.5', /instanceQueue: Invalid input: expected int/], ['many', /instanceQueue: Invalid input: expected number/]] as const) {
    test(`AVIARY_INSTANCE_QUEUE=${value} is refused, naming the setting`, () => {
      assert.throws(() => loadConfig({}, { AVIARY_INSTANCE_QUEUE: value }), (e: Error) => {
        assert.match(e.message, /server configuration/);
        assert.match(e.message, problem);
        return true;
      });
    });
  }
});
