/**
 * CloudEvents 1.0 over HTTP (the spec's HTTP protocol binding and JSON event format):
 * structured mode (`application/cloudevents+json`, or plain `application/json` carrying the
 * attributes), binary mode (attributes in `ce-*` headers, the body is `data` and its
 * Content-Type is `datacontenttype`) and batch mode (`application/cloudevents-batch+json`).
 * Every event comes out in the structured JSON shape, which is what functions receive.
 */
import { AviaryError, validationError, type FieldIssue } from '../../shared/errors.ts';

export const EVENT_LIMITS = {
  /** maxEventBytes: one publish request (an event, or a whole batch), as EventBridge's 256 KB. */
  maxEventBytes: 256 * 1024,
  /** maxBatchEvents: events in one batch-mode request. */
  maxBatchEvents: 100,
} as const;

export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject?: string;
  time?: string;
  datacontenttype?: string;
  dataschema?: string;
  data?: unknown;
  data_base64?: string;
  /** Extension attributes: lower-case names, string, boolean or integer values. */
  [extension: string]: unknown;
}

export type PublishMode = 'structured' | 'binary' | 'batch';

export type Headers = Record<string, string | string[] | undefined>;

const REQUIRED = ['id', 'source', 'type'] as const;
const OPTIONAL_STRINGS = ['subject', 'datacontenttype', 'dataschema', 'time'] as const;
const EXTENSION_NAME = /^[a-z0-9]+$/;
const MEDIA_TYPE = /^[A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+(\s*;.*)?$/;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const INT32 = { min: -2147483648, max: 2147483647 };

const HOW = 'send a CloudEvent in structured mode (Content-Type: application/cloudevents+json) or binary mode (ce-specversion, ce-id, ce-source and ce-type headers); see docs/events.md';

/**
 * The events of one HTTP request. `contentType` and `headers` are the request's (header names
 * lower-case, as Node gives them); `body` is the raw body, already bounded by maxEventBytes.
 */
export function parseHttpEvents(headers: Headers, body: Buffer): { mode: PublishMode; events: CloudEvent[] } {
  const contentType = header(headers, 'content-type');
  const media = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (media.startsWith('application/cloudevents-batch')) {
    const value = parseJsonBody(body, 'the batch');
    if (!Array.isArray(value)) throw validationError([{ path: 'body', message: 'a batch must be a JSON array of CloudEvents' }], 'event batch');
    if (value.length === 0) throw validationError([{ path: 'body', message: 'the batch is empty; send at least one event' }], 'event batch');
    if (value.length > EVENT_LIMITS.maxBatchEvents) {
      throw validationError([{ path: 'body', message: `the batch has ${value.length} events; the limit (maxBatchEvents) is ${EVENT_LIMITS.maxBatchEvents}` }], 'event batch');
    }
    const issues: FieldIssue[] = [];
    const events: CloudEvent[] = [];
    value.forEach((v, i) => {
      const r = checkStructured(v, `[${i}]`);
      if ('issues' in r) issues.push(...r.issues);
      else events.push(r.event);
    });
    if (issues.length > 0) throw validationError(issues, 'event batch');
    return { mode: 'batch', events };
  }
  if (media.startsWith('application/cloudevents')) {
    if (media !== 'application/cloudevents+json') {
      throw new AviaryError('UnsupportedMediaType', `unsupported event format ${JSON.stringify(media)}: Aviary reads application/cloudevents+json (the JSON event format)`);
    }
    return { mode: 'structured', events: [parseStructured(parseJsonBody(body, 'the event'))] };
  }
  if (header(headers, 'ce-specversion') !== undefined) return { mode: 'binary', events: [parseBinary(headers, body)] };
  if (media === 'application/json') {
    const value = parseJsonBody(body, 'the event');
    if (Array.isArray(value)) {
      throw validationError([{ path: 'body', message: 'is a JSON array; send a batch with Content-Type: application/cloudevents-batch+json' }], 'event');
    }
    return { mode: 'structured', events: [parseStructured(value)] };
  }
  throw new AviaryError('UnsupportedMediaType', contentType === undefined
    ? `no Content-Type and no ce-specversion header: ${HOW}`
    : `Content-Type ${JSON.stringify(contentType)} without a ce-specversion header is not a CloudEvent: ${HOW}`);
}

/** A structured-mode event (a parsed JSON value); throws a ValidationError naming each bad attribute. */
export function parseStructured(value: unknown): CloudEvent {
  const r = checkStructured(value, '');
  if ('issues' in r) throw validationError(r.issues, 'CloudEvent');
  return r.event;
}

/** A binary-mode event: attributes from `ce-*` headers, data from the body and its Content-Type. */
export function parseBinary(headers: Headers, body: Buffer): CloudEvent {
  const issues: FieldIssue[] = [];
  const attrs: Record<string, unknown> = {};
  const label = new Map<string, string>();
  for (const [name, raw] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!lower.startsWith('ce-') || raw === undefined) continue;
    const attr = lower.slice(3);
    if (Array.isArray(raw)) {
      issues.push({ path: lower, message: 'is given more than once' });
      continue;
    }
    if (attr === 'datacontenttype') {
      issues.push({ path: lower, message: 'is not used in binary mode: the Content-Type header is the datacontenttype' });
      continue;
    }
    if (attr === 'data' || attr === 'data_base64') {
      issues.push({ path: lower, message: 'is not an attribute: in binary mode the request body is the data' });
      continue;
    }
    try {
      attrs[attr] = decodeURIComponent(raw);
    } catch {
      issues.push({ path: lower, message: 'is not validly percent-encoded (write % as %25)' });
      continue;
    }
    label.set(attr, lower);
  }
  const contentType = header(headers, 'content-type');
  if (body.length > 0) {
    if (contentType !== undefined) attrs.datacontenttype = contentType;
    label.set('datacontenttype', 'content-type');
    const media = (contentType ?? 'application/octet-stream').split(';', 1)[0]!.trim().toLowerCase();
    if (isJsonMedia(media)) {
      try {
        attrs.data = JSON.parse(body.toString('utf8'));
      } catch (err) {
        issues.push({ path: 'body', message: `is not valid JSON (${(err as Error).message}) but Content-Type says ${media}` });
      }
    } else {
      const text = isTextMedia(media) ? utf8(body) : undefined;
      if (text !== undefined) attrs.data = text;
      else attrs.data_base64 = body.toString('base64');
    }
  }
  const r = checkStructured(attrs, '', (attr) => label.get(attr) ?? `ce-${attr}`);
  if ('issues' in r) issues.push(...r.issues);
  if (issues.length > 0) throw validationError(issues, 'CloudEvent');
  return (r as { event: CloudEvent }).event;
}

