// packages/webauthn/src/factor-data.ts
// What a WebAuthn factor stores in `FactorRecord.data` (nothing secret: a public key and metadata),
// read back defensively; its lookup key (the credential id, hashed) and the signature counter the store keeps for it.
import type { FactorRecord } from '@secondfactor/core';
import { fromBase64Url, isBase64Url, toBase64Url } from './base64url';

/** The factor type name: route segment, `method` value and `FactorRecord.type`. */
export const WEBAUTHN_TYPE = 'webauthn';

/** `data` of an active WebAuthn factor. A pending one holds only `userHandle`. */
export interface WebAuthnFactorData {
  /** The WebAuthn user handle (base64url of 32 random bytes), shared by all keys of one user. */
  userHandle: string;
  /** The credential id (base64url), as browsers list and return it. Its SHA-256 is the factor's `lookupKey`. */
  credentialId: string;
  /** The credential public key, COSE-encoded, base64url. Public: stored as is. */
  publicKey: string;
  /** Transports the browser reported at registration (`usb`, `nfc`, `internal`, `hybrid`…), echoed in allow/exclude lists. */
  transports: string[];
  /** `multiDevice`: a synced passkey; `singleDevice`: bound to one authenticator. */
  deviceType: 'singleDevice' | 'multiDevice';
  /** Whether the credential was backed up (synced) at registration. */
  backedUp: boolean;
  /** The authenticator model's AAGUID (all zeros with `none` attestation on many authenticators). */
  aaguid: string;
}

function isTransports(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((t) => typeof t === 'string');
}

/** The user handle of a factor (pending or active), when it holds a well-formed one. */
export function userHandleOf(factor: FactorRecord): string | undefined {
  const handle = factor.data.userHandle;
  return typeof handle === 'string' && handle.length > 0 && isBase64Url(handle) ? handle : undefined;
}

/** The credential of an active WebAuthn factor, or undefined when the record is not one (another type, pending, damaged). */
export function credentialOf(factor: FactorRecord): WebAuthnFactorData | undefined {
  if (factor.type !== WEBAUTHN_TYPE || factor.status !== 'active') return undefined;
  const d = factor.data;
  const userHandle = userHandleOf(factor);
  const isBytes = (v: unknown): v is string => typeof v === 'string' && v !== '' && isBase64Url(v);
  if (userHandle === undefined || !isBytes(d.credentialId) || !isBytes(d.publicKey)) return undefined;
  return {
    userHandle,
    credentialId: d.credentialId,
    publicKey: d.publicKey,
    transports: isTransports(d.transports) ? [...d.transports] : [],
    deviceType: d.deviceType === 'multiDevice' ? 'multiDevice' : 'singleDevice',
    backedUp: d.backedUp === true,
    aaguid: typeof d.aaguid === 'string' ? d.aaguid : '',
  };
}

/**
 * The factor's `lookupKey`: SHA-256 of the credential id's bytes, base64url (43 characters). The
 * store refuses a second factor of this type with the same key, so one credential belongs to one
 * user. Hashed because a credential id may be up to 1023 bytes (1364 base64url characters) and the
 * SQL stores index at most 512 characters of a lookup key.
 */
export async function lookupKeyOf(credentialId: string): Promise<string> {
  return toBase64Url(new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', fromBase64Url(credentialId))));
}

/** The signature counter last accepted for a factor (0 when none yet: a passkey that never counts). */
export function storedCounter(factor: FactorRecord): number {
  const value = factor.counter;
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0;
}
