import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AviaryError } from '../shared/errors.ts';
import { systemClock, type Clock } from '../shared/clock.ts';
import type { KeyRecord, Store } from '../store/index.ts';
import type { SecretBox } from './secrets.ts';
import { SignatureError, checkRequestMeta, parseAuthorization, signedPayloadHash, verifySignature, type SignedRequest } from './sigv4.ts';

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
  /** SigV4: sealed secrets are decrypted once per access key id. */
  readonly #sigv4Cache = new Map<string, { principal: Principal; secret: string }>();
  readonly #secrets: SecretBox | undefined;
  readonly #clock: Clock;

  /** Without `secrets` (the master key) keys get no SigV4 secret and SigV4 requests are refused. */
  constructor(store: Store, options: KeysOptions = {}) {
    this.#store = store;
    this.#secrets = options.secrets;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * The first-start admin key with SigV4 credentials (access key id = key id, a random secret
   * stored sealed), unless keys exist. Presets (AVIARY_ADMIN_KEY, AVIARY_ADMIN_ACCESS_KEY_ID /
   * AVIARY_ADMIN_SECRET_ACCESS_KEY) are for automation; nothing is derived from the token.
   */
  async createFirstAdmin(preset: AdminPreset, now: number): Promise<AdminKey | undefined> {
    if ((await this.#store.countKeys()) > 0) return undefined;
    const token = preset.token ?? newToken();
    const id = preset.accessKeyId ?? newAccessKeyId();
    const secret = this.#secrets ? (preset.secretAccessKey ?? newSecretAccessKey()) : undefined;
    await this.#store.createKey({
      id,
      namespace: 'default',
      role: 'admin',
      tokenHash: hashToken(token),
      description: 'admin key created on first start',
      createdAt: now,
      sigv4Secret: secret === undefined ? null : this.#secrets!.seal(secret, id),
    });
    return { token, credentials: secret === undefined ? undefined : { accessKeyId: id, secretAccessKey: secret } };
  }

  /**
   * Starts authenticating a SigV4-signed request: parses the Authorization header, checks the
   * scope and the date against the clock, finds the key. `verify` finishes once the body has
   * been read (its hash is signed) and returns the principal, or throws SignatureError.
   */
  async beginSigV4(req: SignedRequest, service = 'lambda'): Promise<PendingSigV4> {
    const auth = parseAuthorization(String(req.headers.authorization ?? ''));
    const { amzDate } = checkRequestMeta(req, auth, this.#clock.now(), service);
    const key = await this.#sigV4Key(auth.accessKeyId);
    return {
      principal: key.principal,
      verify: (bodySha256) => {
        verifySignature(req, auth, key.secret, amzDate, signedPayloadHash(req, bodySha256));
        return key.principal;
      },
    };
  }

  async #sigV4Key(accessKeyId: string): Promise<{ principal: Principal; secret: string }> {
    const cached = this.#sigv4Cache.get(accessKeyId);
    if (cached) return cached;
    const key = await this.#store.findKeyById(accessKeyId);
    if (!key || !key.sigv4Secret || !this.#secrets) {
      throw new SignatureError('UnrecognizedClientException', key
        ? `The security token included in the request is invalid: key ${accessKeyId} has no SigV4 secret; use its bearer token (Authorization: Bearer …)`
        : `The security token included in the request is invalid: no key has the access key id ${JSON.stringify(accessKeyId)}; use the credentials the server printed on first start (admin.credentials in its data folder)`);
    }
    const entry = { principal: { keyId: key.id, namespace: key.namespace, role: key.role }, secret: this.#secrets.open(key.sigv4Secret, key.id) };
    this.#sigv4Cache.set(accessKeyId, entry);
    return entry;
  }

  /**
   * On the very first start there is no key: create the admin key of the `default` namespace,
   * from `presetToken` when given (AVIARY_ADMIN_KEY, for automation), and return it once.
   */
  async ensureAdminKey(presetToken: string | undefined, now: number): Promise<string | undefined> {
    return (await this.createFirstAdmin({ token: presetToken }, now))?.token;
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

export interface KeysOptions {
  /** Seals SigV4 secrets at rest (the data folder's master.key). */
  secrets?: SecretBox | undefined;
  /** For SigV4's 15-minute freshness window. */
  clock?: Clock | undefined;
}

/** SigV4 credentials of a key, as an AWS SDK takes them. */
export interface AccessKey {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface AdminPreset {
  token?: string | undefined;
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
}

export interface AdminKey {
  token: string;
  /** Absent when the server has no master key to seal a secret with. */
  credentials: AccessKey | undefined;
}

/** A SigV4 request whose key and date check out; the signature is checked once the body is read. */
export interface PendingSigV4 {
  principal: Principal;
  /** Checks the signature with the SHA-256 (hex) of the body as received; throws SignatureError. */
  verify(bodySha256: string): Principal;
}

/** Key ids double as access key ids: `key_` and 64 random bits (hex). */
export function newAccessKeyId(): string {
  return `key_${randomBytes(8).toString('hex')}`;
}

/** 240 random bits, 40 characters like an AWS secret access key. */
export function newSecretAccessKey(): string {
  return randomBytes(30).toString('base64url');
}
