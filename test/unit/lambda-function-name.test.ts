// Lambda's FunctionName forms (src/http/lambda/function-name.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFunctionName } from '../../src/http/lambda/index.ts';

describe('parseFunctionName', () => {
  test('a name, name:qualifier, full ARNs and partial ARNs', () => {
    assert.deepEqual(parseFunctionName('hello'), { name: 'hello', qualifier: undefined });
    assert.deepEqual(parseFunctionName('hello:3'), { name: 'hello', qualifier: '3' });
    assert.deepEqual(parseFunctionName('hello:$LATEST'), { name: 'hello', qualifier: '$LATEST' });
    assert.deepEqual(parseFunctionName('hello:prod'), { name: 'hello', qualifier: 'prod' }, 'aliases parse (and are looked up later)');
    assert.deepEqual(parseFunctionName('arn:aws:lambda:local:000000000000:function:hello'), { name: 'hello', qualifier: undefined });
    assert.deepEqual(parseFunctionName('arn:aws:lambda:us-east-1:123456789012:function:my-fn_2:7'), { name: 'my-fn_2', qualifier: '7' });
    assert.deepEqual(parseFunctionName('arn:aws-cn:lambda:cn-north-1:123456789012:function:hello'), { name: 'hello', qualifier: undefined });
    assert.deepEqual(parseFunctionName('123456789012:function:hello'), { name: 'hello', qualifier: undefined });
    assert.deepEqual(parseFunctionName('123456789012:function:hello:2'), { name: 'hello', qualifier: '2' });
  });

  test('?Qualifier= applies, and must agree with a qualifier in the name', () => {
    assert.deepEqual(parseFunctionName('hello', '2'), { name: 'hello', qualifier: '2' });
    assert.deepEqual(parseFunctionName('hello:2', '2'), { name: 'hello', qualifier: '2' });
    assert.deepEqual(parseFunctionName('hello', ''), { name: 'hello', qualifier: undefined });
    assert.deepEqual(parseFunctionName('arn:aws:lambda:local:000000000000:function:hello', '1'), { name: 'hello', qualifier: '1' });
    assert.throws(() => parseFunctionName('hello:1', '2'), (e: any) => e.awsType === 'InvalidParameterValueException' && e.status === 400 && /does not match/.test(e.message));
    assert.throws(() => parseFunctionName('arn:aws:lambda:local:000000000000:function:hello:1', '2'), /does not match/);
    assert.throws(() => parseFunctionName('hello', 'a b'), (e: any) => e.awsType === 'InvalidParameterValueException' && /Qualifier/.test(e.message));
  });

  test('anything else is InvalidParameterValueException naming the forms', () => {
    for (const bad of ['', 'a/b', 'hello world', 'hello:1:2', 'arn:aws:s3:::bucket', 'arn:aws:lambda:us-east-1:12:function:x',
      'arn:aws:lambda:us-east-1:123456789012:layer:x', '123456789012:function:', 'hello:', 'x'.repeat(300)]) {
      assert.throws(() => parseFunctionName(bad), (e: any) => e.awsType === 'InvalidParameterValueException' && e.status === 400 && /FunctionName/.test(e.message), bad);
    }
  });
});
