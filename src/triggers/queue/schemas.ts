import { z } from 'zod';
import { FUNCTION_NAME } from '../../registry/index.ts';
import type { FieldIssue } from '../../shared/errors.ts';
import type { QueueSourceKind } from './types.ts';

/** Topic names: SQS's rule, 1–80 letters, digits, `-` and `_`. */
export const TOPIC_NAME = /^[A-Za-z0-9_-]{1,80}$/;
/** Trigger names: as function names (they name the JetStream durable and the MQTT share group). */
export const TRIGGER_NAME = FUNCTION_NAME;

export const TRIGGER_LIMITS = {
  batchSize: { min: 1, max: 100, default: 10 },
  batchWindowMs: { min: 0, max: 300_000, default: 0 },
  maxConcurrency: { min: 1, max: 1000, default: 2 },
  maxRetries: { min: 0, max: 1000, default: 3 },
  /** Triggers per namespace: each NATS or MQTT trigger holds a broker connection. */
  perNamespace: 100,
} as const;

/** Where a trigger connects when its `url` is left out. */
export const DEFAULT_URLS: Record<Exclude<QueueSourceKind, 'topic'>, string> = {
  nats: 'nats://127.0.0.1:4222',
  mqtt: 'mqtt://127.0.0.1:1883',
};

const URL_SCHEMES: Record<Exclude<QueueSourceKind, 'topic'>, string[]> = {
  nats: ['nats:', 'tls:'],
  mqtt: ['mqtt:', 'mqtts:'],
};

const int = (min: number, max: number, unit: string) =>
  z.number({ error: `must be a number (${unit})` }).int(`must be a whole number (${unit})`)
    .min(min, `must be between ${min} and ${max} (${unit})`).max(max, `must be between ${min} and ${max} (${unit})`);

export const topicSchema = z.strictObject({
  name: z.string({ error: 'is required: a topic name' }).regex(TOPIC_NAME, 'must be 1-80 letters, digits, - or _'),
});

const L = TRIGGER_LIMITS;
export const triggerSchema = z.strictObject({
  name: z.string({ error: 'is required: a trigger name' }).regex(TRIGGER_NAME, 'must be 1-64 letters, digits, - or _, starting with a letter'),
  function: z.string({ error: 'is required: the function to invoke (NAME or NAME:VERSION)' })
    .regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}(:(\$LATEST|[1-9][0-9]*))?$/, 'must be a function name, optionally with :VERSION'),
  source: z.enum(['topic', 'nats', 'mqtt'], { error: 'must be one of topic, nats, mqtt' }),
  topic: z.string().min(1, 'must not be empty').max(65_535).optional(),
  subject: z.string().min(1, 'must not be empty').max(1024).optional(),
  url: z.string().min(1, 'must not be empty').max(2048).optional(),
  stream: z.string().regex(/^[A-Za-z0-9_-]{1,256}$/, 'must be a JetStream stream name (letters, digits, - and _)').optional(),
  batchSize: int(L.batchSize.min, L.batchSize.max, 'messages').default(L.batchSize.default),
  batchWindowMs: int(L.batchWindowMs.min, L.batchWindowMs.max, 'ms').default(L.batchWindowMs.default),
  maxConcurrency: int(L.maxConcurrency.min, L.maxConcurrency.max, 'batches at once').default(L.maxConcurrency.default),
  maxRetries: int(L.maxRetries.min, L.maxRetries.max, 'retries').default(L.maxRetries.default),
  deadLetterTopic: z.string().regex(TOPIC_NAME, 'must be a topic name (1-80 letters, digits, - or _)').optional(),
}).superRefine((v, ctx) => {
  for (const issue of sourceIssues(v)) ctx.addIssue({ code: 'custom', path: [issue.path], message: issue.message });
});
export type TriggerInput = z.infer<typeof triggerSchema>;

