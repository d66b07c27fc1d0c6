export { Pool, type Lease, type PoolOptions, type PoolTarget } from './pool.ts';
