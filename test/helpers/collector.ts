import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Hit {
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/**
 * A small HTTP server on 127.0.0.1 that records every request: a webhook destination, or the
 * place a test function reports its runs to. `status` decides each answer (default 200).
 */
export class Collector {
  readonly hits: Hit[] = [];
  status: (hit: Hit) => number = () => 200;
  readonly #server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const hit = { path: url.pathname, query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      this.hits.push(hit);
      res.writeHead(this.status(hit), { 'content-type': 'text/plain' }).end('ok');
    });
  });
  url = '';

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  on(path: string): Hit[] {
    return this.hits.filter((h) => h.path === path);
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }
}
