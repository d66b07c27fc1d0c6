export { Recorder } from './recorder.ts';