/**
 * Checks one event against the spec's attribute rules; returns it in a canonical attribute
 * order (required, optional, extensions, data) or every problem found. `name` turns an
 * attribute into the path reported for it (a header name in binary mode).
 */
function checkStructured(value: unknown, at: string, name: (attr: string) => string = (a) => (at === '' ? a : `${at}.${a}`)): { event: CloudEvent } | { issues: FieldIssue[] } {
  const issues: FieldIssue[] = [];
  const add = (attr: string, message: string): void => void issues.push({ path: name(attr), message });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { issues: [{ path: at, message: `must be a JSON object with the CloudEvents attributes specversion, id, source and type, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}` }] };
  }
  const v = value as Record<string, unknown>;
  const event: Record<string, unknown> = { specversion: '1.0' };

  const spec = v.specversion;
  if (spec === undefined || spec === null) add('specversion', 'is required and must be "1.0"');
  else if (spec !== '1.0') add('specversion', `must be "1.0" (the CloudEvents version Aviary accepts), got ${JSON.stringify(spec)}`);

  for (const attr of REQUIRED) {
    const x = v[attr];
    if (x === undefined || x === null) {
      add(attr, attr === 'id'
        ? 'is required: a value unique for this source, such as a UUID (`aviary event publish` generates one)'
        : `is required (CloudEvents 1.0), e.g. ${attr === 'source' ? '"shop"' : '"order.created"'}`);
    } else if (typeof x !== 'string' || x === '') add(attr, `must be a non-empty string, got ${JSON.stringify(x)}`);
    else if (hasControl(x)) add(attr, 'must not contain control characters');
    else event[attr] = x;
  }

  for (const attr of OPTIONAL_STRINGS) {
    const x = v[attr];
    if (x === undefined || x === null) continue;
    if (typeof x !== 'string' || x === '') {
      add(attr, `must be a non-empty string when given, got ${JSON.stringify(x)}`);
      continue;
    }
    if (attr === 'time' && !isRfc3339(x)) add(attr, `must be an RFC 3339 timestamp such as 2026-11-22T10:00:00Z, got ${JSON.stringify(x)}`);
    else if (attr === 'datacontenttype' && !MEDIA_TYPE.test(x)) add(attr, `must be a media type such as application/json, got ${JSON.stringify(x)}`);
    else if (attr === 'dataschema' && !URL.canParse(x)) add(attr, `must be an absolute URI, got ${JSON.stringify(x)}`);
    else if (hasControl(x)) add(attr, 'must not contain control characters');
    else event[attr] = x;
  }

  for (const [attr, x] of Object.entries(v)) {
    if (attr === 'specversion' || attr === 'data' || attr === 'data_base64' || (REQUIRED as readonly string[]).includes(attr) || (OPTIONAL_STRINGS as readonly string[]).includes(attr)) continue;
    if (!EXTENSION_NAME.test(attr)) {
      add(attr, 'is not a valid attribute name: CloudEvents attribute names are lower-case letters and digits only');
      continue;
    }
    if (x === null || x === undefined) continue;
    if (typeof x === 'string' || typeof x === 'boolean') event[attr] = x;
    else if (typeof x === 'number' && Number.isInteger(x) && x >= INT32.min && x <= INT32.max) event[attr] = x;
    else add(attr, `extension values must be a string, a boolean or a 32-bit integer, got ${typeof x === 'object' ? (Array.isArray(x) ? 'an array' : 'an object') : JSON.stringify(x)}`);
  }

  const hasData = v.data !== undefined;
  const b64 = v.data_base64;
  if (hasData && b64 !== undefined && b64 !== null) add('data_base64', 'cannot be given together with data; use one of them');
  else if (hasData) event.data = v.data;
  else if (b64 !== undefined && b64 !== null) {
    if (typeof b64 !== 'string' || !BASE64.test(b64)) add('data_base64', 'must be a base64 string');
    else event.data_base64 = b64;
  }

  return issues.length > 0 ? { issues } : { event: event as CloudEvent };
}

function parseJsonBody(body: Buffer, what: string): unknown {
  const text = body.toString('utf8');
  if (text.trim() === '') throw validationError([{ path: 'body', message: `is empty; send ${what} as JSON` }], 'event');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw validationError([{ path: 'body', message: `is not valid JSON (${(err as Error).message})` }], 'event');
  }
}

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function isJsonMedia(media: string): boolean {
  return media === 'application/json' || media === 'text/json' || media.endsWith('+json');
}

function isTextMedia(media: string): boolean {
  return media.startsWith('text/') || media === 'application/xml' || media.endsWith('+xml') || media === 'application/x-www-form-urlencoded';
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function utf8(body: Buffer): string | undefined {
  try {
    return decoder.decode(body);
  } catch {
    return undefined;
  }
}

function hasControl(s: string): boolean {
  return /[\u0000-\u001f\u007f]/.test(s);
}

const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function isRfc3339(s: string): boolean {
  const m = RFC3339.exec(s);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  if (day > (month === 2 && !leap ? 28 : DAYS[month - 1]!)) return false;
  if (m[9] !== undefined && (Number(m[10]) > 23 || Number(m[11]) > 59)) return false;
  return true;
}
