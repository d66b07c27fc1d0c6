import { flattened } from '../../shared/json.ts';
import { httpApiEventTemplate, type EventMatch, type EventTemplate, type RawTriggerRequest } from './event.ts';

type TemplateRequest = Omit<RawTriggerRequest, 'requestId' | 'timeEpoch'>;

interface Entry {
  req: TemplateRequest;
  routeKey: string;
  template: EventTemplate;
}

/**
 * The last bodiless request's event template per connection. A keep-alive client (a browser, a
 * service calling another) mostly repeats its request line and headers, and then the event
 * differs only in its ids and times: comparing a few strings is far cheaper than writing the
 * headers, path and request context as JSON again.
 */
export class EventTemplateCache {
  readonly #byConnection = new WeakMap<object, Entry>();

  /** The template for `req` on `connection` (its socket): the cached one when the request is the same. */
  get(connection: object, req: TemplateRequest, match: EventMatch): EventTemplate {
    if (req.body.length > 0) return httpApiEventTemplate(req, match);
    const cached = this.#byConnection.get(connection);
    if (cached !== undefined && cached.routeKey === match.routeKey && sameRequest(cached.req, req)) return cached.template;
    const built = httpApiEventTemplate(req, match);
    // copied into the invoke frame of every request that reuses it: flattened once, here
    const template = { head: flattened(built.head), middle: flattened(built.middle), tail: flattened(built.tail) };
    this.#byConnection.set(connection, { req, routeKey: match.routeKey, template });
    return template;
  }
}

/** Same method, URL, HTTP version, peer and raw header lines (the URL and route fix the path parameters). */
function sameRequest(a: TemplateRequest, b: TemplateRequest): boolean {
  if (a.url !== b.url || a.method !== b.method || a.httpVersion !== b.httpVersion || a.sourceIp !== b.sourceIp) return false;
  const x = a.rawHeaders;
  const y = b.rawHeaders;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
