// packages/webauthn/src/parse-response.ts
// The plugin's parseInput: a strict check of the JSON a browser sends (RegistrationResponseJSON or
// AuthenticationResponseJSON) and of the bytes inside it (client data JSON, CBOR attestation object,
// authenticator data), before anything is counted. Anything malformed is `invalid_request` naming
// `response` (a 400), never a TypeError (a 500) and never a failed attempt.
import { type FactorInput, MfaError } from '@secondfactor/core';
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { decodeAttestationObject, decodeCredentialPublicKey, parseAuthenticatorData } from '@simplewebauthn/server/helpers';
import { fromBase64Url, isBase64Url } from './base64url';

/** What `parseInput` returns: which ceremony the response answers, and a fresh copy holding only checked fields. */
export type ParsedResponse = { kind: 'registration'; json: RegistrationResponseJSON } | { kind: 'authentication'; json: AuthenticationResponseJSON };

/** Caps in base64url characters (or items): far above what authenticators send, far below what would cost anything. */
const MAX = {
  /** Credential ids are at most 1023 bytes (WebAuthn §5.1). */
  credentialId: 1364,
  clientDataJSON: 8192,
  authenticatorData: 16384,
  signature: 4096,
  /** User handles are at most 64 bytes. */
  userHandle: 86,
  attestationObject: 65536,
  publicKey: 8192,
  transports: 16,
  /** Serialized JSON length. */
  clientExtensionResults: 4096,
} as const;

const TOP_KEYS = ['id', 'rawId', 'type', 'response', 'clientExtensionResults', 'authenticatorAttachment'];
const ATTESTATION_KEYS = ['clientDataJSON', 'attestationObject', 'authenticatorData', 'transports', 'publicKeyAlgorithm', 'publicKey'];
const ASSERTION_KEYS = ['clientDataJSON', 'authenticatorData', 'signature', 'userHandle'];
const TRANSPORT = /^[a-z0-9-]{1,32}$/;

function bad(message: string, cause?: unknown): never {
  throw new MfaError('invalid_request', `response ${message}`, { field: 'response', cause });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  // An object literal of any realm (its prototype is an Object.prototype), or a null-prototype object.
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

function onlyKeys(value: Record<string, unknown>, known: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) bad(`${where} has an unexpected field "${key.slice(0, 40)}"`);
  }
}

function base64Url(value: unknown, name: string, max: number, min = 1): string {
  if (typeof value !== 'string') bad(`${name} must be a base64url string`);
  if (value.length < min || value.length > max) bad(`${name} must be ${min} to ${max} base64url characters`);
  if (!isBase64Url(value)) bad(`${name} is not unpadded base64url`);
  return value;
}

function checkClientData(value: unknown): string {
  const encoded = base64Url(value, 'response.clientDataJSON', MAX.clientDataJSON);
  let clientData: unknown;
  try {
    clientData = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(fromBase64Url(encoded)));
  } catch (error) {
    bad('response.clientDataJSON is not UTF-8 JSON', error);
  }
  if (!isPlainObject(clientData)) bad('response.clientDataJSON is not a JSON object');
  for (const field of ['type', 'challenge', 'origin']) {
    if (typeof clientData[field] !== 'string') bad(`response.clientDataJSON has no string "${field}"`);
  }
  return encoded;
}

function checkAttestationObject(value: unknown): string {
  const encoded = base64Url(value, 'response.attestationObject', MAX.attestationObject);
  try {
    const decoded: unknown = decodeAttestationObject(fromBase64Url(encoded));
    if (!(decoded instanceof Map)) throw new Error('not a CBOR map');
    const fmt: unknown = decoded.get('fmt');
    const attStmt: unknown = decoded.get('attStmt');
    const authData: unknown = decoded.get('authData');
    if (typeof fmt !== 'string' || !(attStmt instanceof Map) || !(authData instanceof Uint8Array)) throw new Error('fmt, attStmt or authData missing');
    const parsed = parseAuthenticatorData(new Uint8Array(authData));
    if (!parsed.flags.at || !parsed.credentialID || !parsed.credentialPublicKey) throw new Error('no attested credential data');
    if (parsed.credentialID.byteLength < 1 || parsed.credentialID.byteLength > 1023) throw new Error('credential id length');
    if (!(decodeCredentialPublicKey(parsed.credentialPublicKey) instanceof Map)) throw new Error('credential public key is not a COSE map');
  } catch (error) {
    bad('response.attestationObject is not a valid CBOR attestation object', error);
  }
  return encoded;
}

