// packages/webauthn/test/support/soft-authenticator.ts
// A software WebAuthn authenticator plus client, for tests without a browser: ES256 keys from
// node:crypto, `none` attestation, CBOR from ./cbor. `create` and `get` take the JSON options the
// server sent and return the JSON a browser would post (RegistrationResponseJSON,
// AuthenticationResponseJSON). Every ceremony has knobs to produce what a browser would not: another
// origin or rp id, no user verification, a stale counter, another user's credential, a wrong key.
import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { cborMap, encodeCbor } from './cbor';

const FLAG = { UP: 0x01, UV: 0x04, BE: 0x08, BS: 0x10, AT: 0x40, ED: 0x80 } as const;
const ES256 = -7;

const b64u = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string): Buffer => createHash('sha256').update(data).digest();

export interface SoftCredential {
  /** base64url */
  id: string;
  rpId: string;
  /** base64url user handle given at creation. */
  userHandle: string;
  privateKey: KeyObject;
  /** COSE_Key (EC2, ES256) bytes. */
  cosePublicKey: Uint8Array;
  signCount: number;
}

export interface SoftAuthenticatorOptions {
  /** A synced passkey (backup eligible and backed up: `multiDevice`). Default false: a device-bound security key. */
  synced?: boolean;
  /** Whether the signature counter advances on each use. False: always 0, like most passkey providers. Default true. */
  counts?: boolean;
  /** Transports reported at registration. Default `['usb']`. */
  transports?: string[];
  /** Default true (resident keys return the user handle in assertions). */
  discoverable?: boolean;
}

/** What the client and authenticator do in one ceremony; the defaults are a well-behaved browser. */
export interface CeremonyOptions {
  /** The page's origin (clientDataJSON.origin). */
  origin: string;
  /** The rp id hashed into authenticator data. Default: the one in the options. */
  rpId?: string;
  /** User verified (PIN, biometrics). Default true. */
  uv?: boolean;
  /** User present. Default true. */
  up?: boolean;
  /** Replaces the challenge the options hold. */
  challenge?: string;
  /** Replaces clientDataJSON.type. */
  type?: string;
  /** Replaces the computed flags byte (UP 0x01, UV 0x04, BE 0x08, BS 0x10; AT 0x40 is kept on creation). */
  flags?: number;
}

export interface CreateOptions extends CeremonyOptions {
  /** The new credential's id bytes (1 to 1023). Default: 32 random bytes. */
  credentialId?: Uint8Array;
  /** Report this id in the JSON instead of the attested credential's. */
  reportedId?: string;
  /** The counter in the attested authenticator data. Default 0. */
  initialCounter?: number;
}

export interface GetOptions extends CeremonyOptions {
  /** Answer with this credential even when the options do not allow it (another user's key). */
  credentialId?: string;
  /** Report this signature counter (and remember it). Default: the next one (or 0 when the authenticator does not count). */
  counter?: number;
  /** The user handle to report: a string, null for none. Default: the credential's when discoverable. */
  userHandle?: string | null;
  /** Sign with this key instead of the credential's. */
  signWith?: KeyObject;
}

function coseKey(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  // kty: EC2 (2), alg: ES256 (-7), crv: P-256 (1), x, y — in CTAP2 canonical key order.
  return encodeCbor(
    cborMap([
      [1, 2],
      [3, ES256],
      [-1, 1],
      [-2, Buffer.from(jwk.x!, 'base64url')],
      [-3, Buffer.from(jwk.y!, 'base64url')],
    ]),
  );
}

function u32(n: number): Uint8Array {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(n);
  return out;
}

export class SoftAuthenticator {
  readonly aaguid = new Uint8Array(16);
  readonly credentials: SoftCredential[] = [];
  readonly synced: boolean;
  readonly counts: boolean;
  readonly transports: string[];
  readonly discoverable: boolean;

  constructor(options: SoftAuthenticatorOptions = {}) {
    this.synced = options.synced ?? false;
    this.counts = options.counts ?? true;
    this.transports = options.transports ?? ['usb'];
    this.discoverable = options.discoverable ?? true;
  }

