import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { AviaryError } from '../shared/errors.ts';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Encrypts secrets the server must be able to read back (SigV4 secret access keys) with
 * AES-256-GCM under a master key kept outside the database. A copied database alone does not
 * reveal them; the ciphertext is bound to its owner (`aad`, e.g. the key id), so it cannot be
 * moved to another row.
 */
export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('the master key must be 32 bytes');
    this.#key = key;
  }

  /**
   * Reads the master key file (base64 of 32 bytes), creating it with mode 0600 when absent.
   * Deleting it makes every stored SigV4 secret unreadable, so it is never replaced silently.
   */
  static loadOrCreate(file: string): SecretBox {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const key = randomBytes(32);
      try {
        // `wx`: never overwrite a key another process created in the meantime
        writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
        return new SecretBox(key);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        text = readFileSync(file, 'utf8');
      }
    }
    const key = Buffer.from(text.trim(), 'base64');
    if (key.length !== 32) {
      throw new AviaryError('InternalError', `${file} is not a master key (expected base64 of 32 bytes); restore it from a backup — the SigV4 secrets in the database were encrypted with it`);
    }
    return new SecretBox(key);
  }

  /** `v1.<base64url(iv | tag | ciphertext)>` */
  seal(plaintext: string, aad: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(aad));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `${VERSION}.${Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64url')}`;
  }

  open(sealed: string, aad: string): string {
    const dot = sealed.indexOf('.');
    if (sealed.slice(0, dot) !== VERSION) throw new AviaryError('InternalError', `unknown secret format ${JSON.stringify(sealed.slice(0, dot))}`);
    const raw = Buffer.from(sealed.slice(dot + 1), 'base64url');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(aad));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch (err) {
      throw new AviaryError('InternalError', `cannot decrypt the SigV4 secret of ${aad}: master.key in the data folder is not the key it was encrypted with (restore the original master.key)`, { cause: err });
    }
  }
}