function checkAuthenticatorData(value: unknown): string {
  const encoded = base64Url(value, 'response.authenticatorData', MAX.authenticatorData, 50);
  try {
    parseAuthenticatorData(fromBase64Url(encoded));
  } catch (error) {
    bad('response.authenticatorData is not valid authenticator data', error);
  }
  return encoded;
}

function checkTransports(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length > MAX.transports || !value.every((t) => typeof t === 'string' && TRANSPORT.test(t))) {
    bad(`response.transports must be an array of at most ${MAX.transports} transport names such as "usb", "internal"`);
  }
  return [...new Set(value as string[])];
}

function checkRegistration(response: Record<string, unknown>): RegistrationResponseJSON['response'] {
  onlyKeys(response, ATTESTATION_KEYS, 'response.response');
  const checked: RegistrationResponseJSON['response'] = {
    clientDataJSON: checkClientData(response.clientDataJSON),
    attestationObject: checkAttestationObject(response.attestationObject),
  };
  const transports = checkTransports(response.transports);
  if (transports) checked.transports = transports;
  // Browsers add these conveniences (L3 toJSON); verification reads the attestation object, not them.
  if (response.authenticatorData !== undefined) checked.authenticatorData = checkAuthenticatorData(response.authenticatorData);
  if (response.publicKey !== undefined) checked.publicKey = base64Url(response.publicKey, 'response.publicKey', MAX.publicKey);
  if (response.publicKeyAlgorithm !== undefined) {
    if (!Number.isSafeInteger(response.publicKeyAlgorithm)) bad('response.publicKeyAlgorithm must be an integer (a COSE algorithm)');
    checked.publicKeyAlgorithm = response.publicKeyAlgorithm as number;
  }
  return checked;
}

function checkAssertion(response: Record<string, unknown>): AuthenticationResponseJSON['response'] {
  onlyKeys(response, ASSERTION_KEYS, 'response.response');
  const checked: AuthenticationResponseJSON['response'] = {
    clientDataJSON: checkClientData(response.clientDataJSON),
    authenticatorData: checkAuthenticatorData(response.authenticatorData),
    signature: base64Url(response.signature, 'response.signature', MAX.signature),
  };
  // Discoverable credentials return the user handle; null and absent both mean "none".
  if (response.userHandle !== undefined && response.userHandle !== null) {
    checked.userHandle = base64Url(response.userHandle, 'response.userHandle', MAX.userHandle);
  }
  return checked;
}

function parse(input: FactorInput): ParsedResponse {
  const raw = input?.response;
  if (!isPlainObject(raw)) bad('must be a PublicKeyCredential as JSON (what navigator.credentials.create/get returns, .toJSON())');
  onlyKeys(raw, TOP_KEYS, 'response');
  const id = base64Url(raw.id, 'response.id', MAX.credentialId);
  if (raw.rawId !== id) bad('rawId must equal id');
  if (raw.type !== 'public-key') bad('type must be "public-key"');
  const extensions = raw.clientExtensionResults;
  const serialized = isPlainObject(extensions) ? JSON.stringify(extensions) : '';
  if (!isPlainObject(extensions) || serialized.length > MAX.clientExtensionResults) {
    bad(`clientExtensionResults must be an object (at most ${MAX.clientExtensionResults} characters of JSON)`);
  }
  const attachment = raw.authenticatorAttachment;
  if (attachment !== undefined && attachment !== null && attachment !== 'platform' && attachment !== 'cross-platform') {
    bad('authenticatorAttachment must be "platform" or "cross-platform"');
  }
  if (!isPlainObject(raw.response)) bad('response.response must be an object');
  const common = {
    id,
    rawId: id,
    type: 'public-key' as const,
    clientExtensionResults: JSON.parse(serialized) as Record<string, unknown>,
    ...(attachment ? { authenticatorAttachment: attachment as 'platform' | 'cross-platform' } : {}),
  };
  if (raw.response.attestationObject !== undefined) {
    return { kind: 'registration', json: { ...common, response: checkRegistration(raw.response) } };
  }
  return { kind: 'authentication', json: { ...common, response: checkAssertion(raw.response) } };
}

/** Checks a WebAuthn response strictly; throws `MfaError('invalid_request', …, {field: 'response'})` and nothing else. */
export function parseWebAuthnResponse(input: FactorInput): ParsedResponse {
  try {
    return parse(input);
  } catch (error) {
    if (error instanceof MfaError) throw error;
    // Not JSON-shaped after all (a getter that throws, a cycle, a proxy — from a host calling in-process).
    bad('could not be read as JSON data', error);
  }
}
