import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AviaryError } from '../shared/errors.ts';

/**
 * AWS Signature Version 4 verification (header form, `AWS4-HMAC-SHA256`), the scheme the AWS
 * SDKs and CLI sign every request with. Pure functions: the caller finds the secret and the
 * clock. Rules follow the SigV4 specification for services other than S3: the path is
 * normalised (empty, `.` and `..` segments removed) and URI-encoded once more as received, so
 * a `%3A` in the request line is `%253A` in the canonical request.
 */

export const ALGORITHM = 'AWS4-HMAC-SHA256';
/** Requests dated further than this from the server's clock are refused (AWS's window). */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The AWS error type a failed verification is reported as on the Lambda API. */
export type SigV4ErrorType = 'InvalidSignatureException' | 'UnrecognizedClientException' | 'IncompleteSignatureException';

/** A request that failed SigV4 authentication; `awsType` is what an AWS service would call it. */
export class SignatureError extends AviaryError {
  readonly awsType: SigV4ErrorType;
  constructor(awsType: SigV4ErrorType, message: string) {
    super('Unauthorized', message);
    this.awsType = awsType;
  }
}

/** What verification needs of a request, exactly as it arrived. */
export interface SignedRequest {
  method: string;
  /** The path of the request line, still percent-encoded (`/2015-03-31/functions/a%3A1/invocations`). */
  path: string;
  /** The query string as received, without `?` (may be empty). */
  query: string;
  /** Lower-case names; a header sent several times has one entry per occurrence. */
  headers: Record<string, string | string[] | undefined>;
}

export interface ParsedAuthorization {
  accessKeyId: string;
  /** `YYYYMMDD` of the credential scope. */
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

export function isSigV4Authorization(header: string | undefined): boolean {
  return header !== undefined && header.startsWith(`${ALGORITHM} `);
}

/** `AWS4-HMAC-SHA256 Credential=ID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=hex` */
export function parseAuthorization(header: string): ParsedAuthorization {
  if (!isSigV4Authorization(header)) throw new SignatureError('IncompleteSignatureException', `the Authorization header must start with "${ALGORITHM} "`);
  const fields = new Map<string, string>();
  for (const part of header.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    const missing = ['Credential', 'SignedHeaders', 'Signature'].filter((f) => !fields.has(f)).join(', ');
    throw new SignatureError('IncompleteSignatureException', `the Authorization header lacks ${missing}: expected "${ALGORITHM} Credential=ACCESS_KEY_ID/DATE/REGION/lambda/aws4_request, SignedHeaders=…, Signature=…"`);
  }
  const scope = credential.split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request' || !/^\d{8}$/.test(scope[1]!) || scope[0] === '') {
    throw new SignatureError('IncompleteSignatureException', `malformed Credential ${JSON.stringify(credential)}: expected ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request`);
  }
  if (!/^[0-9a-f]{64}$/.test(signature)) throw new SignatureError('IncompleteSignatureException', 'malformed Signature: expected 64 lower-case hex digits');
  const names = signedHeaders.split(';');
  if (names.some((n) => n === '' || n !== n.toLowerCase())) {
    throw new SignatureError('IncompleteSignatureException', `malformed SignedHeaders ${JSON.stringify(signedHeaders)}: expected lower-case names separated by ;`);
  }
  return { accessKeyId: scope[0]!, date: scope[1]!, region: scope[2]!, service: scope[3]!, signedHeaders: names, signature };
}

/** The request's time (`X-Amz-Date`, else `Date`) as `YYYYMMDDTHHMMSSZ` and as epoch ms. */
export function requestTime(headers: SignedRequest['headers']): { amzDate: string; ms: number } {
  const amz = headerValue(headers, 'x-amz-date');
  if (amz !== undefined) {
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amz);
    if (!m) throw new SignatureError('IncompleteSignatureException', `malformed X-Amz-Date ${JSON.stringify(amz)}: expected YYYYMMDDTHHMMSSZ (UTC)`);
    const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
    return { amzDate: amz, ms };
  }
  const date = headerValue(headers, 'date');
  const ms = date === undefined ? NaN : Date.parse(date);
  if (Number.isNaN(ms)) throw new SignatureError('IncompleteSignatureException', 'the request has no X-Amz-Date (or Date) header: a SigV4-signed request must carry its signing time');
  return { amzDate: new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, ''), ms };
}

/**
 * Everything but the signature itself: the scope names the right service, the request is
 * fresh (within 15 minutes of `now`, either way), and the signed headers include host and date.
 */
