export type * from './types.ts';
export { SqliteStore } from './sqlite/sqlite-store.ts';
export { SqliteDatabase } from './sqlite/database.ts';
export { StoreRecordWriter } from './record-writer.ts';
export { InvocationBlock, type InvocationBlockData } from './invocation-block.ts';
export { SqliteRecordWriter } from './sqlite/record-writer.ts';
