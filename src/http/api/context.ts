import type { FastifyRequest } from 'fastify';
import type { Principal } from '../../auth/index.ts';
import type { Keys } from '../../auth/index.ts';
import type { BlobStore, BuiltPackages } from '../../blobs/index.ts';
import type { Invoker } from '../../invoke/index.ts';
import type { Recorder } from '../../observe/index.ts';
import type { Pool } from '../../pool/index.ts';
import type { Registry } from '../../registry/index.ts';
import type { Store } from '../../store/index.ts';
import type { Limits } from '../../server/config.ts';
import type { Schedules } from '../../triggers/schedule/index.ts';
import type { EventBus, Rules } from '../../triggers/events/index.ts';
import type { AsyncService } from '../../async/index.ts';
import type { QueueTriggers, Topics } from '../../triggers/queue/index.ts';

/** What the management API handlers need, passed in by the composition root. */
export interface ApiDeps {
  registry: Registry;
  invoker: Invoker;
  blobs: BlobStore;
  packages: BuiltPackages;
  keys: Keys;
  recorder: Recorder;
  store: Store;
  pool: Pool;
  limits: Limits;
  isolation: 'bubblewrap' | 'none';
  /** Processes and threads one instance may have; null where cgroups could not be used. */
  processLimit: number | null;
  version: string;
  schedules: Schedules;
  /** Event rules, and the bus that publishes events through them. */
  rules: Rules;
  events: EventBus;
  /** The durable async queue: `enqueue` (the AsyncInvoker every event source uses) and its invocation, dead-letter and config reads. */
  asyncInvoker: AsyncService;
  /** Built-in topics (durable queues in the store). */
  topics: Topics;
  /** Queue triggers: topic, NATS JetStream and MQTT sources bound to functions. */
  queueTriggers: QueueTriggers;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** The authenticated caller (the auth hook ran before every /v1 handler). */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new Error('route reached without authentication');
  return req.principal;
}

/** Base URL the client used to reach us, for URLs we print back. */
export function baseUrl(req: FastifyRequest): string {
  return `${req.protocol}://${req.headers.host ?? 'localhost'}`;
}