  private flags(c: CeremonyOptions, extra: number): number {
    if (c.flags !== undefined) return c.flags | extra;
    let flags = extra;
    if (c.up ?? true) flags |= FLAG.UP;
    if (c.uv ?? true) flags |= FLAG.UV;
    if (this.synced) flags |= FLAG.BE | FLAG.BS;
    return flags;
  }

  private clientData(type: string, challenge: string, c: CeremonyOptions): Uint8Array {
    return new TextEncoder().encode(JSON.stringify({ type: c.type ?? type, challenge: c.challenge ?? challenge, origin: c.origin, crossOrigin: false }));
  }

  /** navigator.credentials.create(): a new ES256 credential with `none` attestation. */
  create(options: PublicKeyCredentialCreationOptionsJSON, c: CreateOptions): RegistrationResponseJSON {
    const rpId = options.rp.id!;
    for (const excluded of options.excludeCredentials ?? []) {
      if (this.credentials.some((k) => k.id === excluded.id && k.rpId === rpId)) throw new Error('InvalidStateError: this authenticator already holds an excluded credential');
    }
    if (!options.pubKeyCredParams.some((p) => p.alg === ES256)) throw new Error('NotSupportedError: ES256 not offered');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const rawId = Buffer.from(c.credentialId ?? randomBytes(32));
    const credential: SoftCredential = {
      id: b64u(rawId),
      rpId,
      userHandle: options.user.id,
      privateKey,
      cosePublicKey: coseKey(publicKey),
      signCount: c.initialCounter ?? 0,
    };
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(rawId.length);
    const authData = Buffer.concat([
      sha256(c.rpId ?? rpId),
      Uint8Array.of(this.flags(c, FLAG.AT)),
      u32(credential.signCount),
      this.aaguid,
      idLength,
      rawId,
      credential.cosePublicKey,
    ]);
    const attestationObject = encodeCbor(
      cborMap([
        ['fmt', 'none'],
        ['attStmt', cborMap([])],
        ['authData', authData],
      ]),
    );
    this.credentials.push(credential);
    const id = c.reportedId ?? credential.id;
    return {
      id,
      rawId: id,
      type: 'public-key',
      response: { clientDataJSON: b64u(this.clientData('webauthn.create', options.challenge, c)), attestationObject: b64u(attestationObject), transports: [...this.transports] },
      clientExtensionResults: {},
      authenticatorAttachment: this.transports.includes('internal') ? 'platform' : 'cross-platform',
    };
  }

  /** navigator.credentials.get(): an assertion signed by one of this authenticator's credentials. */
  get(options: PublicKeyCredentialRequestOptionsJSON, c: GetOptions): AuthenticationResponseJSON {
    const rpId = options.rpId!;
    const allowed = (options.allowCredentials ?? []).map((a) => a.id);
    const credential =
      c.credentialId !== undefined
        ? this.credentials.find((k) => k.id === c.credentialId)
        : this.credentials.find((k) => k.rpId === rpId && (allowed.length === 0 ? this.discoverable : allowed.includes(k.id)));
    if (!credential) throw new Error('NotAllowedError: no credential of this authenticator is allowed');
    if (c.counter !== undefined) credential.signCount = c.counter;
    else if (this.counts) credential.signCount += 1;
    const authData = Buffer.concat([sha256(c.rpId ?? rpId), Uint8Array.of(this.flags(c, 0)), u32(credential.signCount)]);
    const clientDataJSON = this.clientData('webauthn.get', options.challenge, c);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), c.signWith ?? credential.privateKey);
    const userHandle = c.userHandle === undefined ? (this.discoverable ? credential.userHandle : undefined) : (c.userHandle ?? undefined);
    return {
      id: credential.id,
      rawId: credential.id,
      type: 'public-key',
      response: {
        clientDataJSON: b64u(clientDataJSON),
        authenticatorData: b64u(authData),
        signature: b64u(signature),
        ...(userHandle === undefined ? {} : { userHandle }),
      },
      clientExtensionResults: {},
      authenticatorAttachment: this.transports.includes('internal') ? 'platform' : 'cross-platform',
    };
  }
}

/** A fresh P-256 private key: signs with the wrong key. */
export function strayKey(): KeyObject {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
}
