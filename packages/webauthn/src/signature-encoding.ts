// packages/webauthn/src/signature-encoding.ts
// ECDSA signatures in WebAuthn are DER: SEQUENCE { INTEGER r, INTEGER s }. The library's ASN.1 parser
// accepts some other encodings of the same (r, s) — another outer tag, a shorter outer length — so one
// signature has several accepted byte forms. Not a forgery (r and s are the signer's), but an
// assertion should have exactly one accepted form: this check admits DER's structure only.
import { decodeCredentialPublicKey } from '@simplewebauthn/server/helpers';

/** COSE key type EC2 (RFC 9053): ES256, ES384, ES512 keys, whose signatures are DER. */
const COSE_KTY = 1;
const COSE_KTY_EC2 = 2;

/** True for the COSE public key of an ECDSA credential. Throws on a key that is not a COSE map. */
export function isEcdsaKey(cosePublicKey: Uint8Array<ArrayBuffer>): boolean {
  const key: unknown = decodeCredentialPublicKey(cosePublicKey);
  if (!(key instanceof Map)) throw new Error('credential public key is not a COSE map');
  return key.get(COSE_KTY) === COSE_KTY_EC2;
}

/** True when `signature` is exactly one DER SEQUENCE of two INTEGERs, with no byte before, between or after them. */
export function isDerEcdsaSignature(signature: Uint8Array): boolean {
  if (signature.length < 8 || signature[0] !== 0x30) return false;
  let i = 1;
  let length = signature[i++]!;
  if (length === 0x81) {
    // Long form, one length byte (P-521 signatures): only for lengths that need it.
    length = signature[i++] ?? 0;
    if (length < 0x80) return false;
  } else if (length > 0x7f) {
    return false;
  }
  if (i + length !== signature.length) return false;
  for (let k = 0; k < 2; k++) {
    if (signature[i++] !== 0x02) return false;
    const n = signature[i++] ?? 0;
    if (n === 0 || n > 0x7f) return false;
    i += n;
    if (i > signature.length) return false;
  }
  return i === signature.length;
}
