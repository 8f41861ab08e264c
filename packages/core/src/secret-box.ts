// packages/core/src/secret-box.ts
// Secrets at rest: AES-256-GCM with a key id, over a keyring. Old keys keep decrypting after
// rotation; `open` says when a secret should be re-encrypted under the current key.
// The ciphertext is bound to its owner (user and factor) as additional data.
import { MfaError } from './errors';
import { base64UrlDecode, base64UrlEncode, type RandomSource } from './crypto';

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
  const imported = new Map<string, Promise<CryptoKey>>();
  const key = (id: string) => {
    let k = imported.get(id);
    if (!k) {
      const bytes = raw.get(id);
      if (!bytes) throw new MfaError('store_unavailable', `Secret was encrypted with unknown key id "${id}"`);
      k = globalThis.crypto.subtle.importKey('raw', bytes as BufferSource, 'AES-GCM', false, ['encrypt', 'decrypt']);
      imported.set(id, k);
    }
    return k;
  };
  const encoder = new TextEncoder();

  return {
    async seal(plaintext, binding) {
      const iv = random(12);
      const ct = await globalThis.crypto.subtle.encrypt(
        { name: 'AES-GCM', iv: iv as BufferSource, additionalData: encoder.encode(binding) as BufferSource },
        await key(config.current), encoder.encode(plaintext) as BufferSource,
      );
      return `v1.${config.current}.${base64UrlEncode(iv)}.${base64UrlEncode(new Uint8Array(ct))}`;
    },
    async open(envelope, binding) {
      const parts = envelope.split('.');
      if (parts.length !== 4 || parts[0] !== 'v1') throw new MfaError('store_unavailable', 'Malformed encrypted secret');
      const [, id, iv, ct] = parts as [string, string, string, string];
      try {
        const pt = await globalThis.crypto.subtle.decrypt(
          { name: 'AES-GCM', iv: base64UrlDecode(iv) as BufferSource, additionalData: encoder.encode(binding) as BufferSource },
          await key(id), base64UrlDecode(ct) as BufferSource,
        );
        return { plaintext: new TextDecoder().decode(pt), stale: id !== config.current };
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
