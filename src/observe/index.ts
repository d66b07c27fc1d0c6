export { MAX_PENDING_BATCHES, Recorder } from './recorder.ts';
