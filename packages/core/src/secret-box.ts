// packages/core/src/secret-box.ts
// Secrets at rest: AES-256-GCM with a key id, over a keyring. Old keys keep decrypting after
// rotation; `open` says when a secret should be re-encrypted under the current key.
// The ciphertext is bound to its owner (user and factor) as additional data.
// On node:crypto's synchronous AES-GCM (every login opens one secret): the envelope is the one
// Web Crypto writes — ciphertext then the 16-byte tag — and tags of any other length are refused.
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { MfaError } from './errors';
import { base64UrlDecode, base64UrlEncode, type RandomSource } from './crypto';

const TAG_BYTES = 16;

export interface EncryptionKeys {
  /** Id of the key used for new encryptions. */
  current: string;
  /** Key id → 32-byte key, base64 (or base64url). */
  keys: Record<string, string>;
}

export interface SecretBox {
  seal(plaintext: string, binding: string): Promise<string>;
  open(envelope: string, binding: string): Promise<{ plaintext: string; stale: boolean }>;
  /** Id of the key used for new encryptions. */
  readonly currentKeyId: string;
  /** Raw bytes of a key of the ring (the current one by default), for deriving other keys; undefined for an unknown id. */
  keyBytes(id?: string): Uint8Array | undefined;
}

export function decodeKey(value: string): Uint8Array {
  return new Uint8Array(Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
}

export function createSecretBox(config: EncryptionKeys, random: RandomSource): SecretBox {
  const raw = new Map<string, Uint8Array>(Object.entries(config.keys).map(([id, k]) => [id, decodeKey(k)]));
  const imported = new Map<string, KeyObject>();
  const key = (id: string) => {
    let k = imported.get(id);
    if (!k) {
      const bytes = raw.get(id);
      if (!bytes) throw new MfaError('store_unavailable', `Secret was encrypted with unknown key id "${id}"`);
      k = createSecretKey(bytes);
      imported.set(id, k);
    }
    return k;
  };

  return {
    async seal(plaintext, binding) {
      const k = key(config.current);
      const iv = random(12);
      const cipher = createCipheriv('aes-256-gcm', k, iv, { authTagLength: TAG_BYTES }).setAAD(Buffer.from(binding, 'utf8'));
      const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return `v1.${config.current}.${base64UrlEncode(iv)}.${base64UrlEncode(ct)}`;
    },
    async open(envelope, binding) {
      const parts = envelope.split('.');
      if (parts.length !== 4 || parts[0] !== 'v1') throw new MfaError('store_unavailable', 'Malformed encrypted secret');
      const [, id, iv, ct] = parts as [string, string, string, string];
      try {
        const k = key(id);
        const sealed = base64UrlDecode(ct);
        if (sealed.length < TAG_BYTES) throw new RangeError('ciphertext shorter than its tag');
        const body = sealed.subarray(0, sealed.length - TAG_BYTES);
        const decipher = createDecipheriv('aes-256-gcm', k, base64UrlDecode(iv), { authTagLength: TAG_BYTES })
          .setAAD(Buffer.from(binding, 'utf8'))
          .setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
        const pt = Buffer.concat([decipher.update(body), decipher.final()]);
        return { plaintext: pt.toString('utf8'), stale: id !== config.current };
      } catch (error) {
        if (error instanceof MfaError) throw error;
        throw new MfaError('store_unavailable', 'Encrypted secret failed authentication', { cause: error });
      }
    },
    currentKeyId: config.current,
    keyBytes(id = config.current) {
      return raw.get(id);
    },
  };
}