/** Which fields each source needs and allows, and whether they are well formed. */
function sourceIssues(v: { source: QueueSourceKind; topic?: string | undefined; subject?: string | undefined; url?: string | undefined; stream?: string | undefined }): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const forbid = (field: 'topic' | 'subject' | 'url' | 'stream', why: string) => {
    if (v[field] !== undefined) issues.push({ path: field, message: `is not used with source ${v.source}: ${why}` });
  };
  switch (v.source) {
    case 'topic':
      if (v.topic === undefined) issues.push({ path: 'topic', message: 'is required for source topic: the built-in topic to consume' });
      else if (!TOPIC_NAME.test(v.topic)) issues.push({ path: 'topic', message: 'must be a topic name (1-80 letters, digits, - or _)' });
      forbid('subject', 'built-in topics are named by topic');
      forbid('url', 'built-in topics live in the server');
      forbid('stream', 'streams are for source nats');
      break;
    case 'nats':
      if (v.subject === undefined) issues.push({ path: 'subject', message: 'is required for source nats: the subject to consume, e.g. orders.>' });
      else {
        const problem = natsSubjectProblem(v.subject);
        if (problem) issues.push({ path: 'subject', message: problem });
      }
      forbid('topic', 'NATS uses subject');
      break;
    case 'mqtt':
      if (v.topic === undefined) issues.push({ path: 'topic', message: 'is required for source mqtt: the MQTT topic filter, e.g. sensors/+/temperature' });
      else {
        const problem = mqttFilterProblem(v.topic);
        if (problem) issues.push({ path: 'topic', message: problem });
      }
      forbid('subject', 'MQTT uses topic');
      forbid('stream', 'streams are for source nats');
      break;
  }
  if (v.source !== 'topic' && v.url !== undefined) {
    const problem = brokerUrlProblem(v.source, v.url);
    if (problem) issues.push({ path: 'url', message: problem });
  }
  return issues;
}

/** NATS subject rules: dot-separated tokens, `*` a whole token, `>` only as the last token. */
export function natsSubjectProblem(subject: string): string | undefined {
  if (/\s/.test(subject)) return 'must not contain spaces';
  const tokens = subject.split('.');
  for (const [i, t] of tokens.entries()) {
    if (t === '') return 'must not have empty tokens (no leading, trailing or double dots)';
    if (t.includes('>') && (t !== '>' || i !== tokens.length - 1)) return '">" must be a whole token and the last one, e.g. orders.>';
    if (t.includes('*') && t !== '*') return '"*" must be a whole token, e.g. orders.*.created';
  }
  return undefined;
}

/** MQTT topic filter rules: `+` a whole level, `#` only as the last level; shared subscriptions are made by Aviary. */
export function mqttFilterProblem(filter: string): string | undefined {
  if (filter.includes('\u0000')) return 'must not contain NUL characters';
  if (filter.startsWith('$share/')) return 'must be a plain topic filter: Aviary subscribes with its own shared subscription ($share/aviary-<trigger>/…)';
  const levels = filter.split('/');
  for (const [i, l] of levels.entries()) {
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) return '"#" must be a whole level and the last one, e.g. sensors/#';
    if (l.includes('+') && l !== '+') return '"+" must be a whole level, e.g. sensors/+/temperature';
  }
  return undefined;
}

/** Why `url` is not a usable broker URL for `source`, naming the problem; undefined when it is. */
export function brokerUrlProblem(source: Exclude<QueueSourceKind, 'topic'>, url: string): string | undefined {
  const schemes = URL_SCHEMES[source];
  const example = DEFAULT_URLS[source];
  const starts = schemes.map((s) => `${s}//`).join(' or ');
  // parsed by hand first: WHATWG URL only says "Invalid URL", and we want to name the problem
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(?:([^@/?#]*)@)?(\[[^\]]*\]|[^:/?#]*)(?::([^/?#]*))?([^?#]*)(.*)$/.exec(url);
  if (!m) return `is not a URL: expected ${starts}host:port, e.g. ${example}`;
  const [, scheme = '', , host = '', port, path = '', rest = ''] = m;
  if (!schemes.includes(`${scheme.toLowerCase()}:`)) return `has scheme ${scheme}; a ${source} broker URL starts with ${starts}, e.g. ${example}`;
  if (host === '') return `has no host, e.g. ${example}`;
  if (port !== undefined && port !== '') {
    if (!/^\d+$/.test(port)) return `has port ${JSON.stringify(port)}, which is not a number, e.g. ${example}`;
    if (Number(port) < 1 || Number(port) > 65535) return `has port ${port}; ports are 1-65535`;
  }
  if (path !== '' && path !== '/') return `must not have a path (${path}); give only ${schemes[0]}//host:port`;
  if (rest !== '') return 'must not have a query or fragment';
  try {
    new URL(url);
  } catch {
    return `has a host that is not valid (${host}), e.g. ${example}`;
  }
  return undefined;
}

/** The URL with its password replaced, for views and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}
