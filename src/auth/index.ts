export { Keys, hashToken, newToken, type Principal } from './keys.ts';
