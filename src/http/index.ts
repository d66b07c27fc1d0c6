export { createHttpServer, type HttpServer } from './server.ts';
export type { ApiDeps } from './api/index.ts';
