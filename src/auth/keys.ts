import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AviaryError } from '../shared/errors.ts';
import type { KeyRecord, Store } from '../store/index.ts';

/** Who made a request: the key's id, its namespace and role. */
export interface Principal {
  keyId: string;
  namespace: string;
  role: KeyRecord['role'];
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A new bearer token: a recognisable prefix and 256 random bits. */
export function newToken(): string {
  return `avk_${randomBytes(32).toString('base64url')}`;
}

/**
 * API keys. Only a SHA-256 of each token is stored: a leaked database does not leak keys.
 * Lookups go through a small cache so the store is not read on every request.
 */
export class Keys {
  readonly #store: Store;
  readonly #cache = new Map<string, Principal>();

  constructor(store: Store) {
    this.#store = store;
  }

  /**
   * On the very first start there is no key: create the admin key of the `default` namespace,
   * from `presetToken` when given (AVIARY_ADMIN_KEY, for automation), and return it once.
   */
  async ensureAdminKey(presetToken: string | undefined, now: number): Promise<string | undefined> {
    if ((await this.#store.countKeys()) > 0) return undefined;
    const token = presetToken ?? newToken();
    await this.#store.createKey({
      id: `key_${randomBytes(8).toString('hex')}`,
      namespace: 'default',
      role: 'admin',
      tokenHash: hashToken(token),
      description: 'admin key created on first start',
      createdAt: now,
    });
    return token;
  }

  /** Resolves an `Authorization` header to a principal, or throws Unauthorized saying what to do. */
  async authenticate(header: string | undefined): Promise<Principal> {
    if (!header) {
      throw new AviaryError('Unauthorized', 'missing API key: send `Authorization: Bearer <key>` (the CLI does this after `aviary login --key <key>` or with AVIARY_API_KEY set; the server printed its admin key on first start)');
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new AviaryError('Unauthorized', 'malformed Authorization header: expected `Bearer <key>`');
    const hash = hashToken(m[1]!);
    const cached = this.#cache.get(hash);
    if (cached) return cached;
    const key = await this.#store.findKeyByTokenHash(hash);
    if (!key || !timingSafeEqual(Buffer.from(key.tokenHash), Buffer.from(hash))) {
      throw new AviaryError('Unauthorized', 'unknown API key: check AVIARY_API_KEY or run `aviary login --key <key>` again');
    }
    const principal = { keyId: key.id, namespace: key.namespace, role: key.role };
    this.#cache.set(hash, principal);
    return principal;
  }
}
