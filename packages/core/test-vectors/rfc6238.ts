// packages/core/test-vectors/rfc6238.ts
// RFC 6238 Appendix B — TOTP test values (T0 = 0, X = 30, 8 digits), verbatim, with the
// per-algorithm seeds of the Appendix A reference code (see the RFC 6238 erratum: SHA-256 and
// SHA-512 use 32- and 64-byte seeds). https://www.rfc-editor.org/rfc/rfc6238#appendix-B
import type { TotpAlgorithm } from '../src/factors/totp/totp';

export const RFC6238_SEEDS: Record<TotpAlgorithm, string> = {
  SHA1: '12345678901234567890',
  SHA256: '12345678901234567890123456789012',
  SHA512: '1234567890123456789012345678901234567890123456789012345678901234',
};

/** Base32 (unpadded) of the seeds, for otpauth-level tests. */
export const RFC6238_SEEDS_BASE32: Record<TotpAlgorithm, string> = {
  SHA1: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ',
  SHA256: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA',
  SHA512: 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNA',
};

export interface TotpVector {
  title: string;
  timeSeconds: number;
  utc: string;
  /** Value of T, hex. */
  stepHex: string;
  totp: string;
  algorithm: TotpAlgorithm;
}

const rows: [number, string, string, string, TotpAlgorithm][] = [
  [59, '1970-01-01 00:00:59', '0000000000000001', '94287082', 'SHA1'],
  [59, '1970-01-01 00:00:59', '0000000000000001', '46119246', 'SHA256'],
  [59, '1970-01-01 00:00:59', '0000000000000001', '90693936', 'SHA512'],
  [1111111109, '2005-03-18 01:58:29', '00000000023523EC', '07081804', 'SHA1'],
  [1111111109, '2005-03-18 01:58:29', '00000000023523EC', '68084774', 'SHA256'],
  [1111111109, '2005-03-18 01:58:29', '00000000023523EC', '25091201', 'SHA512'],
  [1111111111, '2005-03-18 01:58:31', '00000000023523ED', '14050471', 'SHA1'],
  [1111111111, '2005-03-18 01:58:31', '00000000023523ED', '67062674', 'SHA256'],
  [1111111111, '2005-03-18 01:58:31', '00000000023523ED', '99943326', 'SHA512'],
  [1234567890, '2009-02-13 23:31:30', '000000000273EF07', '89005924', 'SHA1'],
  [1234567890, '2009-02-13 23:31:30', '000000000273EF07', '91819424', 'SHA256'],
  [1234567890, '2009-02-13 23:31:30', '000000000273EF07', '93441116', 'SHA512'],
  [2000000000, '2033-05-18 03:33:20', '0000000003F940AA', '69279037', 'SHA1'],
  [2000000000, '2033-05-18 03:33:20', '0000000003F940AA', '90698825', 'SHA256'],
  [2000000000, '2033-05-18 03:33:20', '0000000003F940AA', '38618901', 'SHA512'],
  [20000000000, '2603-10-11 11:33:20', '0000000027BC86AA', '65353130', 'SHA1'],
  [20000000000, '2603-10-11 11:33:20', '0000000027BC86AA', '77737706', 'SHA256'],
  [20000000000, '2603-10-11 11:33:20', '0000000027BC86AA', '47863826', 'SHA512'],
];

export const RFC6238_VECTORS: TotpVector[] = rows.map(([timeSeconds, utc, stepHex, totp, algorithm]) => ({
  title: `RFC 6238 Appendix B, ${algorithm} at ${timeSeconds} s (${utc})`, timeSeconds, utc, stepHex, totp, algorithm,
}));