export function checkRequestMeta(req: SignedRequest, auth: ParsedAuthorization, now: number, service: string): { amzDate: string } {
  if (auth.service !== service) {
    throw new SignatureError('InvalidSignatureException', `Credential should be scoped to correct service: '${service}' (the request was signed for '${auth.service}'; configure the client for the Lambda service)`);
  }
  const { amzDate, ms } = requestTime(req.headers);
  if (amzDate.slice(0, 8) !== auth.date) {
    throw new SignatureError('InvalidSignatureException', `Credential should be scoped to a valid date: the scope says ${auth.date} but the request is dated ${amzDate}`);
  }
  if (ms < now - MAX_CLOCK_SKEW_MS) {
    throw new SignatureError('InvalidSignatureException', `Signature expired: ${amzDate} is more than 15 minutes before the server's time ${basicDate(now)}; check the client's clock`);
  }
  if (ms > now + MAX_CLOCK_SKEW_MS) {
    throw new SignatureError('InvalidSignatureException', `Signature not yet current: ${amzDate} is more than 15 minutes after the server's time ${basicDate(now)}; check the client's clock`);
  }
  if (!auth.signedHeaders.includes('host')) throw new SignatureError('InvalidSignatureException', "SignedHeaders must include 'host'");
  if (headerValue(req.headers, 'x-amz-date') !== undefined && !auth.signedHeaders.includes('x-amz-date')) {
    throw new SignatureError('InvalidSignatureException', "SignedHeaders must include 'x-amz-date' when the request carries it");
  }
  return { amzDate };
}

/**
 * The payload hash the client signed: `X-Amz-Content-SHA256` when sent (it must then match the
 * body), otherwise the hash of the body as received.
 */
export function signedPayloadHash(req: SignedRequest, bodySha256: string): string {
  const declared = headerValue(req.headers, 'x-amz-content-sha256');
  if (declared === undefined) return bodySha256;
  if (!/^[0-9a-f]{64}$/.test(declared)) {
    throw new SignatureError('InvalidSignatureException', `X-Amz-Content-SHA256 ${JSON.stringify(declared)} is not supported: send the hex SHA-256 of the body (unsigned and streaming payloads are not accepted)`);
  }
  if (declared !== bodySha256) throw new SignatureError('InvalidSignatureException', 'X-Amz-Content-SHA256 does not match the SHA-256 of the body received');
  return declared;
}

/** Checks the signature against `secret`; throws SignatureError saying what to check. */
export function verifySignature(req: SignedRequest, auth: ParsedAuthorization, secret: string, amzDate: string, payloadHash: string): void {
  const creq = canonicalRequest(req, auth.signedHeaders, payloadHash);
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const expected = createHmac('sha256', signingKey(secret, auth.date, auth.region, auth.service)).update(stringToSign(amzDate, scope, creq)).digest();
  const given = Buffer.from(auth.signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new SignatureError('InvalidSignatureException',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method: the secret must be the one printed with this access key id (admin.credentials in the data folder for the admin key)');
  }
}

export function canonicalRequest(req: SignedRequest, signedHeaders: string[], payloadHash: string): string {
  const sorted = [...signedHeaders].sort();
  const headerLines = sorted.map((name) => {
    const value = req.headers[name];
    if (value === undefined) throw new SignatureError('InvalidSignatureException', `SignedHeaders names ${name}, which the request does not carry`);
    return `${name}:${canonicalHeaderValue(value)}\n`;
  }).join('');
  return `${req.method.toUpperCase()}\n${canonicalPath(req.path)}\n${canonicalQuery(req.query)}\n${headerLines}\n${sorted.join(';')}\n${payloadHash}`;
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  let key = createHmac('sha256', `AWS4${secret}`).update(date).digest();
  for (const part of [region, service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  return key;
}

/** Dot segments and empty segments removed, then each character outside A-Z a-z 0-9 - _ . ~ encoded. */
export function canonicalPath(path: string): string {
  if (path === '') return '/';
  const segments: string[] = [];
  for (const s of path.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') segments.pop();
    else segments.push(s);
  }
  const normalised = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  return uriEncode(normalised).replaceAll('%2F', '/');
}

/** Parameters decoded, re-encoded strictly, sorted by name then value. */
export function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs: [string, string][] = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? '' : part.slice(eq + 1);
    pairs.push([uriEncode(decode(name)), uriEncode(decode(value))]);
  }
  pairs.sort((a, b) => compare(a[0], b[0]) || compare(a[1], b[1]));
  return pairs.map(([n, v]) => `${n}=${v}`).join('&');
}

function canonicalHeaderValue(value: string | string[]): string {
  const values = Array.isArray(value) ? value : [value];
  return values.map((v) => v.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').trim()).join(',');
}

/** RFC 3986 unreserved characters stay; everything else is %XX of its UTF-8 bytes. */
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function headerValue(headers: SignedRequest['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function basicDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}
