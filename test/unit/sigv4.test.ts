// SigV4 verification (src/auth/sigv4.ts): AWS's published Signature Version 4 test suite, then
// requests signed by @smithy/signature-v4 (the signer inside the AWS SDK) the way the Lambda
// client signs them, then the freshness and scope rules.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  SignatureError, canonicalPath, canonicalQuery, canonicalRequest, checkRequestMeta, parseAuthorization,
  signedPayloadHash, verifySignature, type SignedRequest,
} from '../../src/auth/sigv4.ts';
import { Sha256 } from '../helpers/sigv4.ts';

const UNRESERVED = '-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const STS_TOKEN = 'AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const EMPTY = sha256('');

/** Verifies `req` signed with `authorization` at its X-Amz-Date; returns the canonical request. */
function verify(req: SignedRequest, authorization: string, secret: string, body = '', service?: string): string {
  const auth = parseAuthorization(authorization);
  const date = String(req.headers['x-amz-date']);
  const now = Date.UTC(Number(date.slice(0, 4)), Number(date.slice(4, 6)) - 1, Number(date.slice(6, 8)), Number(date.slice(9, 11)), Number(date.slice(11, 13)));
  const { amzDate } = checkRequestMeta(req, auth, now, service ?? auth.service);
  const payload = signedPayloadHash(req, sha256(body));
  verifySignature(req, auth, secret, amzDate, payload);
  return canonicalRequest(req, auth.signedHeaders, payload);
}

function rejects(fn: () => unknown, type: string, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SignatureError, `expected a SignatureError, got ${String(err)}`);
    assert.equal(err.awsType, type);
    assert.equal(err.code, 'Unauthorized');
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

