import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AccessKey, AdminPreset, Keys } from './keys.ts';

export interface AdminSetup {
  /** The admin bearer token, only on the first start of a data folder. */
  adminKey: string | undefined;
  /** Its SigV4 credentials, only on the first start. */
  adminCredentials: AccessKey | undefined;
}

/**
 * First start of a data folder: creates the admin key and saves it, readable only by the
 * server's user, as `admin.key` (the bearer token) and `admin.credentials` (an AWS shared
 * credentials file, so `AWS_SHARED_CREDENTIALS_FILE` can point at it).
 */
export async function setUpAdmin(keys: Keys, dataDir: string, preset: AdminPreset, now: number): Promise<AdminSetup> {
  const admin = await keys.createFirstAdmin(preset, now);
  if (!admin) return { adminKey: undefined, adminCredentials: undefined };
  writeFileSync(path.join(dataDir, 'admin.key'), `${admin.token}\n`, { mode: 0o600 });
  if (admin.credentials) writeFileSync(path.join(dataDir, 'admin.credentials'), credentialsFile(admin.credentials), { mode: 0o600 });
  return { adminKey: admin.token, adminCredentials: admin.credentials };
}

export function credentialsFile(c: AccessKey): string {
  return [
    '# Aviary admin key: SigV4 credentials for the Lambda Invoke API (/2015-03-31), see docs/api.md.',
    '# export AWS_SHARED_CREDENTIALS_FILE=<this file> AWS_REGION=local',
    '[default]',
    `aws_access_key_id = ${c.accessKeyId}`,
    `aws_secret_access_key = ${c.secretAccessKey}`,
    '',
  ].join('\n');
}
