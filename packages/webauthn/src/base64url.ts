// packages/webauthn/src/base64url.ts
// Unpadded base64url, as WebAuthn's JSON carries every byte string: strict checks and conversions.

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** True for an unpadded, canonical base64url string (it is what encoding its bytes gives back). */
export function isBase64Url(value: string): boolean {
  return BASE64URL.test(value) && value.length % 4 !== 1 && Buffer.from(value, 'base64url').toString('base64url') === value;
}

export function fromBase64Url(value: string): Uint8Array<ArrayBuffer> {
  const buffer = Buffer.from(value, 'base64url');
  return new Uint8Array(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength));
}

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}