describe("AWS's published SigV4 test suite (aws-sig-v4-test-suite)", () => {
  // credentials, region and service of the suite; each case: the request as its .req file has it
  // (paths unencoded, as the suite writes them), the expected canonical request's first lines and
  // the signature of its .authz file
  const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
  const DATE = '20150830T123600Z';
  interface Case { name: string; method: string; path: string; query?: string; headers?: [string, string][]; body?: string; creqStart: string; signature: string }
  const cases: Case[] = [
    { name: 'get-vanilla', method: 'GET', path: '/', creqStart: 'GET\n/\n\n', signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
    { name: 'get-vanilla-empty-query-key', method: 'GET', path: '/', query: 'Param1=value1', creqStart: 'GET\n/\nParam1=value1\n', signature: 'a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb' },
    { name: 'get-vanilla-query-order-key-case', method: 'GET', path: '/', query: 'Param2=value2&Param1=value1', creqStart: 'GET\n/\nParam1=value1&Param2=value2\n', signature: 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500' },
    { name: 'get-vanilla-query-order-key', method: 'GET', path: '/', query: 'Param1=value2&Param1=Value1', creqStart: 'GET\n/\nParam1=Value1&Param1=value2\n', signature: 'eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1' },
    { name: 'get-vanilla-query-order-value', method: 'GET', path: '/', query: 'Param1=value2&Param1=value1', creqStart: 'GET\n/\nParam1=value1&Param1=value2\n', signature: '5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694' },
    { name: 'get-vanilla-query-order-encoded', method: 'GET', path: '/', query: 'Param-3=Value3&Param=Value2&%E1%88%B4=Value1', creqStart: 'GET\n/\n%E1%88%B4=Value1&Param=Value2&Param-3=Value3\n', signature: '371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac' },
    { name: 'get-vanilla-query-unreserved', method: 'GET', path: '/', query: `${UNRESERVED}=${UNRESERVED}`, creqStart: `GET\n/\n${UNRESERVED}=${UNRESERVED}\n`, signature: '9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197' },
    { name: 'get-vanilla-utf8-query', method: 'GET', path: '/', query: 'ሴ=bar', creqStart: 'GET\n/\n%E1%88%B4=bar\n', signature: '2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04' },
    { name: 'get-unreserved', method: 'GET', path: `/${UNRESERVED}`, creqStart: `GET\n/${UNRESERVED}\n\n`, signature: '07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f' },
    { name: 'get-utf8', method: 'GET', path: '/ሴ', creqStart: 'GET\n/%E1%88%B4\n\n', signature: '8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85' },
    { name: 'get-header-key-duplicate', method: 'GET', path: '/', headers: [['My-Header1', 'value2'], ['My-Header1', 'value2'], ['My-Header1', 'value1']], creqStart: 'GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value2,value2,value1\n', signature: 'c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea' },
    { name: 'get-header-value-multiline', method: 'GET', path: '/', headers: [['My-Header1', 'value1\n  value2\n     value3']], creqStart: 'GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1 value2 value3\n', signature: 'cfd34249e4b1c8d6b91ef74165d41a32e5fab3306300901bb65a51a73575eefd' },
    { name: 'get-header-value-order', method: 'GET', path: '/', headers: [['My-Header1', 'value4'], ['My-Header1', 'value1'], ['My-Header1', 'value3'], ['My-Header1', 'value2']], creqStart: 'GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value4,value1,value3,value2\n', signature: '08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01' },
    { name: 'get-header-value-trim', method: 'GET', path: '/', headers: [['My-Header1', ' value1'], ['My-Header2', ' "a   b   c"']], creqStart: 'GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:"a b c"\n', signature: 'acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736' },
    { name: 'post-vanilla', method: 'POST', path: '/', creqStart: 'POST\n/\n\n', signature: '5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b' },
    { name: 'post-vanilla-query', method: 'POST', path: '/', query: 'Param1=value1', creqStart: 'POST\n/\nParam1=value1\n', signature: '28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11' },
    { name: 'post-header-key-sort', method: 'POST', path: '/', headers: [['My-Header1', 'value1']], creqStart: 'POST\n/\n\nhost:', signature: 'c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c' },
    { name: 'post-header-value-case', method: 'POST', path: '/', headers: [['My-Header1', 'VALUE1']], creqStart: 'POST\n/\n\nhost:example.amazonaws.com\nmy-header1:VALUE1\n', signature: 'cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d' },
    { name: 'post-x-www-form-urlencoded', method: 'POST', path: '/', headers: [['Content-Type', 'application/x-www-form-urlencoded']], body: 'Param1=value1', creqStart: 'POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n', signature: 'ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a' },
    { name: 'post-x-www-form-urlencoded-parameters', method: 'POST', path: '/', headers: [['Content-Type', 'application/x-www-form-urlencoded; charset=utf8']], body: 'Param1=value1', creqStart: 'POST\n/\n\ncontent-type:application/x-www-form-urlencoded; charset=utf8\n', signature: '1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe' },
    { name: 'post-sts-header-before', method: 'POST', path: '/', headers: [['X-Amz-Security-Token', STS_TOKEN]], creqStart: 'POST\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\nx-amz-security-token:AQoD', signature: '85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead' },
    { name: 'normalize-path/get-relative', method: 'GET', path: '/example/..', creqStart: 'GET\n/\n\n', signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
    { name: 'normalize-path/get-relative-relative', method: 'GET', path: '/example1/example2/../..', creqStart: 'GET\n/\n\n', signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
    { name: 'normalize-path/get-slash', method: 'GET', path: '//', creqStart: 'GET\n/\n\n', signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
    { name: 'normalize-path/get-slash-dot-slash', method: 'GET', path: '/./', creqStart: 'GET\n/\n\n', signature: '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31' },
    { name: 'normalize-path/get-slash-pointless-dot', method: 'GET', path: '/./example', creqStart: 'GET\n/example\n\n', signature: 'ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5' },
    { name: 'normalize-path/get-slashes', method: 'GET', path: '//example//', creqStart: 'GET\n/example/\n\n', signature: '9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84' },
    { name: 'normalize-path/get-space', method: 'GET', path: '/example space/', creqStart: 'GET\n/example%20space/\n\n', signature: '652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741' },
  ];

  for (const c of cases) {
    test(c.name, () => {
      const headers: Record<string, string | string[]> = { host: 'example.amazonaws.com', 'x-amz-date': DATE };
      for (const [name, value] of c.headers ?? []) {
        const k = name.toLowerCase();
        const prev = headers[k];
        headers[k] = prev === undefined ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
      }
      const signed = Object.keys(headers).sort().join(';');
      const req: SignedRequest = { method: c.method, path: c.path, query: c.query ?? '', headers };
      const authorization = `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=${signed}, Signature=${c.signature}`;
      const creq = verify(req, authorization, SECRET, c.body);
      assert.ok(creq.startsWith(c.creqStart), `canonical request:\n${creq}`);
      assert.ok(creq.endsWith(`\n${sha256(c.body ?? '')}`));
      // the same request with one character of the signature changed is refused
      const bad = authorization.replace(/.$/, (ch) => (ch === '0' ? '1' : '0'));
      rejects(() => verify(req, bad, SECRET, c.body), 'InvalidSignatureException', /does not match/);
    });
  }
});

describe('requests signed by @smithy/signature-v4 as the Lambda client signs them', () => {
  const credentials = { accessKeyId: 'AKIDLAMBDA', secretAccessKey: 'lambda-secret-access-key-0123456789' };
  const signer = new SignatureV4({ service: 'lambda', region: 'local', credentials, sha256: Sha256 });
  const signingDate = new Date('2026-03-01T10:00:00Z');

  async function sign(path: string, query: Record<string, string>, body: string, extra: Record<string, string> = {}): Promise<SignedRequest> {
    const headers = { host: '127.0.0.1:8080', 'content-type': 'application/octet-stream', 'x-amz-invocation-type': 'RequestResponse', ...extra };
    const signed = await signer.sign({ method: 'POST', protocol: 'http:', hostname: '127.0.0.1', port: 8080, path, query, headers, body }, { signingDate });
    const rawQuery = Object.entries(query).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
    const lower: Record<string, string> = {};
    for (const [k, v] of Object.entries(signed.headers)) lower[k.toLowerCase()] = String(v);
    return { method: 'POST', path, query: rawQuery, headers: lower };
  }

  function check(req: SignedRequest, body: string, secret = credentials.secretAccessKey, now = signingDate.getTime()): void {
    const auth = parseAuthorization(String(req.headers.authorization));
    const { amzDate } = checkRequestMeta(req, auth, now, 'lambda');
    verifySignature(req, auth, secret, amzDate, signedPayloadHash(req, sha256(body)));
  }

  test('a percent-encoded ARN in the path is encoded once more in the canonical request', async () => {
    const path = '/2015-03-31/functions/arn%3Aaws%3Alambda%3Alocal%3A000000000000%3Afunction%3Ahello/invocations';
    assert.equal(canonicalPath(path), '/2015-03-31/functions/arn%253Aaws%253Alambda%253Alocal%253A000000000000%253Afunction%253Ahello/invocations');
    const body = '{"name":"ada"}';
    check(await sign(path, { Qualifier: '1' }, body), body);
  });

  test('query parameters with reserved characters, an empty body, a client context header', async () => {
    const path = '/2015-03-31/functions/hello%3A%24LATEST/invocations';
    check(await sign(path, { Qualifier: '$LATEST', 'a b': 'c/d+e' }, ''), '');
    const cc = Buffer.from('{"custom":{"a":1}}').toString('base64');
    check(await sign('/2015-03-31/functions/hello/invocations', {}, '{}', { 'x-amz-client-context': cc, 'x-amz-log-type': 'Tail' }), '{}');
  });

  test('a changed body, path, query, signed header or secret is refused', async () => {
    const path = '/2015-03-31/functions/hello/invocations';
    const req = await sign(path, { Qualifier: '1' }, '{"n":1}');
    check(req, '{"n":1}');
    rejects(() => check(req, '{"n":2}'), 'InvalidSignatureException', /X-Amz-Content-SHA256 does not match/);
    // the SDK signs X-Amz-Content-SHA256; a request without it no longer matches what was signed
    const noDeclared = { ...req, headers: { ...req.headers } };
    delete noDeclared.headers['x-amz-content-sha256'];
    rejects(() => check(noDeclared, '{"n":1}'), 'InvalidSignatureException', /does not carry/);
    rejects(() => check({ ...req, path: '/2015-03-31/functions/other/invocations' }, '{"n":1}'), 'InvalidSignatureException', /does not match/);
    rejects(() => check({ ...req, query: 'Qualifier=2' }, '{"n":1}'), 'InvalidSignatureException');
    rejects(() => check({ ...req, headers: { ...req.headers, 'x-amz-invocation-type': 'Event' } }, '{"n":1}'), 'InvalidSignatureException');
    rejects(() => check(req, '{"n":1}', 'another-secret-another-secret'), 'InvalidSignatureException', /Secret Access Key/);
  });

  test('requests older or newer than 15 minutes are refused; within, accepted', async () => {
    const req = await sign('/2015-03-31/functions/hello/invocations', {}, '{}');
    const t = signingDate.getTime();
    check(req, '{}', undefined, t + 14 * 60_000);
    check(req, '{}', undefined, t - 14 * 60_000);
    rejects(() => check(req, '{}', undefined, t + 16 * 60_000), 'InvalidSignatureException', /Signature expired.*clock/);
    rejects(() => check(req, '{}', undefined, t - 16 * 60_000), 'InvalidSignatureException', /not yet current/);
  });

  test('a signature for another service is refused, naming the right one', async () => {
    const s3 = new SignatureV4({ service: 's3', region: 'local', credentials, sha256: Sha256 });
    const signed = await s3.sign({ method: 'GET', protocol: 'http:', hostname: 'h', path: '/', query: {}, headers: { host: 'h' } }, { signingDate });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(signed.headers)) headers[k.toLowerCase()] = String(v);
    rejects(() => check({ method: 'GET', path: '/', query: '', headers }, ''), 'InvalidSignatureException', /'lambda'/);
  });
});

describe('parsing and canonical forms', () => {
  test('malformed Authorization headers say what is missing', () => {
    rejects(() => parseAuthorization('AWS4-HMAC-SHA256 Credential=a/20260101/r/lambda/aws4_request'), 'IncompleteSignatureException', /SignedHeaders, Signature/);
    rejects(() => parseAuthorization('AWS4-HMAC-SHA256 Credential=a/2026/r/lambda/aws4_request, SignedHeaders=host, Signature=' + 'a'.repeat(64)), 'IncompleteSignatureException', /Credential/);
    rejects(() => parseAuthorization('AWS4-HMAC-SHA256 Credential=a/20260101/r/lambda/aws4_request, SignedHeaders=host, Signature=xyz'), 'IncompleteSignatureException', /hex/);
    const ok = parseAuthorization('AWS4-HMAC-SHA256 Credential=key_1/20260101/local/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=' + 'a'.repeat(64));
    assert.deepEqual({ ...ok, signature: undefined }, { accessKeyId: 'key_1', date: '20260101', region: 'local', service: 'lambda', signedHeaders: ['host', 'x-amz-date'], signature: undefined });
  });

  test('host must be signed; the scope date must be the request date', () => {
    const headers = { host: 'h', 'x-amz-date': '20260101T000000Z' };
    const now = Date.UTC(2026, 0, 1);
    const auth = parseAuthorization('AWS4-HMAC-SHA256 Credential=k/20260101/r/lambda/aws4_request, SignedHeaders=x-amz-date, Signature=' + 'a'.repeat(64));
    rejects(() => checkRequestMeta({ method: 'GET', path: '/', query: '', headers }, auth, now, 'lambda'), 'InvalidSignatureException', /host/);
    const other = parseAuthorization('AWS4-HMAC-SHA256 Credential=k/20251231/r/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=' + 'a'.repeat(64));
    rejects(() => checkRequestMeta({ method: 'GET', path: '/', query: '', headers }, other, now, 'lambda'), 'InvalidSignatureException', /valid date/);
  });

  test('unsigned or streaming payloads are refused', () => {
    rejects(() => signedPayloadHash({ method: 'POST', path: '/', query: '', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }, EMPTY), 'InvalidSignatureException', /not supported/);
  });

  test('canonical query: decoded, strictly re-encoded, sorted by name then value', () => {
    assert.equal(canonicalQuery(''), '');
    assert.equal(canonicalQuery('b=2&a=1&a=0&flag'), 'a=0&a=1&b=2&flag=');
    assert.equal(canonicalQuery('q=%7e%20*'), 'q=~%20%2A');
    assert.equal(canonicalQuery('Qualifier=%24LATEST'), 'Qualifier=%24LATEST');
  });
});

