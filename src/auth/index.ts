export { Keys, hashToken, newToken, type Principal } from './keys.ts';
export { newAccessKeyId, newSecretAccessKey, type AccessKey, type AdminKey, type AdminPreset, type KeysOptions, type PendingSigV4 } from './keys.ts';
export { SecretBox } from './secrets.ts';
export { EMPTY_SHA256, SignatureError, isSigV4Authorization, type SigV4ErrorType, type SignedRequest } from './sigv4.ts';
export { setUpAdmin, type AdminSetup } from './admin-files.ts';
